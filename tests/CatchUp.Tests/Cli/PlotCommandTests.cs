using Xunit;

namespace CatchUp.Tests.Cli;

/// <summary><c>catchup plot</c>: several runs' metrics.jsonl as one SVG, and one-line errors for bad input.</summary>
[Collection("Console")]
public class PlotCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("catchup-plot-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Metrics(string name, params double[] losses)
    {
        string run = Path.Combine(_dir, name);
        Directory.CreateDirectory(run);
        File.WriteAllLines(Path.Combine(run, "metrics.jsonl"),
            losses.Select((l, i) => $"{{\"iteration\":{(i + 1) * 10},\"loss\":{l.ToString(System.Globalization.CultureInfo.InvariantCulture)},\"lr\":0.001}}")
                .Prepend("{\"event\":\"start\"}"));
        return run;
    }

    [Fact]
    public void PlotsEveryRunsCurveSmoothedWhenAsked()
    {
        string a = Metrics("direct", 1.0, 0.8, 0.6, 0.5), b = Metrics("winograd4", 1.1, 0.7, 0.65, 0.45);
        string svg = Path.Combine(_dir, "loss.svg");
        var (exit, stdout, stderr) = CliRunner.Run("plot", $"direct={a}", $"winograd4={b}/metrics.jsonl", "--smooth", "2", "--out", svg);
        Assert.True(exit == 0, stderr);
        // the moving average of 2 over 4 points leaves 3; the last is (0.6 + 0.5) / 2 at iteration 40
        Assert.Contains("direct: 3 points", stdout);
        Assert.Contains("last loss 0.55 at iteration 40", stdout);
        string text = File.ReadAllText(svg);
        Assert.StartsWith("<svg", text.TrimStart());
        Assert.Contains("direct", text);
        Assert.Contains("winograd4", text);
    }

    [Fact]
    public void BadInputIsOneLineAndExitOne()
    {
        string good = Metrics("good", 1.0, 0.5);
        string notJson = Path.Combine(_dir, "bad.jsonl");
        File.WriteAllText(notJson, "{\"iteration\":1,\"loss\":1}\n{not json\n");
        string noField = Path.Combine(_dir, "nofield.jsonl");
        File.WriteAllText(noField, "{\"iteration\":1,\"accuracy\":1}\n");
        string svg = Path.Combine(_dir, "x.svg");
        foreach (var (args, expected) in new (string[], string)[]
        {
            (["plot", $"a={Path.Combine(_dir, "missing.jsonl")}", "--out", svg], "missing.jsonl: no such file"),
            (["plot", $"a={notJson}", "--out", svg], "bad.jsonl: line 2 is not JSON"),
            (["plot", $"a={noField}", "--out", svg], "no line has numeric 'iteration' and 'loss'"),
            (["plot", good, "--out", svg], "expected NAME=PATH"),
            (["plot", $"a={good}", "--smooth", "0", "--out", svg], "--smooth must be at least 1"),
        })
        {
            var (exit, _, stderr) = CliRunner.Run(args);
            Assert.Equal(1, exit);
            Assert.Contains(expected, stderr);
            Assert.Single(stderr.Trim().Split('\n'));
        }
        Assert.False(File.Exists(svg));
    }
}
