using CatchUp.Data;
using CatchUp.IO;
using CatchUp.Tests.IO;
using Xunit;

namespace CatchUp.Tests.Data;

public class Cifar10ReaderTests
{
    [Fact]
    public void TwoRecordsAreSplitIntoLabelsAndPlanes()
    {
        using var dir = new TempDirectory();
        string path = dir.File("data_batch_1.bin");
        File.WriteAllBytes(path, DataFiles.Cifar(3, 9));

        Cifar10Batch batch = Cifar10Reader.Read(path);

        Assert.Equal(2, batch.Count);
        Assert.Equal(new byte[] { 3, 9 }, batch.Labels);
        Assert.Equal(2 * 3072, batch.Pixels.Length);
        Assert.Equal(DataFiles.CifarPixel(0, 0), batch.Pixels[0]);            // record 0, R plane, (0, 0)
        Assert.Equal(DataFiles.CifarPixel(0, 1024 + 33), batch.Pixels[1024 + 33]); // record 0, G plane, (1, 1)
        Assert.Equal(DataFiles.CifarPixel(1, 2047), batch.Pixels[3072 + 2047]);
        Assert.Equal(DataFiles.CifarPixel(1, 3071), batch.Pixels[^1]);
    }

    public static TheoryData<string, byte[], string> Malformed() => new()
    {
        { "empty", [], "file is empty" },
        { "truncated", DataFiles.Cifar(1, 2)[..^1], "size 6145 bytes is not a multiple of the 3073-byte CIFAR-10 record" },
        { "extra byte", [.. DataFiles.Cifar(1), 0], "size 3074 bytes is not a multiple" },
        { "bad label", DataFiles.Cifar(1, 10), "record 1 (byte offset 3073) has label 10, expected 0..9" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void MalformedBatchesNameTheFileAndTheProblem(string caseName, byte[] content, string expected)
    {
        using var dir = new TempDirectory();
        string path = dir.File(caseName.Replace(' ', '_') + ".bin");
        File.WriteAllBytes(path, content);

        var e = Assert.Throws<InvalidDataFileException>(() => Cifar10Reader.Read(path));

        Assert.Equal(path, e.FilePath);
        Assert.Contains(expected, e.Problem);
    }

    [Fact]
    public void MissingFileIsReported()
    {
        using var dir = new TempDirectory();

        var e = Assert.Throws<InvalidDataFileException>(() => Cifar10Reader.Read(dir.File("test_batch.bin")));

        Assert.EndsWith("test_batch.bin: file not found", e.Message);
    }
}
