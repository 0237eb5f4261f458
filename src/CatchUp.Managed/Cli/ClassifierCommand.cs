using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CatchUp.Backends.Cpu;
using CatchUp.Data;
using CatchUp.Evaluation;
using CatchUp.Training;

namespace CatchUp.Cli;

/// <summary><c>catchup classifier train</c>: the dataset classifier whose features the evaluation metrics use.</summary>
internal static class ClassifierCommand
{
    public static Command Create()
    {
        var data = new Option<string?>("--data") { Description = "Dataset directory (default: Debian's Fashion-MNIST)" };
        var dataset = new Option<string?>("--dataset") { Description = "fashion-mnist | mnist | cifar10 (default: detected from --data)" };
        var outPath = new Option<string?>("--out") { Description = "Classifier file to write (default classifier-<dataset>.safetensors)" };
        var epochs = new Option<int>("--epochs") { Description = "Passes over the training split", DefaultValueFactory = _ => 4 };
        var batch = new Option<int>("--batch") { Description = "Batch size", DefaultValueFactory = _ => 64 };
        var lr = new Option<float>("--lr") { Description = "Peak Adam learning rate (linear warm-up, cosine decay)", DefaultValueFactory = _ => 2e-3f };
        var seed = new Option<ulong>("--seed") { Description = "Seed: weights and data order", DefaultValueFactory = _ => 0UL };
        var threads = new Option<int>("--threads") { Description = "CPU threads", DefaultValueFactory = _ => Environment.ProcessorCount };
        var limit = new Option<int?>("--train-count") { Description = "Use only the first N training images (quick runs)" };
        var train = new Command("train", "Train the evaluation classifier and report its test accuracy")
        {
            data, dataset, outPath, epochs, batch, lr, seed, threads, limit,
        };
        train.SetAction(r => CliApp.Guard(() =>
        {
            string? dir = r.GetValue(data);
            string name = r.GetValue(dataset) ?? (dir is null ? "fashion-mnist" : DatasetArguments.Detect(dir));
            var options = new ClassifierTrainingOptions(r.GetValue(epochs), r.GetValue(batch), r.GetValue(lr), r.GetValue(seed));
            try { options.Validate(); }
            catch (ArgumentException e) { throw new CliUsageException(e.Message); }
            int th = r.GetValue(threads);
            if (th < 1) throw new CliUsageException("--threads must be at least 1");
            int? count = r.GetValue(limit);
            if (count is < 2) throw new CliUsageException("--train-count must be at least 2");
            return Train(dir, name, r.GetValue(outPath) ?? $"classifier-{name}.safetensors", options, th, count);
        }));
        return new Command("classifier", "The dataset classifier used as the evaluation feature space") { train };
    }

    internal static int Train(string? dataDir, string datasetName, string outPath, ClassifierTrainingOptions options, int threads, int? trainCount)
    {
        var kind = DatasetArguments.Parse(datasetName);
        var trainSet = ImageDataset.Load(dataDir, kind, train: true);
        if (trainCount is int n && n < trainSet.Count) trainSet = trainSet.Head(n);
        var testSet = ImageDataset.Load(dataDir, kind, train: false);
        string? outDir = Path.GetDirectoryName(Path.GetFullPath(outPath));
        if (outDir is not null) Directory.CreateDirectory(outDir);

        using var backend = new CpuBackend(threads);
        using var trainer = new ClassifierTrainer(options, backend, trainSet);
        var cfg = trainer.Network.Config;
        Console.WriteLine($"classifier {cfg} ({trainer.Network.Parameters.ElementCount:N0} parameters), {features(cfg)}; " +
                          $"{datasetName}: {trainSet.Count} training images, {testSet.Count} test images ({trainSet.Source})");
        Console.WriteLine($"{options.Epochs} epochs = {trainer.TotalIterations} iterations of batch {options.Batch}, Adam lr {options.LearningRate:G3}, seed {options.Seed}, {threads} threads");
        var clock = Stopwatch.StartNew();
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
        Console.CancelKeyPress += onCancel;
        double lastLoss;
        try { lastLoss = trainer.Train(Console.Out, cancel.Token); }
        catch (TrainingDivergedException e) { Console.Error.WriteLine($"catchup: error: {e.Message}"); return 1; }
        finally { Console.CancelKeyPress -= onCancel; }
        if (cancel.IsCancellationRequested)
        {
            Console.Error.WriteLine($"catchup: interrupted at iteration {trainer.Iteration}; nothing written");
            return 130;
        }
        double trainSeconds = clock.Elapsed.TotalSeconds;
        double accuracy = ClassifierTrainer.Accuracy(trainer.Network, testSet);
        string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        ClassifierFile.Save(outPath, trainer.Network, datasetName, accuracy, new Dictionary<string, string>
        {
            ["epochs"] = options.Epochs.ToString(CultureInfo.InvariantCulture),
            ["batch"] = options.Batch.ToString(CultureInfo.InvariantCulture),
            ["lr"] = F(options.LearningRate),
            ["seed"] = options.Seed.ToString(CultureInfo.InvariantCulture),
            ["train_count"] = trainSet.Count.ToString(CultureInfo.InvariantCulture),
            ["train_seconds"] = F(Math.Round(trainSeconds, 1)),
        });
        Console.WriteLine($"test accuracy {accuracy:P2} on {testSet.Count} {datasetName} test images; trained in {trainSeconds:F0} s; wrote {outPath}");
        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["classifier"] = outPath, ["dataset"] = datasetName, ["test_accuracy"] = accuracy, ["train_loss_last_epoch"] = lastLoss,
            ["train_seconds"] = Math.Round(trainSeconds, 1), ["feature_dim"] = cfg.FeatureDim,
        }));
        return 0;

        static string features(ClassifierConfig c) => $"{c.FeatureDim}-d features";
    }
}
