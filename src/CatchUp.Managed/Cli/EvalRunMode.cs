using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using CatchUp.Evaluation;
using CatchUp.Training;

namespace CatchUp.Cli;

/// <summary>
/// <c>catchup eval --run RUN</c>: the run's EMA model at every solver x NFE point from the same fixed noise, each scored
/// (<see cref="EvalGrid"/>, resumable), then RUN/eval/results.json, results.md and fid_vs_nfe.svg (<see cref="EvalReport"/>).
/// </summary>
internal static class EvalRunMode
{
    public const string DefaultSolvers = "euler,heun,dpm2";
    public const string DefaultNfe = "1,2,4,8,16";
    public const int DefaultCount = 10_000;
    public const int DefaultBatch = 250;

    public static int Run(string runDir, string? classifierPath, string? dataDir, string? datasetName, int? realCount, int threads, EvalCommand.GridFlags flags)
    {
        if (!Directory.Exists(runDir)) throw new CliUsageException($"--run {runDir}: no such directory");
        var options = ModelLoading.LoadRunOptions(runDir);
        int count = flags.Count ?? DefaultCount, head = flags.Head ?? 1, batch = flags.Batch ?? DefaultBatch;
        ulong seed = flags.Seed ?? 0;
        if (count <= PrecisionRecall.DefaultK) throw new CliUsageException($"--count must be at least {PrecisionRecall.DefaultK + 1} (got {count})");
        if (batch < 1) throw new CliUsageException($"--batch must be at least 1 (got {batch})");
        if (head is < 1 or > 3) throw new CliUsageException($"--head must be 1, 2 or 3 (got {head})");
        List<SolverPoint> points;
        try
        {
            points = SolverPoint.Grid(ParseList("--solvers", flags.Solvers ?? DefaultSolvers, s => s),
                ParseList("--nfe", flags.Nfe ?? DefaultNfe, ParseNfe), Console.WriteLine);
        }
        catch (ArgumentException e) { throw new CliUsageException(e.Message); }

        string dataset = datasetName ?? options.Dataset;
        DatasetArguments.Parse(dataset);
        if (classifierPath is null)
        {
            classifierPath = DefaultClassifier.Require(dataset);
            Console.WriteLine($"classifier: {classifierPath} (the shipped one for {dataset})");
        }
        var clock = Stopwatch.StartNew();
        string name = Path.GetFileName(NextStep.Dir(Path.GetFullPath(runDir)));
        List<EvalRow> rows;
        int realUsed;
        try
        {
            using var evaluator = SampleEvaluator.Create(classifierPath, dataset, dataDir ?? options.DataDir, threads, realCount, Console.Out);
            using var backend = DeviceOption.Open(flags.Device, threads);
            realUsed = evaluator.RealCount;
            rows = EvalGrid.Evaluate([new GridTarget(name, runDir, head)], points, new EvalGridOptions(count, batch, seed), backend, evaluator, Console.Out);
        }
        catch (ArgumentException e) { throw new CliUsageException(e.Message); }

        string outDir = EvalGrid.Folder(runDir);
        EvalReport.Write(outDir, rows, new JsonObject
        {
            ["run"] = runDir,
            ["iteration"] = Checkpoint.ReadIteration(runDir),
            ["weights"] = "ema",
            ["head"] = head,
            ["count"] = count,
            ["seed"] = seed,
            ["dataset"] = dataset,
            ["real_count"] = realUsed,
            ["classifier"] = classifierPath,
            ["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1),
        });
        Console.WriteLine();
        Console.Write(EvalReport.Markdown(rows));
        Console.WriteLine();
        Console.WriteLine($"wrote {Path.Combine(outDir, EvalReport.Files[0])}, {EvalReport.Files[1]}, {EvalReport.Files[2]} (per-point scores and grids in {EvalGrid.PointsFolder(runDir)})");
        string dir = NextStep.Dir(runDir);
        if (File.Exists(Path.Combine(runDir, "distill.json"))) // already a one-step model (`catchup distill`'s output)
            NextStep.Print("sample the one-step model", "sample", "--run", dir, "--solver", "euler", "--nfe", "1", "--out", Path.Combine(dir, "samples-1step"));
        else
            NextStep.Print("distill it into a one-step model", "distill", "--run", dir, "--out", dir + "-1step");
        return 0;
    }

    private static List<T> ParseList<T>(string flag, string text, Func<string, T> parse)
    {
        var items = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (items.Length == 0) throw new ArgumentException($"{flag}: give at least one value");
        return items.Select(parse).ToList();
    }

    private static int ParseNfe(string text) => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v >= 1 ? v
        : throw new ArgumentException($"--nfe: '{text}' is not a positive whole number");
}
