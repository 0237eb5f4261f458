using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using CatchUp.Data;
using CatchUp.Evaluation;
using CatchUp.Evaluation.Inception;
using CatchUp.IO;
using CatchUp.Training;

namespace CatchUp.Cli;

/// <summary><c>catchup eval</c>: FID, Inception Score and precision/recall of generated samples in the classifier's feature space.</summary>
internal static class EvalCommand
{
    /// <summary>The flags of <c>eval --run</c>; null means "not given" (defaults in <see cref="EvalRunMode"/>).</summary>
    internal sealed record GridFlags(string? Solvers, string? Nfe, int? Count, int? Head, ulong? Seed, int? Batch, string Device);

    public static Command Create()
    {
        var samples = new Option<string?>("--samples") { Description = "Generated images: a `catchup sample` output directory, or a safetensors file with x [N,C,H,W] in [-1,1]" };
        var run = new Option<string?>("--run") { Description = "A training run: sample its EMA model at every --solvers x --nfe point from the same noise, score each, write RUN/eval/ (resumable)" };
        var classifier = new Option<string?>("--classifier") { Description = "Classifier from `catchup classifier train` (default: the shipped one for the data set, when there is one)" };
        var data = new Option<string?>("--data") { Description = "Dataset directory with the real test split (default: the run's, else Debian's Fashion-MNIST)" };
        var dataset = new Option<string?>("--dataset") { Description = "fashion-mnist | mnist | cifar10 (default: the run's or samples', else the classifier's)" };
        var realCount = new Option<int?>("--real-count") { Description = "Use the first N real test images (default: all)" };
        var outPath = new Option<string?>("--out") { Description = "With --samples: write the metrics JSON here" };
        var threads = new Option<int>("--threads") { Description = "CPU threads", DefaultValueFactory = _ => Environment.ProcessorCount };
        var inception = new Option<string?>("--inception") { Description = "With --samples: also FID, precision and recall on Inception-v3 pool3 features (pytorch-fid's weights as safetensors)" };
        var solvers = new Option<string?>("--solvers") { Description = $"With --run: comma-separated solvers (default {EvalRunMode.DefaultSolvers}; heun runs at the odd NFE below an even one)" };
        var nfe = new Option<string?>("--nfe") { Description = $"With --run: comma-separated NFEs (default {EvalRunMode.DefaultNfe})" };
        var count = new Option<int?>("--count") { Description = $"With --run: images per point (default {EvalRunMode.DefaultCount})" };
        var head = new Option<int?>("--head") { Description = "With --run: 1 = main output, 2 / 3 = extra heads (default 1)" };
        var seed = new Option<ulong?>("--seed") { Description = "With --run: seed of the noise shared by every point (default 0)" };
        var batch = new Option<int?>("--batch") { Description = $"With --run: images per network call (default {EvalRunMode.DefaultBatch})" };
        var device = DeviceOption.Create();
        var command = new Command("eval", "Score generated samples, or a run over a solver x NFE grid: FID, IS, precision and recall in the classifier's feature space")
        {
            samples, run, classifier, data, dataset, realCount, outPath, threads, inception, solvers, nfe, count, head, seed, batch, device,
        };
        command.SetAction(r => CliApp.Guard(() =>
        {
            var grid = new GridFlags(r.GetValue(solvers), r.GetValue(nfe), r.GetValue(count), r.GetValue(head), r.GetValue(seed), r.GetValue(batch), r.GetValue(device)!);
            string? runDir = r.GetValue(run), samplesPath = r.GetValue(samples);
            if ((runDir is null) == (samplesPath is null)) throw new CliUsageException("give either --samples DIR|FILE or --run DIR");
            if (r.GetValue(threads) < 1) throw new CliUsageException("--threads must be at least 1");
            if (r.GetValue(realCount) is < 2) throw new CliUsageException("--real-count must be at least 2");
            if (r.GetValue(dataset) is string ds) DatasetArguments.Parse(ds);
            if (runDir is not null)
            {
                if (r.GetValue(outPath) is not null || r.GetValue(inception) is not null)
                    throw new CliUsageException("--out and --inception apply to --samples; eval --run writes RUN/eval/");
                return EvalRunMode.Run(runDir, r.GetValue(classifier), r.GetValue(data), r.GetValue(dataset), r.GetValue(realCount), r.GetValue(threads), grid);
            }
            if (grid is not { Solvers: null, Nfe: null, Count: null, Head: null, Seed: null, Batch: null })
                throw new CliUsageException("--solvers, --nfe, --count, --head, --seed and --batch apply to --run (to score a sample directory, sample it first)");
            return Run(samplesPath!, r.GetValue(classifier), r.GetValue(data), r.GetValue(dataset), r.GetValue(realCount), r.GetValue(outPath),
                r.GetValue(threads), r.GetValue(inception));
        }));
        return command;
    }

