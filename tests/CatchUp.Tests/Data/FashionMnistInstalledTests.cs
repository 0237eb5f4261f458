using CatchUp.Data;
using Xunit;
using Xunit.Abstractions;

namespace CatchUp.Tests.Data;

/// <summary>Loads the real Fashion-MNIST training set from Debian's dataset-fashion-mnist package (see <see cref="InstalledFashionMnist"/>).</summary>
public class FashionMnistInstalledTests(ITestOutputHelper output)
{
    [Fact]
    public void RealTrainingSetHas60000LabelledImages()
    {
        if (!InstalledFashionMnist.Available(output)) return;

        ImageDataset train = ImageDataset.Load(null, DatasetKind.FashionMnist, train: true);

        Assert.Equal([60000, 1, 28, 28], train.Shape);
        Assert.Equal(Enumerable.Range(0, 10), train.Labels.Distinct().Order());
        Assert.Equal(-1f, train.Images.Min());
        Assert.Equal(1f, train.Images.Max());
        Assert.Equal(DatasetKind.FashionMnist, ImageDataset.Detect(ImageDataset.DefaultFashionMnistDirectory));
    }
}
