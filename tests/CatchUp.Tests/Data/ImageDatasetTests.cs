using CatchUp.Data;
using CatchUp.IO;
using CatchUp.Tests.IO;
using Xunit;

namespace CatchUp.Tests.Data;

public class ImageDatasetTests
{
    [Fact]
    public void BytesScaleExactlyToMinusOneToOne()
    {
        Assert.Equal(-1f, ImageDataset.PixelToUnit(0));
        Assert.Equal(1f, ImageDataset.PixelToUnit(255));
        Assert.Equal(1f / 255f * 2f - 1f, ImageDataset.PixelToUnit(1), 6);
        Assert.Equal(0.5f / 127.5f, ImageDataset.PixelToUnit(128), 6);
        for (int b = 1; b < 256; b++) Assert.True(ImageDataset.PixelToUnit((byte)b) > ImageDataset.PixelToUnit((byte)(b - 1)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LoadsMnistStyleDirectory(bool gzip)
    {
        using var dir = new TempDirectory();
        DataFiles.WriteMnistDirectory(dir.Path, trainCount: 5, gzip);

        ImageDataset train = ImageDataset.Load(dir.Path, DatasetKind.Mnist, train: true);
        ImageDataset test = ImageDataset.Load(dir.Path, DatasetKind.Mnist, train: false);

        Assert.Equal([5, 1, 4, 3], train.Shape);
        Assert.Equal(new[] { 0, 1, 2, 3, 4 }, train.Labels);
        Assert.Equal([2, 1, 4, 3], test.Shape);
        Assert.Equal(new[] { 9, 0 }, test.Labels);
        Assert.Equal(Enumerable.Range(12, 12).Select(i => i / 127.5f - 1f), test.Image(1).ToArray());
        Assert.Equal(DatasetKind.Mnist, train.Kind);
        Assert.Equal([2, 1, 4, 3], test.ToHostTensor().Shape);
    }

    [Fact]
    public void AcceptsTheDottedFileNamesOfSomeMirrors()
    {
        using var dir = new TempDirectory();
        DataFiles.WriteMnistDirectory(dir.Path, trainCount: 3, gzip: false);
        File.Move(dir.File("t10k-images-idx3-ubyte"), dir.File("t10k-images.idx3-ubyte"));

        Assert.Equal(2, ImageDataset.Load(dir.Path, DatasetKind.FashionMnist, train: false).Count);
    }

    [Fact]
    public void LoadsCifarFromTheBatchesSubdirectory()
    {
        using var dir = new TempDirectory();
        string batches = Path.Combine(dir.Path, ImageDataset.CifarSubdirectory);
        Directory.CreateDirectory(batches);
        for (int i = 1; i <= 5; i++) File.WriteAllBytes(Path.Combine(batches, $"data_batch_{i}.bin"), DataFiles.Cifar((byte)i, (byte)(i - 1)));
        File.WriteAllBytes(Path.Combine(batches, "test_batch.bin"), DataFiles.Cifar(7));

        ImageDataset train = ImageDataset.Load(dir.Path, DatasetKind.Cifar10, train: true);
        ImageDataset test = ImageDataset.Load(dir.Path, DatasetKind.Cifar10, train: false);

        Assert.Equal([10, 3, 32, 32], train.Shape);
        Assert.Equal(new[] { 1, 0, 2, 1, 3, 2, 4, 3, 5, 4 }, train.Labels);
        Assert.Equal(DataFiles.CifarPixel(1, 5) / 127.5f - 1f, train.Image(3)[5]); // data_batch_2, record 1
        Assert.Equal([1, 3, 32, 32], test.Shape);
        Assert.Equal(DatasetKind.Cifar10, ImageDataset.Detect(dir.Path));
    }

    [Fact]
    public void MissingCifarBatchIsNamed()
    {
        using var dir = new TempDirectory();
        for (int i = 1; i <= 4; i++) File.WriteAllBytes(dir.File($"data_batch_{i}.bin"), DataFiles.Cifar(0));

        var e = Assert.Throws<InvalidDataFileException>(() => ImageDataset.Load(dir.Path, DatasetKind.Cifar10, train: true));

        Assert.Equal(dir.File("data_batch_5.bin"), e.FilePath);
        Assert.Equal("file not found", e.Problem);
    }

    [Fact]
    public void DirectoryWithoutCifarBatchesIsReported()
    {
        using var dir = new TempDirectory();

        var e = Assert.Throws<InvalidDataFileException>(() => ImageDataset.Load(dir.Path, DatasetKind.Cifar10, train: false));

        Assert.Equal(dir.Path, e.FilePath);
        Assert.Contains("no CIFAR-10 binary batches", e.Problem);
    }

    [Fact]
    public void MissingIdxFileIsNamed()
    {
        using var dir = new TempDirectory();
        DataFiles.WriteMnistDirectory(dir.Path, trainCount: 3, gzip: true);
        File.Delete(dir.File("train-labels-idx1-ubyte.gz"));

        var e = Assert.Throws<InvalidDataFileException>(() => ImageDataset.Load(dir.Path, DatasetKind.Mnist, train: true));

        Assert.Equal(dir.File("train-labels-idx1-ubyte"), e.FilePath);
        Assert.Contains("file not found (nor train-labels-idx1-ubyte.gz)", e.Problem);
    }

    [Fact]
    public void ImageAndLabelCountsMustAgree()
    {
        using var dir = new TempDirectory();
        DataFiles.WriteMnistDirectory(dir.Path, trainCount: 3, gzip: false);
        File.WriteAllBytes(dir.File("train-labels-idx1-ubyte"), DataFiles.Labels(1, 2));

        var e = Assert.Throws<InvalidDataFileException>(() => ImageDataset.Load(dir.Path, DatasetKind.Mnist, train: true));

        Assert.Equal("has 2 labels but train-images-idx3-ubyte has 3 images", e.Problem);
    }

    [Fact]
    public void LabelsAbove9AreRejected()
    {
        using var dir = new TempDirectory();
        DataFiles.WriteMnistDirectory(dir.Path, trainCount: 3, gzip: false);
        File.WriteAllBytes(dir.File("train-labels-idx1-ubyte"), DataFiles.Labels(1, 12, 2));

        var e = Assert.Throws<InvalidDataFileException>(() => ImageDataset.Load(dir.Path, DatasetKind.Mnist, train: true));

        Assert.Equal("label 1 is 12, expected 0..9", e.Problem);
    }

    [Fact]
    public void MissingDirectoryIsReported()
    {
        using var dir = new TempDirectory();
        string missing = dir.File("nothing-here");

        var e = Assert.Throws<InvalidDataFileException>(() => ImageDataset.Load(missing, DatasetKind.FashionMnist, train: true));

        Assert.Equal($"{missing}: Fashion-MNIST directory not found", e.Message);
    }

    [Fact]
    public void MnistHasNoDefaultLocation()
    {
        var e = Assert.Throws<InvalidDataFileException>(() => ImageDataset.Load(null, DatasetKind.Mnist, train: true));

        Assert.Contains("pass --data DIR", e.Message);
    }

    [Fact]
    public void DetectTellsMnistFromFashionMnist()
    {
        using var root = new TempDirectory();
        string digits = Path.Combine(root.Path, "digits");
        string clothes = Path.Combine(root.Path, "clothes");
        string named = Path.Combine(root.Path, "Fashion-MNIST");
        DataFiles.WriteMnistDirectory(digits, trainCount: 2, gzip: true, pixelBase: 0);    // mean pixel ~5
        DataFiles.WriteMnistDirectory(clothes, trainCount: 2, gzip: false, pixelBase: 100); // mean pixel ~105
        DataFiles.WriteMnistDirectory(named, trainCount: 2, gzip: false, pixelBase: 0);

        Assert.Equal(DatasetKind.Mnist, ImageDataset.Detect(digits));
        Assert.Equal(DatasetKind.FashionMnist, ImageDataset.Detect(clothes));
        Assert.Equal(DatasetKind.FashionMnist, ImageDataset.Detect(named));
        Assert.Null(ImageDataset.Detect(root.Path));
        Assert.Null(ImageDataset.Detect(Path.Combine(root.Path, "absent")));
    }

    [Fact]
    public void ConstructorRejectsMismatchedSizes()
    {
        Assert.Throws<ArgumentException>(() => new ImageDataset(DatasetKind.Mnist, new float[5], [0], 1, 2, 2, "x"));
        Assert.Throws<ArgumentException>(() => new ImageDataset(DatasetKind.Mnist, new float[4], [10], 1, 2, 2, "x"));
    }
}
