using System.Text.Json;
using CatchUp.IO;
using CatchUp.Migration;
using CatchUp.Tests.Cli;
using Xunit;
using static CatchUp.Tests.Migration.PthReaderTests;

namespace CatchUp.Tests.Migration;

/// <summary>
/// tests/golden/pth/hostile: pickles that call os.system / eval / exec / subprocess, unknown opcodes, deep nesting, huge
/// declared sizes, storages too short for their tensors, negative strides and offsets, truncated, zip-bombed, legacy and
/// non-PyTorch files, wrong dtypes. Each is refused with one line naming the file and the problem, exit code 1, without
/// running anything, with bounded memory, and without writing the run.
/// </summary>
[Collection("Console")]
public class HostileFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("catchup-hostile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static JsonElement Manifest => JsonDocument.Parse(File.ReadAllText(Pth(Path.Combine("hostile", "manifest.json")))).RootElement;

    public static TheoryData<string, string> Files()
    {
        var data = new TheoryData<string, string>();
        foreach (var entry in Manifest.GetProperty("files").EnumerateObject()) data.Add(entry.Name, entry.Value.GetString()!);
        return data;
    }

    [Fact]
    public void TheCorpusCoversEveryKindOfAttack()
    {
        var names = Files().Select(row => (string)row[0]).ToHashSet();
        Assert.True(names.Count >= 25, $"{names.Count} files");
        foreach (var expected in new[] { "os_system.pth", "builtins_eval.pth", "subprocess.pth", "unknown_opcode.pth", "deep_nesting.pth", "huge_size.pth",
                     "short_storage.pth", "negative_stride.pth", "truncated.pth", "zip_bomb.pth", "wrong_dtype.pth", "legacy.pth" })
            Assert.Contains(expected, names);
        Assert.All(names, n => Assert.True(File.Exists(Pth(Path.Combine("hostile", n))), n));
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void ImportRefusesTheFileWithOneLineNamingItAndItsProblem(string name, string problem)
    {
        string path = Pth(Path.Combine("hostile", name));
        string run = Path.Combine(_dir, "run");
        string marker = Manifest.GetProperty("marker").GetString()!;
        var (exit, stdout, stderr) = CliRunner.Run("import", "--pth", path, "--model", Pth("reference_de.json"), "--out", run);
        Assert.Equal(1, exit);
        Assert.Equal("", stdout);
        string line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => !l.Contains("warning:"));
        Assert.StartsWith($"catchup: error: {path}: ", line);
        Assert.Contains(problem, line);
        Assert.False(Directory.Exists(run));
        Assert.Empty(Directory.GetFileSystemEntries(_dir));
        Assert.False(File.Exists(marker) || File.Exists(Path.Combine(AppContext.BaseDirectory, marker)));
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void ReadingAllocatesBoundedMemory(string name, string problem)
    {
        string path = Pth(Path.Combine("hostile", name));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataFileException>(() => ReferenceCheckpoint.ReadFlow(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains(problem, e.Message);
        Assert.True(allocated < 4L << 20, $"{name}: {allocated:N0} bytes allocated");
    }
}