    /// <summary>A `catchup sample` output directory stands for its samples.safetensors.</summary>
    internal static string ResolveSamples(string path)
    {
        if (!Directory.Exists(path)) return path;
        string file = Path.Combine(path, "samples.safetensors");
        return File.Exists(file) ? file : throw new CliUsageException($"--samples {path}: a directory without samples.safetensors (give `catchup sample`'s --out directory or a samples file)");
    }

    /// <summary>The options of the run the samples came from (their metadata's <c>source</c> checkpoint), when it is still there.</summary>
    private static TrainingOptions? SourceRun(SafetensorsFile file)
    {
        if (!file.Metadata.TryGetValue("source", out var source)) return null;
        string? runDir = Path.GetDirectoryName(source);
        if (runDir is null || !File.Exists(Path.Combine(runDir, "config.json"))) return null;
        try { return ModelLoading.LoadRunOptions(runDir); }
        catch (InvalidDataFileException) { return null; }
    }

    private static int Run(string samplesArgument, string? classifierPath, string? dataDir, string? datasetName, int? realCount, string? outPath, int threads,
        string? inceptionPath)
    {
        string samplesPath = ResolveSamples(samplesArgument);
        var file = SafetensorsFile.Read(samplesPath);
        // Defaults from the samples: the data set `catchup sample` recorded (else their run's), and that run's data directory.
        var sourceRun = SourceRun(file);
        string? samplesDataset = file.Metadata.TryGetValue("dataset", out var recorded) ? recorded : sourceRun?.Dataset;
        if (dataDir is null && sourceRun is not null && sourceRun.Dataset == (datasetName ?? samplesDataset)) dataDir = sourceRun.DataDir;
        if (classifierPath is null)
        {
            datasetName ??= samplesDataset ?? throw new CliUsageException(
                $"--samples {samplesArgument}: its data set is not recorded; give --dataset (for the shipped classifier) or --classifier");
            DatasetArguments.Parse(datasetName);
            classifierPath = DefaultClassifier.Require(datasetName);
            Console.WriteLine($"classifier: {classifierPath} (the shipped one for {datasetName})");
        }
        var metadata = ClassifierFile.ReadMetadata(SafetensorsFile.Read(classifierPath));
        var cfg = metadata.Config;
        var x = file.Tensors.TryGetValue("x", out var t) ? t
            : throw new InvalidDataFileException(samplesPath, $"tensor 'x' is missing (the file holds: {string.Join(", ", file.Tensors.Keys)})");
        if (x.Rank != 4 || x.Shape[1] != cfg.InChannels || x.Shape[2] != cfg.Resolution || x.Shape[3] != cfg.Resolution)
            throw new InvalidDataFileException(samplesPath, $"tensor 'x' has shape {HostTensor.FormatShape(x.Shape)}, the classifier {classifierPath} takes [N, {cfg.InChannels}, {cfg.Resolution}, {cfg.Resolution}]");
        int count = x.Shape[0];
        if (count <= PrecisionRecall.DefaultK)
            throw new InvalidDataFileException(samplesPath, $"holds {count} samples; evaluation needs at least {PrecisionRecall.DefaultK + 1}");
        int bad = Array.FindIndex(x.Data, v => !float.IsFinite(v));
        if (bad >= 0) throw new InvalidDataFileException(samplesPath, $"tensor 'x' holds a non-finite value ({x.Data[bad]}) in sample {bad / (x.Length / count)}");

        string dataset = datasetName ?? samplesDataset ?? metadata.Dataset;
        // Labels (class-conditional samples): one class of the data set per sample, for per-class FID.
        int[]? labels = file.Tensors.TryGetValue("y", out var y)
            ? LabelsFile.Check(y, samplesPath, count, ImageDataset.ClassesOf(DatasetArguments.Parse(dataset))) : null;
        EvaluationScores scores;
        EvaluationScores? inceptionScores = null;
        int realUsed;
        int[] realPerClass = [];
        try
        {
            using (var evaluator = SampleEvaluator.Create(classifierPath, dataset, dataDir, threads, realCount, Console.Out))
            {
                realUsed = evaluator.RealCount;
                realPerClass = Enumerable.Range(0, evaluator.Classes).Select(evaluator.RealCountOfClass).ToArray();
                scores = evaluator.Evaluate(x.Data, count, cfg.InChannels, cfg.Resolution, cfg.Resolution, labels);
            }
            if (inceptionPath is not null)
            {
                var kind = DatasetArguments.Parse(dataset);
                using var evaluator = SampleEvaluator.Create(InceptionFeatureExtractor.Load(inceptionPath, threads), inceptionPath, dataset,
                    () => ImageDataset.Load(dataDir, kind, train: false), threads, realCount, Console.Out);
                inceptionScores = evaluator.Evaluate(x.Data, count, cfg.InChannels, cfg.Resolution, cfg.Resolution);
            }
        }
        catch (ArgumentException e)
        {
            throw new CliUsageException(e.Message);
        }

        string s = scores.FeatureSpace;
        var json = new JsonObject
        {
            ["feature_space"] = s,
            [$"fid_{s}"] = Number(scores.Fid),
            [$"is_{s}"] = Number(scores.InceptionScore),
            [$"is_std_{s}"] = Number(scores.InceptionScoreStd),
            [$"precision_{s}"] = Number(scores.Precision),
            [$"recall_{s}"] = Number(scores.Recall),
            ["count"] = scores.Count,
            ["real_count"] = realUsed,
            ["real_split"] = RealFeatureCache.Split,
            ["dataset"] = dataset,
            ["classifier"] = classifierPath,
            ["classifier_test_accuracy"] = metadata.TestAccuracy,
            ["samples"] = samplesPath,
        };
        // Whatever the sampler recorded about the samples (e.g. trajectory straightness, NFE) is passed through.
        if (file.Metadata.Count > 0)
        {
            var passed = new JsonObject();
            foreach (var (key, value) in file.Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                passed[key] = double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v) ? v : value;
            json["samples_metadata"] = passed;
        }
        Console.WriteLine($"{s} feature space ({metadata.Config.FeatureDim}-d; classifier test accuracy {metadata.TestAccuracy:P2}), {count} samples vs {realUsed} real {dataset} test images:");
        Console.WriteLine($"  FID_{s}       {scores.Fid:F3}");
        Console.WriteLine($"  IS_{s}        {scores.InceptionScore:F3} +- {scores.InceptionScoreStd:F3}");
        Console.WriteLine($"  precision_{s} {scores.Precision:F4}");
        Console.WriteLine($"  recall_{s}    {scores.Recall:F4}");
        if (scores.PerClass is { } perClass)
        {
            json["fid_per_class_mean"] = Number(perClass.MeanFid);
            json["per_class"] = new JsonArray(perClass.Scored.Select(c => (JsonNode)new JsonObject { ["class"] = c.Class, ["count"] = c.Count, ["fid"] = c.Fid }).ToArray());
            if (perClass.Skipped.Any())
                json["per_class_skipped"] = new JsonArray(perClass.Skipped.Select(c => (JsonNode)new JsonObject { ["class"] = c.Class, ["count"] = c.Count }).ToArray());
            PrintPerClass(perClass, s, realPerClass);
        }
        if (inceptionScores is { } inc)
        {
            string i = inc.FeatureSpace;
            json[$"fid_{i}"] = Number(inc.Fid);
            json[$"precision_{i}"] = Number(inc.Precision);
            json[$"recall_{i}"] = Number(inc.Recall);
            json["inception_weights"] = inceptionPath;
            Console.WriteLine($"{i} feature space (2048-d, pytorch-fid's FID Inception-v3), the same images:");
            Console.WriteLine($"  FID_{i}       {inc.Fid:F3}");
            Console.WriteLine($"  precision_{i} {inc.Precision:F4}");
            Console.WriteLine($"  recall_{i}    {inc.Recall:F4}");
        }
        string text = json.ToJsonString();
        if (outPath is not null)
        {
            string? dir = Path.GetDirectoryName(Path.GetFullPath(outPath));
            if (dir is not null) Directory.CreateDirectory(dir);
            AtomicFile.WriteAllText(outPath, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        }
        Console.WriteLine(text);
        return 0;
    }

    /// <summary>The per-class FIDs, four (class, count, FID) cells a line, their mean, and which classes were skipped and why
    /// (<paramref name="realPerClass"/>: the real test images of each class).</summary>
    private static void PrintPerClass(PerClassFid perClass, string space, int[] realPerClass)
    {
        const int perLine = 4;
        var scored = perClass.Scored.ToList();
        Console.WriteLine($"  per-class FID_{space} (samples of class k vs real test images of class k), {scored.Count} of {perClass.Present.Count} classes present:");
        for (int i = 0; i < scored.Count; i += perLine)
            Console.WriteLine("  " + string.Join("  |", scored.Skip(i).Take(perLine).Select(c =>
                string.Create(CultureInfo.InvariantCulture, $"  class {c.Class,4} n {c.Count,5}  FID {c.Fid,8:F3}"))));
        Console.WriteLine(scored.Count > 0
            ? string.Create(CultureInfo.InvariantCulture, $"  FID_{space} per-class mean {perClass.MeanFid:F3} (over {scored.Count} classes)")
            : $"  FID_{space} per-class mean: none (no class has {PerClassFid.MinimumCount} samples and {PerClassFid.MinimumCount} real test images)");
        if (perClass.Skipped.Any())
            Console.WriteLine($"  note: skipped, with fewer than {PerClassFid.MinimumCount} samples or real test images: " +
                string.Join(", ", perClass.Skipped.Select(c => $"class {c.Class} ({c.Count} samples, {realPerClass[c.Class]} real)")));
    }

    private static JsonNode? Number(double v) => double.IsFinite(v) ? JsonValue.Create(v) : null;
}
