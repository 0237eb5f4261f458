using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CatchUp.Imaging;
using CatchUp.IO;

namespace CatchUp.Evaluation;

/// <summary>
/// The outputs of an evaluation grid (<see cref="EvalGrid"/>): results.json (<c>rows</c> + <c>settings</c>), results.md
/// (the table) and fid_vs_nfe.svg. With several models (an ablation) the table starts with FID per model and point,
/// and the plot has one Euler line per model; with one model it has one line per solver.
/// </summary>
public static class EvalReport
{
    public static readonly string[] Files = ["results.json", "results.md", "fid_vs_nfe.svg"];

    public static void Write(string dir, IReadOnlyList<EvalRow> rows, JsonObject settings)
    {
        Directory.CreateDirectory(dir);
        var root = new JsonObject { ["rows"] = new JsonArray(rows.Select(r => (JsonNode)RowJson(r)).ToArray()), ["settings"] = settings };
        AtomicFile.WriteAllText(Path.Combine(dir, Files[0]), root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        AtomicFile.WriteAllText(Path.Combine(dir, Files[1]), Markdown(rows));
        Plot(rows).Save(Path.Combine(dir, Files[2]));
    }

    /// <summary>A row as JSON; <paramref name="round"/> = false keeps every digit (the stored points, read back exactly).
    /// Rows of class-conditional models add <c>fid_per_class_mean</c>, <c>fid_per_class</c> and <c>count_per_class</c>
    /// (arrays indexed by class; a class without a FID is null).</summary>
    public static JsonObject RowJson(EvalRow r, bool round = true)
    {
        JsonNode? Round(double v) => double.IsFinite(v) ? JsonValue.Create(round ? Math.Round(v, 4) : v) : null;
        var row = new JsonObject
        {
        ["method"] = r.Method, ["head"] = r.Head, ["solver"] = r.Solver, ["nfe"] = r.Nfe, ["mean_nfe"] = r.MeanNfe,
        ["fid"] = Round(r.Scores.Fid), ["is"] = Round(r.Scores.InceptionScore), ["is_std"] = Round(r.Scores.InceptionScoreStd),
        ["precision"] = Round(r.Scores.Precision), ["recall"] = Round(r.Scores.Recall),
        ["images_per_s"] = Round(r.ImagesPerSecond), ["count"] = r.Scores.Count, ["feature_space"] = r.Scores.FeatureSpace,
        };
        if (r.Scores.PerClass is { } perClass)
        {
            row["fid_per_class_mean"] = Round(perClass.MeanFid);
            row["fid_per_class"] = new JsonArray(perClass.FidByClass().Select(Round).ToArray());
            row["count_per_class"] = new JsonArray(perClass.CountByClass().Select(n => (JsonNode)n).ToArray());
        }
        return row;
    }

    /// <summary>The inverse of <see cref="RowJson"/> (a missing IS reads as NaN; a row without per-class FIDs, also one stored before
    /// they existed, has none).</summary>
    public static EvalRow ParseRow(JsonNode? node)
    {
        if (node is null) throw new FormatException("no row");
        double D(string key) => node[key] is JsonValue v ? v.GetValue<double>() : double.NaN;
        var perClass = node["fid_per_class"] is JsonArray fids
            ? PerClassFid.FromArrays(fids.Select(f => f is JsonValue v ? v.GetValue<double>() : double.NaN).ToList(),
                node["count_per_class"]!.AsArray().Select(n => n!.GetValue<int>()).ToList())
            : null;
        var scores = new EvaluationScores(node["feature_space"]!.GetValue<string>(), D("fid"), D("is"), D("is_std"), D("precision"), D("recall"),
            node["count"]!.GetValue<int>(), perClass);
        return new EvalRow(node["method"]!.GetValue<string>(), node["head"]!.GetValue<int>(), node["solver"]!.GetValue<string>(),
            node["nfe"]!.GetValue<int>(), D("mean_nfe"), scores, D("images_per_s"));
    }

    public static string Markdown(IReadOnlyList<EvalRow> rows)
    {
        var methods = rows.Select(r => r.Method).Distinct().ToList();
        var first = rows.FirstOrDefault();
        var sb = new StringBuilder();
        sb.AppendLine($"Scores in the {first?.Scores.FeatureSpace} feature space, {first?.Scores.Count} samples per point from the same noise, EMA weights. " +
            "FID: lower is better; IS, precision, recall: higher is better.");
        sb.AppendLine();
        if (methods.Count > 1)
        {
            AppendFidPivot(sb, rows, methods);
            sb.AppendLine();
        }
        string methodColumn = methods.Count > 1 ? "method | " : "";
        // Class-conditional models: the mean of the per-class FIDs (a row stored before per-class FIDs has none).
        bool perClass = rows.Any(r => r.Scores.PerClass is not null);
        sb.AppendLine($"| {methodColumn}solver | NFE | FID | {(perClass ? "FID per class (mean) | " : "")}IS | precision | recall | images/s |");
        sb.AppendLine($"| {(methods.Count > 1 ? "--- | " : "")}--- | ---: | ---: | {(perClass ? "---: | " : "")}---: | ---: | ---: | ---: |");
        foreach (var r in rows)
        {
            string perClassCell = !perClass ? "" : r.Scores.PerClass is { } p && double.IsFinite(p.MeanFid)
                ? p.MeanFid.ToString("F3", CultureInfo.InvariantCulture) + " | " : "- | ";
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {(methods.Count > 1 ? r.Method + " | " : "")}{r.Solver} | {r.Nfe} | {r.Scores.Fid:F3} | {perClassCell}{r.Scores.InceptionScore:F2} | {r.Scores.Precision:F3} | {r.Scores.Recall:F3} | {r.ImagesPerSecond:F1} |"));
        }
        return sb.ToString();
    }

    /// <summary>FID per model (rows) and point (columns); the best value of each column in bold.</summary>
    private static void AppendFidPivot(StringBuilder sb, IReadOnlyList<EvalRow> rows, List<string> methods)
    {
        var points = rows.Select(r => (r.Solver, r.Nfe)).Distinct().ToList();
        sb.AppendLine("FID:");
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
    }

    public static SvgPlot Plot(IReadOnlyList<EvalRow> rows)
    {
        bool several = rows.Select(r => r.Method).Distinct().Count() > 1;
        string space = rows.FirstOrDefault()?.Scores.FeatureSpace ?? "";
        var plot = new SvgPlot(several ? "FID vs NFE (Euler)" : $"FID vs NFE: {rows.FirstOrDefault()?.Method}")
        {
            XLabel = "NFE", YLabel = $"FID ({space} features)", LogX = true, LogY = true,
        };
        var groups = several ? rows.Where(r => r.Solver == "euler").GroupBy(r => r.Method) : rows.GroupBy(r => r.Solver);
        foreach (var group in groups)
            plot.AddSeries(group.Key, group.OrderBy(r => r.Nfe).Select(r => ((double)r.Nfe, Math.Max(r.Scores.Fid, 1e-3))));
        return plot;
    }
}
