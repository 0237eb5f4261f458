using System.Text.Json;
using CatchUp.Backends.Cuda;
using CatchUp.Tests.Cuda;
using Xunit;

namespace CatchUp.Tests.Cli;

/// <summary><c>--device</c> and <c>catchup selftest</c> as a user runs them (real processes).</summary>
public sealed class DeviceSelectionCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("catchup-device-cli-").FullName;
    private static readonly bool HasGpu = CudaProbe.TryFindDevice(0, out _, out _);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var r = CatchUpProcess.Run(args);
        return (r.Exit, r.Stdout, r.Stderr);
    }

    private string TinyModel() => TinyRunFiles.WriteModel(_dir);

    [Fact]
    public void AutoSaysWhichDeviceItPickedAndTheBenchReportsIt()
    {
        var (exit, output, err) = Run("bench", "train-step", "--model", TinyModel(), "--batch", "2", "--steps", "1", "--threads", "1", "--device", "auto");
        Assert.True(exit == 0, err);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith(HasGpu ? "device: cuda (" : "device: cpu (", lines[0]);
        using var json = JsonDocument.Parse(lines[^1]);
        Assert.StartsWith(HasGpu ? "cuda" : "cpu", json.RootElement.GetProperty("backend").GetString());
    }

    [NoGpuFact]
    public void ExplicitCudaWithoutAGpuIsOneClearLineAndExitCode1()
    {
        var (exit, output, err) = Run("bench", "unet", "--model", TinyModel(), "--batch", "2", "--steps", "1", "--device", "cuda");
        Assert.Equal(1, exit);
        Assert.StartsWith("catchup: error: --device cuda: no CUDA GPU (", err.Trim());
        Assert.Single(err.Trim().Split('\n'));
        Assert.DoesNotContain("bench unet:", output);
    }

    [Fact]
    public void SelftestRejectsAGoldenDirectoryWithoutTheFiles()
    {
        var (exit, _, err) = Run("selftest", "--device", "cpu", "--golden", _dir);
        Assert.Equal(1, exit);
        Assert.Contains($"--golden {_dir}: no songunet_small.json there", err);
    }

    [Fact]
    public void AnUnknownDeviceIsAUsageError()
    {
        var (exit, _, err) = Run("bench", "unet", "--device", "tpu");
        Assert.Equal(1, exit);
        Assert.Contains("--device tpu: expected cpu, cuda or auto", err);
    }

    [Fact]
    public void SelftestRunsEveryCheckAndReportsJson()
    {
        string golden = Path.Combine(AppContext.BaseDirectory, "golden");
        var (exit, output, err) = Run("selftest", "--device", HasGpu ? "cuda" : "cpu", "--threads", "2", "--golden", golden);
        Assert.True(exit == 0, output + err);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        using var json = JsonDocument.Parse(lines[^1]);
        int checks = json.RootElement.GetProperty("checks").GetInt32();
        Assert.Equal(CatchUp.Backends.BackendConformance.Names.Count + 4, checks);   // + the four PyTorch golden groups
        Assert.Equal(golden, json.RootElement.GetProperty("golden").GetString());
        Assert.Equal(checks, json.RootElement.GetProperty("passed").GetInt32());
        Assert.Equal(checks, lines.Count(l => l.StartsWith("PASS ")));
    }

    [NoGpuFact]
    public void SelftestOnCudaWithoutAGpuFails()
    {
        var (exit, _, err) = Run("selftest", "--device", "cuda");
        Assert.Equal(1, exit);
        Assert.Contains("no CUDA GPU", err);
    }
}
