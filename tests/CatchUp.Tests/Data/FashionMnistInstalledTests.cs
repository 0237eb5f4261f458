using CatchUp.Data;
using Xunit;
using Xunit.Abstractions;

namespace CatchUp.Tests.Data;

/// <summary>
/// Loads the real Fashion-MNIST training set from Debian's dataset-fashion-mnist package. Under CI=true the package
/// must be installed; elsewhere the test passes with a note when it is absent (xunit 2 has no runtime skip).
/// </summary>
public class FashionMnistInstalledTests(ITestOutputHelper output)
{
    [Fact]
    public void RealTrainingSetHas60000LabelledImages()
    {
        if (!Directory.Exists(ImageDataset.DefaultFashionMnistDirectory))
        {
            Assert.False(string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase),
                $"CI=true but {ImageDataset.DefaultFashionMnistDirectory} is missing: apt-get install dataset-fashion-mnist");
            output.WriteLine($"not checked: {ImageDataset.DefaultFashionMnistDirectory} is absent (apt-get install dataset-fashion-mnist)");
            return;
        }

        ImageDataset train = ImageDataset.Load(null, DatasetKind.FashionMnist, train: true);

        Assert.Equal([60000, 1, 28, 28], train.Shape);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (byte)i), train.Labels.Distinct().Order());
        Assert.Equal(-1f, train.Images.Min());
        Assert.Equal(1f, train.Images.Max());
        Assert.Equal(DatasetKind.FashionMnist, ImageDataset.Detect(ImageDataset.DefaultFashionMnistDirectory));
    }
}
