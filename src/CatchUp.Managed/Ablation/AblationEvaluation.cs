using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CatchUp.Backends;
using CatchUp.Evaluation;
using CatchUp.Imaging;
using CatchUp.IO;
using CatchUp.Models;
using CatchUp.Sampling;
using CatchUp.Training;

namespace CatchUp.Ablation;

/// <summary>One evaluated (method, solver, NFE) point.</summary>
public sealed record AblationRow(string Method, string Solver, int Nfe, double MeanNfe, EvaluationScores Scores);

/// <summary>
/// Samples every trained method from the same fixed noise at every <see cref="AblationPlan.Points"/> entry (EMA
/// weights) and scores the samples; writes results.json, results.md and fid_vs_nfe.svg.
/// </summary>
public static class AblationEvaluation
{
    public static List<AblationRow> Evaluate(string outDir, IReadOnlyList<AblationMethod> plan, IBackend backend, SampleEvaluator evaluator,
        int count, int batch, ulong seed, TextWriter log)
    {
        var rows = new List<AblationRow>();
        foreach (var method in plan)
        {
            string runDir = Path.Combine(outDir, method.Name);
            var loaded = Cli.ModelLoading.LoadRun(runDir, "ema.");
            var config = loaded.Config;
            using var net = new SongUNet(config, backend);
            StateDict.Load(net.Parameters, loaded.Weights, loaded.Source);
            var noise = SampleGenerator.Noise(seed, count, config.InChannels, config.ImgResolution, config.ImgResolution);
            foreach (int head in method.Heads)
            {
                string name = AblationPlan.RowName(method.Name, head);
                foreach (var point in AblationPlan.Points)
                {
                    var clock = Stopwatch.StartNew();
                    var samples = SampleGenerator.Generate(net, point.Solver, point.Nfe, head, noise, count, batch);
                    var scores = evaluator.Evaluate(samples.X, samples.Count, samples.Channels, samples.Height, samples.Width);
                    rows.Add(new AblationRow(name, point.Solver, point.Nfe, samples.MeanNfe, scores));
                    log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{name,-24} {point.Solver,-5} NFE {point.Nfe,2}: FID {scores.Fid,8:F2}  IS {scores.InceptionScore,5:F2}  precision {scores.Precision:F3}  recall {scores.Recall:F3}  ({clock.Elapsed.TotalSeconds:F0} s)"));
                    if (point is { Solver: "euler", Nfe: 4 })
                        ImageGrid.WritePng(Path.Combine(outDir, $"grid_{name}_euler4.png"), samples.X.AsSpan(0, Math.Min(64, count) * samples.Channels * samples.Height * samples.Width),
                            Math.Min(64, count), samples.Channels, samples.Height, samples.Width);
                }
            }
        }
        return rows;
    }

    public static void WriteResults(string outDir, IReadOnlyList<AblationRow> rows, JsonObject settings)
    {
        var list = new JsonArray();
        foreach (var r in rows)
            list.Add(new JsonObject
            {
                ["method"] = r.Method, ["solver"] = r.Solver, ["nfe"] = r.Nfe, ["mean_nfe"] = r.MeanNfe,
                ["fid"] = Round(r.Scores.Fid), ["is"] = Round(r.Scores.InceptionScore), ["is_std"] = Round(r.Scores.InceptionScoreStd),
                ["precision"] = Round(r.Scores.Precision), ["recall"] = Round(r.Scores.Recall),
                ["count"] = r.Scores.Count, ["feature_space"] = r.Scores.FeatureSpace,
            });
        var root = new JsonObject { ["rows"] = list, ["settings"] = settings };
        AtomicFile.WriteAllText(Path.Combine(outDir, "results.json"), root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        AtomicFile.WriteAllText(Path.Combine(outDir, "results.md"), Markdown(rows));
        Plot(rows).Save(Path.Combine(outDir, "fid_vs_nfe.svg"));
    }

    private static double Round(double v) => Math.Round(v, 4);

    /// <summary>FID table: one row per method, one column per (solver, NFE); the best value of each column in bold.</summary>
    public static string Markdown(IReadOnlyList<AblationRow> rows)
    {
        var points = rows.Select(r => (r.Solver, r.Nfe)).Distinct().ToList();
        var methods = rows.Select(r => r.Method).Distinct().ToList();
        string space = rows.Count > 0 ? rows[0].Scores.FeatureSpace : "";
        var sb = new StringBuilder();
        sb.AppendLine($"FID ({space} features; lower is better), {rows.FirstOrDefault()?.Scores.Count} samples per cell, EMA weights.");
        sb.AppendLine();
        sb.AppendLine("| method | " + string.Join(" | ", points.Select(p => $"{p.Solver} {p.Nfe}")) + " |");
        sb.AppendLine("| --- |" + string.Concat(points.Select(_ => " ---: |")));
        foreach (var m in methods)
        {
            var cells = points.Select(p =>
            {
                var row = rows.FirstOrDefault(r => r.Method == m && r.Solver == p.Solver && r.Nfe == p.Nfe);
                if (row is null) return "";
                double best = rows.Where(r => r.Solver == p.Solver && r.Nfe == p.Nfe).Min(r => r.Scores.Fid);
                string v = row.Scores.Fid.ToString("F2", CultureInfo.InvariantCulture);
                return row.Scores.Fid == best ? $"**{v}**" : v;
            });
            sb.AppendLine($"| {m} | " + string.Join(" | ", cells) + " |");
        }
        return sb.ToString();
    }

    public static SvgPlot Plot(IReadOnlyList<AblationRow> rows)
    {
        var plot = new SvgPlot("FID vs NFE (Euler)") { XLabel = "NFE", YLabel = $"FID ({rows.FirstOrDefault()?.Scores.FeatureSpace} features)", LogX = true, LogY = true };
        foreach (var group in rows.Where(r => r.Solver == "euler").GroupBy(r => r.Method))
            plot.AddSeries(group.Key, group.OrderBy(r => r.Nfe).Select(r => ((double)r.Nfe, Math.Max(r.Scores.Fid, 1e-3))));
        return plot;
    }
}
