using System.Text.Json;
using CatchUp.Ablation;
using CatchUp.Backends.Cpu;
using CatchUp.Evaluation;
using CatchUp.Tests.Cli;
using CatchUp.Tests.Data;
using Xunit;
using Xunit.Abstractions;

namespace CatchUp.Tests.Ablation;

[Collection("Console")]
public class AblateCommandTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("catchup-ablate-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>An untrained small Fashion-MNIST classifier: enough to exercise the metrics end to end.</summary>
    private string Classifier()
    {
        string path = Path.Combine(_dir, "classifier.safetensors");
        using var backend = new CpuBackend(1);
        using var net = new ClassifierNetwork(new ClassifierConfig(1, 28, [8, 16], 10), backend);
        net.Parameters.Initialize(3);
        ClassifierFile.Save(path, net, "fashion-mnist", testAccuracy: 0.1);
        return path;
    }

    [Fact]
    public void TrainsEvaluatesAndWritesTheResultsThenRerunsWithoutRetraining()
    {
        if (!InstalledFashionMnist.Available(output)) return;
        string outDir = Path.Combine(_dir, "ablation");
        string[] args = ["ablate", "--out", outDir, "--iterations", "2", "--batch", "8", "--methods", "rf,cud-rk23", "--samples", "8",
            "--classifier", Classifier(), "--threads", "2", "--device", "cpu"];

        var (exit, stdout, stderr) = CliRunner.Run(args);
        Assert.True(exit == 0, stderr + stdout);

        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "results.json")));
        var rows = doc.RootElement.GetProperty("rows").EnumerateArray().ToList();
        Assert.Equal(3 * AblationPlan.Points.Length, rows.Count); // rf, cud-rk23 (main output), cud-rk23-head2
        Assert.Equal(["rf", "cud-rk23", "cud-rk23-head2"], rows.Select(r => r.GetProperty("method").GetString()).Distinct());
        foreach (var row in rows)
        {
            Assert.True(double.IsFinite(row.GetProperty("fid").GetDouble()));
            Assert.True(row.GetProperty("is").GetDouble() >= 1 - 1e-9);
            Assert.Equal("classifier", row.GetProperty("feature_space").GetString());
            Assert.Equal(row.GetProperty("nfe").GetInt32(), row.GetProperty("mean_nfe").GetDouble());
        }
        Assert.Equal([1, 2, 4, 8, 16, 3, 7], rows.Take(AblationPlan.Points.Length).Select(r => r.GetProperty("nfe").GetInt32()));
        Assert.Contains("| cud-rk23-head2 |", File.ReadAllText(Path.Combine(outDir, "results.md")));
        Assert.StartsWith("<svg", File.ReadAllText(Path.Combine(outDir, "fid_vs_nfe.svg")).TrimStart());
        Assert.True(File.Exists(Path.Combine(outDir, "grid_rf_euler4.png")));
        var seconds = File.ReadAllText(Path.Combine(outDir, AblationTraining.TimingFile));
        string first = File.ReadAllText(Path.Combine(outDir, "results.md"));

        (exit, stdout, stderr) = CliRunner.Run(args);
        Assert.True(exit == 0, stderr);
        Assert.Equal(seconds, File.ReadAllText(Path.Combine(outDir, AblationTraining.TimingFile))); // nothing retrained
        Assert.Equal(first, File.ReadAllText(Path.Combine(outDir, "results.md")));                  // same noise, same scores
    }

    [Fact]
    public void UnknownMethodsAndBadNumbersAreUsageErrors()
    {
        var (exit, _, stderr) = CliRunner.Run(["ablate", "--out", _dir, "--methods", "rf,gan"]);
        Assert.Equal(1, exit);
        Assert.Contains("unknown method 'gan'", stderr);
        (exit, _, stderr) = CliRunner.Run(["ablate", "--out", _dir, "--iterations", "0"]);
        Assert.Equal(1, exit);
        Assert.Contains("--iterations", stderr);
    }
}
