using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using CatchUp.Data;
using CatchUp.Evaluation;
using CatchUp.Evaluation.Inception;
using CatchUp.IO;

namespace CatchUp.Cli;

/// <summary><c>catchup eval</c>: FID, Inception Score and precision/recall of generated samples in the classifier's feature space.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var samples = new Option<string>("--samples") { Description = "safetensors with x [N,C,H,W] in [-1,1] (generated images)", Required = true };
        var classifier = new Option<string>("--classifier") { Description = "Classifier from `catchup classifier train`", Required = true };
        var data = new Option<string?>("--data") { Description = "Dataset directory with the real test split (default: Debian's Fashion-MNIST)" };
        var dataset = new Option<string?>("--dataset") { Description = "fashion-mnist | mnist | cifar10 (default: the classifier's)" };
        var realCount = new Option<int?>("--real-count") { Description = "Use the first N real test images (default: all)" };
        var outPath = new Option<string?>("--out") { Description = "Write the metrics JSON here" };
        var threads = new Option<int>("--threads") { Description = "CPU threads", DefaultValueFactory = _ => Environment.ProcessorCount };
        var inception = new Option<string?>("--inception") { Description = "Also FID, precision and recall on Inception-v3 pool3 features: pytorch-fid's weights as safetensors" };
        var command = new Command("eval", "Score generated samples: FID, IS, precision and recall in the classifier's feature space")
        {
            samples, classifier, data, dataset, realCount, outPath, threads, inception,
        };
        command.SetAction(r => CliApp.Guard(() => Run(r.GetValue(samples)!, r.GetValue(classifier)!, r.GetValue(data), r.GetValue(dataset),
            r.GetValue(realCount), r.GetValue(outPath), r.GetValue(threads), r.GetValue(inception))));
        return command;
    }

    private static int Run(string samplesPath, string classifierPath, string? dataDir, string? datasetName, int? realCount, string? outPath, int threads,
        string? inceptionPath)
    {
        if (threads < 1) throw new CliUsageException("--threads must be at least 1");
        if (realCount is < 2) throw new CliUsageException("--real-count must be at least 2");
        if (datasetName is not null) DatasetArguments.Parse(datasetName);
        var metadata = ClassifierFile.ReadMetadata(SafetensorsFile.Read(classifierPath));
        var cfg = metadata.Config;
        var file = SafetensorsFile.Read(samplesPath);
        var x = file.Tensors.TryGetValue("x", out var t) ? t
            : throw new InvalidDataFileException(samplesPath, $"tensor 'x' is missing (the file holds: {string.Join(", ", file.Tensors.Keys)})");
        if (x.Rank != 4 || x.Shape[1] != cfg.InChannels || x.Shape[2] != cfg.Resolution || x.Shape[3] != cfg.Resolution)
            throw new InvalidDataFileException(samplesPath, $"tensor 'x' has shape {HostTensor.FormatShape(x.Shape)}, the classifier {classifierPath} takes [N, {cfg.InChannels}, {cfg.Resolution}, {cfg.Resolution}]");
        int count = x.Shape[0];
        if (count <= PrecisionRecall.DefaultK)
            throw new InvalidDataFileException(samplesPath, $"holds {count} samples; evaluation needs at least {PrecisionRecall.DefaultK + 1}");
        int bad = Array.FindIndex(x.Data, v => !float.IsFinite(v));
        if (bad >= 0) throw new InvalidDataFileException(samplesPath, $"tensor 'x' holds a non-finite value ({x.Data[bad]}) in sample {bad / (x.Length / count)}");

        string dataset = datasetName ?? metadata.Dataset;
        EvaluationScores scores;
        EvaluationScores? inceptionScores = null;
        int realUsed;
        try
        {
            using (var evaluator = SampleEvaluator.Create(classifierPath, dataset, dataDir, threads, realCount, Console.Out))
            {
                realUsed = evaluator.RealCount;
                scores = evaluator.Evaluate(x.Data, count, cfg.InChannels, cfg.Resolution, cfg.Resolution);
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

    private static JsonNode? Number(double v) => double.IsFinite(v) ? JsonValue.Create(v) : null;
}
