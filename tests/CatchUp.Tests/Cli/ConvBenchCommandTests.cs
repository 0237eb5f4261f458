using System.Text.Json;
using CatchUp.Backends.Cpu;
using CatchUp.Tests.Kernels;
using Xunit;

namespace CatchUp.Tests.Cli;

/// <summary><c>catchup bench conv</c>: per-shape timings of every algorithm, and <c>--accuracy</c> against float64.</summary>
[Collection("Console")]
public sealed class ConvBenchCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("catchup-benchconv-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static List<JsonElement> JsonLines(string stdout) =>
        stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith('{')).Select(l => JsonDocument.Parse(l).RootElement).ToList();

    [Fact]
    public void TimesEveryShapeWithEveryAlgorithm()
    {
        var (exit, stdout, stderr) = CliRunner.Run("bench", "conv", "--model", TinyRunFiles.WriteModel(_dir), "--batch", "2", "--threads", "1", "--rounds", "1");
        Assert.True(exit == 0, stderr);
        var rows = JsonLines(stdout);
        var shapes = rows.Select(r => r.GetProperty("shape").GetString()).Distinct().ToList();
        Assert.Contains("16->16@8x8", shapes);   // the tiny network's 3x3 shapes at 8x8 and 4x4
        Assert.Contains(shapes, s => s!.EndsWith("@4x4"));
        Assert.Equal(shapes.Count * 3, rows.Count);
        Assert.All(rows, r => Assert.True(r.GetProperty("forward_ms").GetDouble() > 0 && r.GetProperty("backward_weight_ms").GetDouble() > 0));
    }

    [Fact]
    public void AccuracyRowsAreWithinEachAlgorithmsBound()
    {
        var (exit, stdout, stderr) = CliRunner.Run("bench", "conv", "--model", TinyRunFiles.WriteModel(_dir), "--batch", "3", "--threads", "2", "--accuracy");
        Assert.True(exit == 0, stderr);
        var rows = JsonLines(stdout);
        Assert.NotEmpty(rows);
        Assert.All(rows, r => Assert.Equal("conv-accuracy", r.GetProperty("bench").GetString()));
        foreach (var r in rows)
        {
            var algorithm = ConvAlgorithmNames.Parse(r.GetProperty("algorithm").GetString()!);
            foreach (var field in new[] { "output_rel_error", "data_grad_rel_error", "weight_grad_rel_error" })
            {
                double e = r.GetProperty(field).GetDouble();
                // exactly 0 would mean the comparison saw nothing; above the kernel tests' bound would be a wrong kernel
                Assert.True(e > 0 && e <= WinogradKernelTests.Bound(algorithm), $"{r.GetProperty("shape")} {algorithm} {field} = {e:E2}");
            }
        }
    }

    [Fact]
    public void BadArgumentsAreOneLine()
    {
        var (exit, _, stderr) = CliRunner.Run("bench", "conv", "--model", TinyRunFiles.WriteModel(_dir), "--batch", "0");
        Assert.Equal(1, exit);
        Assert.Contains("--batch, --threads and --rounds must be at least 1", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
    }
}
