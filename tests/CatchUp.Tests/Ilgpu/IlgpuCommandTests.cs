using System.Text.Json;
using CatchUp.IO;
using CatchUp.Tests.Cuda;
using CatchUp.Tests.Cli;
using CatchUp.Training;
using Xunit;

namespace CatchUp.Tests.Ilgpu;

/// <summary><c>--device ilgpu*</c> as a user runs it (real processes): device choice, a clear error for an absent
/// accelerator, and training end to end on ILGPU's CPU accelerator.</summary>
public sealed class IlgpuCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("catchup-ilgpu-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var r = CatchUpProcess.Run(args);
        return (r.Exit, r.Stdout, r.Stderr);
    }

    private string TinyModel() => TinyRunFiles.WriteModel(_dir, attention: true);

    [Fact]
    public void IlgpuSaysWhichAcceleratorItPickedAndTheBenchReportsIt()
    {
        var (exit, output, err) = Run("bench", "unet", "--model", TinyModel(), "--batch", "2", "--steps", "1", "--device", "ilgpu");
        Assert.True(exit == 0, err);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("device: ilgpu (", lines[0]);
        using var json = JsonDocument.Parse(lines[^1]);
        Assert.StartsWith("ilgpu (", json.RootElement.GetProperty("backend").GetString());
    }

    [NoGpuFact]
    public void ExplicitIlgpuCudaWithoutAGpuIsOneClearLineAndExitCode1()
    {
        var (exit, output, err) = Run("bench", "unet", "--model", TinyModel(), "--batch", "2", "--steps", "1", "--device", "ilgpu-cuda");
        Assert.Equal(1, exit);
        Assert.Equal("catchup: error: --device ilgpu-cuda: ILGPU finds no CUDA GPU", err.Trim());
        Assert.DoesNotContain("bench unet:", output);
    }

    [Fact]
    public void TrainingOnTheCpuAcceleratorFollowsTheCpuBackend()
    {
        string data = TinyRunFiles.WriteMnist(_dir, 32);
        string config = Path.Combine(_dir, "config.json");
        File.WriteAllText(config, """{ "training": { "grid_samples": 2 } }""");
        string model = TinyModel();
        string Train(string device)
        {
            string run = Path.Combine(_dir, device);
            var (exit, output, err) = Run("train", "--model", model, "--config", config, "--data", data, "--dataset", "mnist",
                "--iterations", "1", "--batch", "2", "--log-every", "1", "--checkpoint-every", "1", "--sample-every", "1000",
                "--threads", "1", "--seed", "3", "--out", run, "--device", device);
            Assert.True(exit == 0, output + err);
            Assert.StartsWith(device == "cpu" ? "device: cpu" : "device: ilgpu (CPU accelerator", output);
            return run;
        }
        string cpu = Train("cpu"), ilgpu = Train("ilgpu-cpu");

        static double[] Losses(string run) => File.ReadAllLines(Path.Combine(run, "metrics.jsonl"))
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("loss").GetDouble()).ToArray();
        var (lossCpu, lossIlgpu) = (Losses(cpu), Losses(ilgpu));
        Assert.Single(lossCpu);
        Assert.Single(lossIlgpu);
        for (int i = 0; i < lossCpu.Length; i++) Assert.True(Math.Abs(lossCpu[i] - lossIlgpu[i]) <= 1e-3 * Math.Abs(lossCpu[i]), $"loss {i}: {lossCpu[i]} vs {lossIlgpu[i]}");

        var expected = SafetensorsFile.Read(Checkpoint.PathIn(cpu)).Tensors;
        var actual = SafetensorsFile.Read(Checkpoint.PathIn(ilgpu)).Tensors;
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, e) in expected)
        {
            var a = actual[name];
            double scale = Math.Max(1e-6, e.Data.Max(v => Math.Abs(v)));
            double worst = e.Data.Zip(a.Data, (x, y) => Math.Abs(x - y)).Max() / scale;
            Assert.True(worst <= 1e-3, $"{name}: relative difference {worst:E2}");
        }
        Assert.True(Directory.EnumerateFiles(Path.Combine(ilgpu, "samples"), "*.png").Any());
    }
}
