using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using CatchUp.Ablation;
using CatchUp.Evaluation;

namespace CatchUp.Cli;

/// <summary><c>catchup ablate</c>: RF, Curvature and CUD RK12/23/34 (+ one design ablation) at an equal budget, FID vs NFE.</summary>
internal static class AblateCommand
{
    public static Command Create()
    {
        var outDir = new Option<string>("--out") { Description = "Directory for the runs and results (re-running the command continues an interrupted ablation)", DefaultValueFactory = _ => "runs/ablation" };
        var methods = new Option<string>("--methods") { Description = $"Comma-separated subset of: {string.Join(", ", AblationPlan.AllMethods)}", DefaultValueFactory = _ => string.Join(",", AblationPlan.AllMethods) };
        var iterations = new Option<long>("--iterations") { Description = "Training iterations for every method (equal budget)", DefaultValueFactory = _ => 600 };
        var batch = new Option<int>("--batch") { Description = "Training batch size", DefaultValueFactory = _ => 64 };
        var seed = new Option<ulong>("--seed") { Description = "Seed shared by all methods (weights, data order, noise)", DefaultValueFactory = _ => 0UL };
        var threads = new Option<int>("--threads") { Description = "CPU threads", DefaultValueFactory = _ => Environment.ProcessorCount };
        var samples = new Option<int>("--samples") { Description = "Generated images per (method, solver, NFE), all from the same fixed noise", DefaultValueFactory = _ => 2000 };
        var classifier = new Option<string?>("--classifier") { Description = "Evaluation classifier (default OUT/classifier.safetensors, trained there first when missing)" };
        var device = DeviceOption.Create();
        var command = new Command("ablate", "Train RF, Curvature and CUD RK12/23/34 at an equal budget on Fashion-MNIST and compare FID against NFE")
        {
            outDir, methods, iterations, batch, seed, threads, samples, classifier, device,
        };
        command.SetAction(r => CliApp.Guard(() =>
        {
            if (r.GetValue(iterations) < 1 || r.GetValue(batch) < 1 || r.GetValue(threads) < 1)
                throw new CliUsageException("--iterations, --batch and --threads must be at least 1");
            var b = AblationPlan.Base(r.GetValue(iterations), r.GetValue(batch), r.GetValue(seed), r.GetValue(threads));
            var plan = ParseMethods(r.GetValue(methods)!).Select(m => AblationPlan.Method(m, b)).ToList();
            string dir = r.GetValue(outDir)!;
            Directory.CreateDirectory(dir);
            try
            {
                foreach (var m in plan)
                {
                    Console.WriteLine($"== {m.Name}: {m.Options.Objective.Describe()}, {m.Options.Iterations} iterations ==");
                    AblationTraining.Ensure(dir, m, (o, runDir, resume) => TrainCommand.Run(o, resume ? null : runDir, resume ? runDir : null, r.GetValue(device)!));
                }
            }
            catch (AblationInterruptedException e) { Console.Error.WriteLine($"catchup: {e.Message}"); return 1; }
            if (r.GetValue(samples) < 4) throw new CliUsageException("--samples must be at least 4");
            return Evaluate(dir, plan, r.GetValue(classifier), r.GetValue(samples), r.GetValue(seed), r.GetValue(threads), r.GetValue(device)!);
        }));
        return command;
    }

    private static int Evaluate(string dir, List<AblationMethod> plan, string? classifierPath, int count, ulong seed, int threads, string device)
    {
        string dataset = plan[0].Options.Dataset;
        classifierPath ??= DefaultClassifier.Find(dataset);
        if (classifierPath is null)
        {
            classifierPath = Path.Combine(dir, "classifier.safetensors");
            if (!File.Exists(classifierPath))
            {
                Console.WriteLine($"== evaluation classifier: training {classifierPath} ==");
                int exit = ClassifierCommand.Train(plan[0].Options.DataDir, dataset, classifierPath, new ClassifierTrainingOptions(Seed: seed), threads, null);
                if (exit != 0) return exit;
            }
        }
        Console.WriteLine($"== evaluation: {count} samples per point, {AblationPlan.Points.Length} solver settings, EMA weights ==");
        var clock = Stopwatch.StartNew();
        using var backend = DeviceOption.Open(device, threads);
        using var evaluator = SampleEvaluator.Create(classifierPath, dataset, plan[0].Options.DataDir, threads);
        List<EvalRow> rows;
        try { rows = AblationEvaluation.Evaluate(dir, plan, backend, evaluator, count, batch: 250, seed, Console.Out); }
        catch (ArgumentException e) { throw new CliUsageException(e.Message); }
        var seconds = AblationTraining.ReadSeconds(dir);
        var settings = new JsonObject
        {
            ["dataset"] = dataset,
            ["iterations"] = plan[0].Options.Iterations,
            ["batch"] = plan[0].Options.Batch,
            ["seed"] = seed,
            ["samples"] = count,
            ["classifier"] = Path.GetFileName(classifierPath),
            ["real_images"] = evaluator.RealCount,
            ["training_seconds"] = new JsonObject(seconds.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)Math.Round(kv.Value)))),
            ["evaluation_seconds"] = Math.Round(clock.Elapsed.TotalSeconds),
        };
        EvalReport.Write(dir, rows, settings);
        Console.WriteLine();
        Console.WriteLine(EvalReport.Markdown(rows));
        Console.WriteLine($"wrote {dir}/results.json, results.md, fid_vs_nfe.svg and grid_*_euler4.png");
        return 0;
    }

    private static string[] ParseMethods(string list)
    {
        var names = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var n in names)
            if (!AblationPlan.AllMethods.Contains(n)) throw new CliUsageException($"--methods: unknown method '{n}' (known: {string.Join(", ", AblationPlan.AllMethods)})");
        if (names.Length == 0) throw new CliUsageException("--methods: give at least one method");
        return names;
    }
}
