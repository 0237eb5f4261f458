using CatchUp.Data;
using CatchUp.IO;
using CatchUp.Tests.IO;
using Xunit;

namespace CatchUp.Tests.Data;

public class IdxReaderTests
{
    private static readonly byte[] ThreeImages = DataFiles.Images(3, 2, 4, i => (byte)(i * 10));

    [Theory]
    [InlineData(false, "images-idx3-ubyte")]
    [InlineData(true, "images-idx3-ubyte.gz")]
    [InlineData(true, "images-idx3-ubyte")] // gzip is recognised by its magic bytes, not the name
    public void ImagesRoundTrip(bool gzip, string name)
    {
        using var dir = new TempDirectory();
        string path = dir.File(name);
        File.WriteAllBytes(path, gzip ? DataFiles.Gzip(ThreeImages) : ThreeImages);

        IdxArray images = IdxReader.ReadImages(path);

        Assert.Equal([3, 2, 4], images.Dimensions);
        Assert.Equal(3, images.Count);
        Assert.Equal(Enumerable.Range(0, 24).Select(i => (byte)(i * 10)), images.Data);
    }

    [Fact]
    public void LabelsRoundTrip()
    {
        using var dir = new TempDirectory();
        string path = dir.File("labels.gz");
        File.WriteAllBytes(path, DataFiles.Gzip(DataFiles.Labels(7, 0, 9, 3)));

        IdxArray labels = IdxReader.ReadLabels(path);

        Assert.Equal([4], labels.Dimensions);
        Assert.Equal(new byte[] { 7, 0, 9, 3 }, labels.Data);
    }

    [Fact]
    public void LargeGzipPayloadIsReadAcrossBufferGrowth()
    {
        using var dir = new TempDirectory();
        string path = dir.File("big.gz");
        byte[] file = DataFiles.Images(30, 200, 300, i => (byte)(i * 31 >> 3)); // 1.8 MB, past the 1 MiB initial buffer
        File.WriteAllBytes(path, DataFiles.Gzip(file));

        Assert.Equal(file.AsSpan(16).ToArray(), IdxReader.ReadImages(path).Data);
    }

    public static TheoryData<string, byte[], string> Malformed() => new()
    {
        { "wrong magic", DataFiles.Labels(1, 2), "wrong magic number 0x00000801, expected 0x00000803" },
        { "wrong magic gz", DataFiles.Gzip(DataFiles.Idx(0x0d03, [1, 1, 1], [0, 0, 0, 0])), "wrong magic number 0x00000d03" },
        { "too short for magic", [0, 0, 8], "ended inside the 4-byte IDX magic" },
        { "header cut", DataFiles.Idx(0x803, [1], []), "ended inside the header (dimension 1 of 3)" },
        { "zero dim", DataFiles.Idx(0x803, [0, 28, 28], []), "dimension 0 is zero" },
        { "absurd dims", DataFiles.Idx(0x803, [60000, 28000, 28000], []), "exceed the 100000000-element limit" },
        { "absurd dims gz", DataFiles.Gzip(DataFiles.Idx(0x803, [-1, -1, -1], [])), "exceed the 100000000-element limit" },
        { "truncated", ThreeImages[..^5], "truncated: header [3, 2, 4] promises 24 payload bytes but the file has 19" },
        { "truncated gz", DataFiles.Gzip(ThreeImages[..^5]), "truncated: header [3, 2, 4] promises 24 payload bytes but the decompressed data has 19" },
        { "lying header gz", DataFiles.Gzip(DataFiles.Idx(0x803, [1000, 1000, 100], [1, 2, 3])), "promises 100000000 payload bytes but the decompressed data has 3" },
        { "trailing", [.. ThreeImages, 1, 2], "2 unexpected trailing bytes after the 24-byte payload" },
        { "trailing gz", DataFiles.Gzip([.. ThreeImages, 1]), "unexpected trailing bytes after the 24-byte payload" },
        { "bad gzip", CorruptGzip(), "corrupted gzip stream" },
        { "empty", [], "ended inside the 4-byte IDX magic" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void MalformedFilesNameTheFileAndTheProblem(string caseName, byte[] content, string expected)
    {
        using var dir = new TempDirectory();
        string path = dir.File("case-" + caseName.Replace(' ', '_'));
        File.WriteAllBytes(path, content);

        var e = Assert.Throws<InvalidDataFileException>(() => IdxReader.ReadImages(path));

        Assert.Equal(path, e.FilePath);
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains(expected, e.Problem);
    }

    [Fact]
    public void MissingFileIsReported()
    {
        using var dir = new TempDirectory();
        string path = dir.File("nope-idx1-ubyte");

        var e = Assert.Throws<InvalidDataFileException>(() => IdxReader.ReadLabels(path));

        Assert.Equal($"{path}: file not found", e.Message);
    }

    [Fact]
    public void DirectoryIsNotAFile()
    {
        using var dir = new TempDirectory();

        var e = Assert.Throws<InvalidDataFileException>(() => IdxReader.ReadLabels(dir.Path));

        Assert.Contains("is a directory", e.Message);
    }

    [Fact]
    public void MagicMustDescribeAnUnsignedByteArray()
    {
        Assert.Throws<ArgumentException>(() => IdxReader.Read("x", 0x0d03));
        Assert.Throws<ArgumentException>(() => IdxReader.Read("x", 0x0800));
    }

    private static byte[] CorruptGzip()
    {
        byte[] gz = DataFiles.Gzip(DataFiles.Images(4, 8, 8, i => (byte)(i * 37)));
        for (int i = 10; i < gz.Length - 8; i++) gz[i] ^= 0x5a; // keep the gzip header, garble the deflate data
        return gz;
    }
}
