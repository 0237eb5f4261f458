using CatchUp.IO;
using Xunit;

namespace CatchUp.Tests.IO;

public class AtomicWriteTests
{
    [Fact]
    public void SuccessfulWriteLeavesOnlyTheTargetFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("m.safetensors");

        SafetensorsFile.Write(path, [new("w", new HostTensor([2], [1f, 2f]))]);

        Assert.Equal(["m.safetensors"], dir.FileNames());
    }

    [Fact]
    public void ExistingFileIsReplacedOnSuccess()
    {
        using var dir = new TempDirectory();
        string path = dir.File("m.safetensors");
        SafetensorsFile.Write(path, [new("old", new HostTensor([1], [1f]))]);

        SafetensorsFile.Write(path, [new("new", new HostTensor([1], [2f]))]);

        Assert.Equal(["new"], SafetensorsFile.Read(path).Tensors.Keys);
        Assert.Equal(["m.safetensors"], dir.FileNames());
    }

    [Fact]
    public void FailureWhileWritingKeepsTheOldFileAndRemovesTheTempFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("m.safetensors");
        SafetensorsFile.Write(path, [new("old", new HostTensor([1], [1f]))]);
        byte[] original = File.ReadAllBytes(path);

        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write(new byte[4096]);
            Assert.Equal(2, dir.FileNames().Length); // the temp file exists next to the target while writing
            Assert.StartsWith("m.safetensors.tmp-", dir.FileNames()[1]);
            throw new InvalidOperationException("disk on fire");
        }));

        Assert.Equal(original, File.ReadAllBytes(path));
        Assert.Equal(["m.safetensors"], dir.FileNames());
    }

    [Fact]
    public void InvalidArgumentsNeverTouchTheExistingFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("m.safetensors");
        SafetensorsFile.Write(path, [new("old", new HostTensor([1], [1f]))]);
        byte[] original = File.ReadAllBytes(path);

        Assert.Throws<ArgumentException>(() => SafetensorsFile.Write(path, [new("a", new HostTensor(1)), new("a", new HostTensor(1))]));

        Assert.Equal(original, File.ReadAllBytes(path));
        Assert.Equal(["m.safetensors"], dir.FileNames());
    }

    [Fact]
    public void MissingDirectoryIsAnIOExceptionAndCreatesNothing()
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "no-such-dir", "m.safetensors");

        Assert.Throws<DirectoryNotFoundException>(() => SafetensorsFile.Write(path, [new("w", new HostTensor(1))]));
        Assert.Empty(dir.FileNames());
    }
}
