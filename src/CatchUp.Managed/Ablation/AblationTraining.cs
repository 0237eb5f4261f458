using System.Diagnostics;
using System.Text.Json;
using CatchUp.IO;
using CatchUp.Training;

namespace CatchUp.Ablation;

/// <summary>
/// Trains each method of an ablation into OUT/&lt;method&gt;/. A method whose run already reached the budget is kept; a
/// partial one (a killed ablation) is resumed, which reproduces the uninterrupted run exactly. A run trained with a
/// different configuration is an error, never silently mixed in. Training seconds per method accumulate in
/// OUT/training_seconds.json.
/// </summary>
public static class AblationTraining
{
    public const string TimingFile = "training_seconds.json";

    /// <summary>Trains (or finishes) one method; <paramref name="train"/> is the trainer entry point (run dir, resume?).</summary>
    public static void Ensure(string outDir, AblationMethod method, Func<TrainingOptions, string, bool, int> train)
    {
        string runDir = Path.Combine(outDir, method.Name);
        bool resume = File.Exists(Checkpoint.PathIn(runDir));
        if (resume)
        {
            string configPath = Path.Combine(runDir, "config.json");
            var existing = TrainingOptions.Load(configPath, method.Options);
            if ((existing with { Threads = method.Options.Threads }).ToJson() != method.Options.ToJson())
                throw new InvalidDataFileException(configPath,
                    $"this run was trained with another configuration than the ablation's '{method.Name}'; use another --out or remove {runDir}");
            if (Checkpoint.ReadIteration(runDir) >= method.Options.Iterations) return;
        }
        var clock = Stopwatch.StartNew();
        int exit = train(method.Options, runDir, resume);
        AddSeconds(outDir, method.Name, clock.Elapsed.TotalSeconds);
        if (exit != 0) throw new AblationInterruptedException($"training '{method.Name}' stopped (exit code {exit}); run the same command again to continue");
    }

    public static Dictionary<string, double> ReadSeconds(string outDir)
    {
        string path = Path.Combine(outDir, TimingFile);
        if (!File.Exists(path)) return new();
        try { return JsonSerializer.Deserialize<Dictionary<string, double>>(File.ReadAllText(path)) ?? new(); }
        catch (JsonException e) { throw new InvalidDataFileException(path, $"not valid JSON: {e.Message}"); }
    }

    private static void AddSeconds(string outDir, string method, double seconds)
    {
        Directory.CreateDirectory(outDir);
        var all = ReadSeconds(outDir);
        all[method] = all.GetValueOrDefault(method) + seconds;
        AtomicFile.WriteAllText(Path.Combine(outDir, TimingFile), JsonSerializer.Serialize(all, new JsonSerializerOptions { WriteIndented = true }));
    }
}

/// <summary>A training inside the ablation did not finish (interrupted or diverged).</summary>
public sealed class AblationInterruptedException(string message) : Exception(message);
