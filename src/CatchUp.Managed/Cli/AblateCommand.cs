using System.CommandLine;
using CatchUp.Ablation;

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
        var command = new Command("ablate", "Train RF, Curvature and CUD RK12/23/34 at an equal budget on Fashion-MNIST and compare FID against NFE")
        {
            outDir, methods, iterations, batch, seed, threads,
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
                    AblationTraining.Ensure(dir, m, (o, runDir, resume) => TrainCommand.Run(o, resume ? null : runDir, resume ? runDir : null));
                }
            }
            catch (AblationInterruptedException e) { Console.Error.WriteLine($"catchup: {e.Message}"); return 1; }
            return 0;
        }));
        return command;
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
