using System.CommandLine;
using System.Text.Json;
using CatchUp.Imaging;
using CatchUp.IO;

namespace CatchUp.Cli;

/// <summary><c>catchup plot</c>: one field of several runs' <c>metrics.jsonl</c> against the iteration, as an SVG plot
/// (e.g. the loss curves of two runs side by side).</summary>
internal static class PlotCommand
{
    /// <summary>Files larger than this are refused (a metrics log of a million iterations is ~200 MB).</summary>
    private const long MaxBytes = 256L << 20;

    public static Command Create()
    {
        var runs = new Argument<string[]>("runs")
        {
            Description = "NAME=PATH pairs: PATH is a run folder or its metrics.jsonl; NAME labels its curve",
            Arity = ArgumentArity.OneOrMore,
        };
        var field = new Option<string>("--field") { Description = "The metrics field to plot against 'iteration'", DefaultValueFactory = _ => "loss" };
        var smooth = new Option<int>("--smooth") { Description = "Moving average over this many logged points (1: raw)", DefaultValueFactory = _ => 1 };
        var logY = new Option<bool>("--log-y") { Description = "Logarithmic y axis" };
        var title = new Option<string?>("--title") { Description = "Plot title (default: the field)" };
        var output = new Option<string>("--out") { Description = "SVG file to write", Required = true };
        var command = new Command("plot", "Plot a metrics field (default: loss) of several runs against the iteration, as SVG")
        {
            runs, field, smooth, logY, title, output,
        };
        command.SetAction(r => CliApp.Guard(() => Run(r.GetValue(runs)!, r.GetValue(field)!, r.GetValue(smooth), r.GetValue(logY),
            r.GetValue(title), r.GetValue(output)!)));
        return command;
    }

    private static int Run(string[] runs, string field, int smooth, bool logY, string? title, string output)
    {
        if (smooth < 1) throw new CliUsageException("--smooth must be at least 1");
        var plot = new SvgPlot(title ?? (smooth > 1 ? $"{field} (moving average of {smooth})" : field))
        {
            XLabel = "iteration", YLabel = field, LogY = logY,
        };
        foreach (var run in runs)
        {
            int eq = run.IndexOf('=');
            if (eq <= 0 || eq == run.Length - 1) throw new CliUsageException($"'{run}': expected NAME=PATH");
            string name = run[..eq], path = run[(eq + 1)..];
            if (Directory.Exists(path)) path = Path.Combine(path, "metrics.jsonl");
            var points = Smooth(Read(path, field), smooth);
            plot.AddSeries(name, points);
            Console.WriteLine($"{name}: {points.Count} points from {path}" +
                (points.Count > 0 ? $", last {field} {points[^1].Y:G4} at iteration {points[^1].X}" : ""));
        }
        plot.Save(output);
        Console.WriteLine($"wrote {output}");
        return 0;
    }

    /// <summary>(iteration, field) of every line that has both as numbers; a file without any is an error.</summary>
    internal static List<(double X, double Y)> Read(string path, string field)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new InvalidDataFileException(path, "no such file");
        if (info.Length > MaxBytes) throw new InvalidDataFileException(path, $"larger than {MaxBytes >> 20} MB");
        var points = new List<(double, double)>();
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                using var doc = JsonDocument.Parse(line);
                if (doc.RootElement.ValueKind == JsonValueKind.Object
                    && doc.RootElement.TryGetProperty("iteration", out var it) && it.ValueKind == JsonValueKind.Number
                    && doc.RootElement.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.Number)
                    points.Add((it.GetDouble(), v.GetDouble()));
            }
            catch (JsonException e) { throw new InvalidDataFileException(path, $"line {lineNumber} is not JSON ({e.Message})"); }
        }
        if (points.Count == 0) throw new InvalidDataFileException(path, $"no line has numeric 'iteration' and '{field}'");
        return points;
    }

    private static List<(double X, double Y)> Smooth(List<(double X, double Y)> points, int window)
    {
        if (window == 1) return points;
        var result = new List<(double, double)>(points.Count);
        double sum = 0;
        for (int i = 0; i < points.Count; i++)
        {
            sum += points[i].Y;
            if (i >= window) sum -= points[i - window].Y;
            if (i >= window - 1) result.Add((points[i].X, sum / window));
        }
        return result;
    }
}
