using System.Diagnostics;
using System.Text;
using CatchUp.IO;
using Xunit;

namespace CatchUp.Tests.IO;

public class SafetensorsMalformedTests
{
    private static readonly byte[] EightBytes = SafetensorsBytes.F32(1f, 2f);

    private static string Entry(string dtype, string shape, string offsets) =>
        $$"""{"dtype":"{{dtype}}","shape":{{shape}},"data_offsets":{{offsets}}}""";

    private static (string Header, string Expected, string? Tensor) Case(string header, string expected, string? tensor = "x") =>
        (header, expected, tensor);

    /// <summary>Header JSON over an 8-byte data section, expected message fragment, tensor named in the message (or null).</summary>
    public static TheoryData<string, string, string?> MalformedHeaders()
    {
        var cases = new List<(string Header, string Expected, string? Tensor)>
        {
            Case("", "header is not valid JSON", null),
            Case("{\"x\":", "header is not valid JSON", null),
            Case("[1,2]", "header must be a JSON object, found an array", null),
            Case("\"x\"", "header must be a JSON object, found a string", null),
            Case("""{"x":[1,2]}""", "entry must be an object"),
            Case("""{"x":{"shape":[2],"data_offsets":[0,8]}}""", "missing field 'dtype'"),
            Case("""{"x":{"dtype":"F32","data_offsets":[0,8]}}""", "missing field 'shape'"),
            Case("""{"x":{"dtype":"F32","shape":[2]}}""", "missing field 'data_offsets'"),
            Case("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}}""", "unknown field 'extra'"),
            Case("""{"x":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", "duplicate field 'dtype'"),
            Case($$"""{"x":{{Entry("F32", "[2]", "[0,8]")}},"x":{{Entry("F32", "[2]", "[0,8]")}}}""", "duplicate key in header: tensor 'x'", null),
            Case("""{"__metadata__":{},"__metadata__":{}}""", "duplicate key in header: '__metadata__'", null),
            Case("""{"__metadata__":{"k":"a","k":"b"}}""", "duplicate key in '__metadata__': 'k'", null),
            Case("""{"__metadata__":[]}""", "'__metadata__' must be an object of strings", null),
            Case("""{"__metadata__":{"step":12}}""", "'__metadata__' value for 'step' must be a string", null),
            Case("""{"x":{"dtype":32,"shape":[2],"data_offsets":[0,8]}}""", "'dtype' must be a string"),
            Case($$"""{"x":{{Entry("I32", "[1]", "[0,4]")}}}""", "unsupported dtype 'I32'"),
            Case($$"""{"x":{{Entry("BOOL", "[8]", "[0,8]")}}}""", "unsupported dtype 'BOOL'"),
            Case($$"""{"x":{{Entry("I8", "[8]", "[0,8]")}}}""", "unsupported dtype 'I8'"),
            Case($$"""{"x":{{Entry("F32", "\"2\"", "[0,8]")}}}""", "'shape' must be an array of non-negative integers, found a string"),
            Case($$"""{"x":{{Entry("F32", "[2.5]", "[0,8]")}}}""", "element 0 is 2.5"),
            Case($$"""{"x":{{Entry("F32", "[null]", "[0,8]")}}}""", "element 0 is null"),
            Case($$"""{"x":{{Entry("F32", "[-2]", "[0,8]")}}}""", "negative dimension -2"),
            Case($$"""{"x":{{Entry("F32", "[99999999999]", "[0,8]")}}}""", "larger than an array can hold"),
            Case($$"""{"x":{{Entry("F32", "[65536,65536,65536]", "[0,8]")}}}""", "more elements than an array can hold"),
            Case($$"""{"x":{{Entry("F32", "[2]", "[0]")}}}""", "'data_offsets' must be an array of two non-negative integers"),
            Case($$"""{"x":{{Entry("F32", "[2]", "[0,4,8]")}}}""", "'data_offsets' must be an array of two non-negative integers"),
            Case($$"""{"x":{{Entry("F32", "[2]", "{}")}}}""", "'data_offsets' must be an array of two non-negative integers"),
            Case($$"""{"x":{{Entry("F32", "[2]", "[\"0\",8]")}}}""", "data_offsets begin must be a non-negative integer, found \"0\""),
            Case($$"""{"x":{{Entry("F32", "[2]", "[0,8.0]")}}}""", "data_offsets end must be a non-negative integer, found 8.0"),
            Case($$"""{"x":{{Entry("F32", "[2]", "[-8,0]")}}}""", "data_offsets begin must be a non-negative integer, found -8"),
            Case($$"""{"x":{{Entry("F32", "[0]", "[8,0]")}}}""", "data_offsets begin 8 is greater than end 0"),
            Case($$"""{"x":{{Entry("F32", "[4]", "[0,16]")}}}""", "data_offsets end 16 is beyond the data section (8 bytes)"),
            Case($$"""{"x":{{Entry("F32", "[1]", "[0,99999999999999]")}}}""", "is beyond the data section"),
            Case($$"""{"x":{{Entry("F32", "[3]", "[0,8]")}}}""", "data_offsets cover 8 bytes but shape [3] of F32 needs 12"),
            Case($$"""{"x":{{Entry("F16", "[2]", "[0,8]")}}}""", "data_offsets cover 8 bytes but shape [2] of F16 needs 4"),
            Case($$"""{"a":{{Entry("F32", "[2]", "[0,8]")}},"x":{{Entry("F16", "[2]", "[4,8]")}}}""", "overlaps tensor 'a' at [0, 8)"),
            Case($$"""{"":{{Entry("F32", "[2]", "[0,8]")}}}""", "tensor with an empty name", null),
        };
        var data = new TheoryData<string, string, string?>();
        foreach ((string header, string expected, string? tensor) in cases) data.Add(header, expected, tensor);
        return data;
    }

    [Theory]
    [MemberData(nameof(MalformedHeaders))]
    public void MalformedHeaderIsRejectedWithFileAndProblem(string header, string expected, string? tensor)
    {
        using var dir = new TempDirectory();
        string path = dir.File("bad.safetensors");
        File.WriteAllBytes(path, SafetensorsBytes.Build(header, EightBytes));

        var e = Assert.Throws<SafetensorsException>(() => SafetensorsFile.Read(path));

        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.Equal(path, e.FilePath);
        Assert.Equal(tensor, e.TensorName);
        if (tensor is not null) Assert.Contains($"tensor '{tensor}'", e.Message);
    }

    private static SafetensorsException ReadBytes(TempDirectory dir, byte[] bytes, string name = "bad.safetensors")
    {
        string path = dir.File(name);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<SafetensorsException>(() => SafetensorsFile.Read(path));
        Assert.StartsWith(path + ": ", e.Message);
        Assert.IsAssignableFrom<InvalidDataFileException>(e);
        return e;
    }

    [Fact]
    public void MissingFileIsASafetensorsException()
    {
        using var dir = new TempDirectory();
        string path = dir.File("nope.safetensors");
        var e = Assert.Throws<SafetensorsException>(() => SafetensorsFile.Read(path));
        Assert.Equal($"{path}: file not found", e.Message);
    }

    [Fact]
    public void DirectoryIsRejected()
    {
        using var dir = new TempDirectory();
        var e = Assert.Throws<SafetensorsException>(() => SafetensorsFile.Read(dir.Path));
        Assert.Contains("is a directory", e.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    public void FileShorterThanTheLengthPrefix(int length)
    {
        using var dir = new TempDirectory();
        var e = ReadBytes(dir, new byte[length]);
        Assert.Contains($"file is {length} bytes, too short", e.Message);
    }

    [Fact]
    public void HeaderLengthBeyondEndOfFile()
    {
        using var dir = new TempDirectory();
        var e = ReadBytes(dir, [.. SafetensorsBytes.Prefix(9), .. "{}      "u8]);
        Assert.Contains("header length 9 exceeds the 8 bytes after the length prefix", e.Message);
    }

    [Fact]
    public void HugeClaimedHeaderLengthOnATinyFileFailsFastWithoutAllocating()
    {
        using var dir = new TempDirectory();
        string path = dir.File("huge.safetensors");
        File.WriteAllBytes(path, [.. SafetensorsBytes.Prefix(ulong.MaxValue - 3), .. "{}"u8]);
        Assert.Throws<SafetensorsException>(() => SafetensorsFile.Read(path)); // warm up JIT

        var stopwatch = Stopwatch.StartNew();
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<SafetensorsException>(() => SafetensorsFile.Read(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Contains("exceeds the 2 bytes after the length prefix", e.Message);
        Assert.True(allocated < 64 * 1024, $"allocated {allocated} bytes");
        Assert.True(stopwatch.ElapsedMilliseconds < 1000, $"took {stopwatch.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void HeaderOverTheSizeLimitIsRejectedBeforeReadingIt()
    {
        using var dir = new TempDirectory();
        string path = dir.File("big.safetensors");
        const long claimed = SafetensorsFile.MaxHeaderBytes + 1;
        using (var stream = new FileStream(path, FileMode.CreateNew))
        {
            stream.Write(SafetensorsBytes.Prefix((ulong)claimed));
            stream.SetLength(8 + claimed + 16); // sparse on most file systems, so this stays cheap
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<SafetensorsException>(() => SafetensorsFile.Read(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Contains($"header length {claimed} exceeds the {SafetensorsFile.MaxHeaderBytes}-byte limit", e.Message);
        Assert.True(allocated < 1024 * 1024, $"allocated {allocated} bytes");
    }

    [Fact]
    public void HeaderThatIsNotUtf8()
    {
        using var dir = new TempDirectory();
        byte[] header = [.. "{\"a"u8, 0xFF, .. "\":1}"u8];
        var e = ReadBytes(dir, SafetensorsBytes.BuildRaw(header, []));
        Assert.Contains("header is not valid UTF-8", e.Message);
    }

    [Fact]
    public void TruncatedDataSection()
    {
        using var dir = new TempDirectory();
        string header = """{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}""";
        byte[] full = SafetensorsBytes.Build(header, SafetensorsBytes.F32(1, 2, 3, 4));
        var e = ReadBytes(dir, full[..^5]);
        Assert.Contains("tensor 'w': data_offsets end 16 is beyond the data section (11 bytes): the file is truncated", e.Message);
    }

    [Fact]
    public void MessageNamesTheFileEvenForRelativePaths()
    {
        using var dir = new TempDirectory();
        string name = "relative-" + Guid.NewGuid().ToString("N") + ".safetensors";
        string previous = Environment.CurrentDirectory;
        File.WriteAllBytes(dir.File(name), Encoding.UTF8.GetBytes("abc"));
        string relative = Path.GetRelativePath(previous, dir.File(name));
        var e = Assert.Throws<SafetensorsException>(() => SafetensorsFile.Read(relative));
        Assert.Contains(name, e.Message);
    }
}
