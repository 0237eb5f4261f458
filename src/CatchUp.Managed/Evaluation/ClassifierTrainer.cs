using CatchUp.Backends;
using CatchUp.Data;
using CatchUp.Tensors;
using CatchUp.Training;

namespace CatchUp.Evaluation;

/// <summary>How the evaluation classifier is trained. The learning rate warms up linearly over the first
/// <see cref="WarmupFraction"/> of the iterations, then follows a cosine decay to zero.</summary>
public sealed record ClassifierTrainingOptions(int Epochs = 4, int Batch = 64, float LearningRate = 2e-3f, ulong Seed = 0, int[]? Widths = null)
{
    public const double WarmupFraction = 0.02;

    public void Validate()
    {
        if (Epochs < 1) throw new ArgumentException($"epochs must be at least 1, got {Epochs}");
        if (Batch < 1) throw new ArgumentException($"batch must be at least 1, got {Batch}");
        if (!(LearningRate > 0) || !float.IsFinite(LearningRate)) throw new ArgumentException($"learning rate must be positive, got {LearningRate}");
    }

    public long IterationsFor(int trainCount) => (long)Epochs * ((trainCount + Batch - 1) / Batch);

    public double LearningRateAt(long iteration, long total)
    {
        long warmup = Math.Max(1, (long)(WarmupFraction * total));
        if (iteration < warmup) return LearningRate * (iteration + 1) / warmup;
        return LearningRate * 0.5 * (1 + Math.Cos(Math.PI * (iteration - warmup) / Math.Max(total - warmup, 1)));
    }
}

/// <summary>Trains the evaluation classifier with softmax cross-entropy and Adam on shuffled batches (random flips for CIFAR-10).</summary>
public sealed class ClassifierTrainer : IDisposable
{
    private readonly ClassifierTrainingOptions _o;
    private readonly IBackend _b;
    private readonly BatchSampler _sampler;
    private readonly AdamOptimizer _optimizer;
    private readonly float[] _batchHost, _logitsHost, _gradHost;
    private readonly int[] _labels;
    private readonly Tensor _x, _dLogits;

    public ClassifierTrainer(ClassifierTrainingOptions options, IBackend backend, ImageDataset train)
    {
        options.Validate();
        _o = options;
        _b = backend;
        if (train.Height != train.Width) throw new ArgumentException($"the classifier takes square images, {train.Source} has {train.Height}x{train.Width}");
        var config = ClassifierConfig.For(train.Channels, train.Height) with { Widths = options.Widths ?? ClassifierConfig.DefaultWidths };
        Network = new ClassifierNetwork(config, backend);
        Network.Parameters.Initialize(options.Seed);
        _optimizer = new AdamOptimizer(backend, Network.Parameters.All);
        _sampler = new BatchSampler(train, options.Batch, options.Seed, randomFlip: train.Kind == DatasetKind.Cifar10);
        _batchHost = new float[_sampler.BatchElements];
        _labels = new int[options.Batch];
        _logitsHost = new float[options.Batch * config.Classes];
        _gradHost = new float[_logitsHost.Length];
        _x = backend.Allocate([options.Batch, train.Channels, train.Height, train.Width]);
        _dLogits = backend.Allocate([options.Batch, config.Classes]);
        TotalIterations = options.IterationsFor(train.Count);
    }

    public ClassifierNetwork Network { get; }
    public long TotalIterations { get; }
    public long Iteration { get; private set; }

    /// <summary>Runs every iteration, reporting progress (it/s, loss, ETA) to <paramref name="output"/>; returns the mean training loss of the last epoch.</summary>
    public double Train(TextWriter output, CancellationToken cancel = default)
    {
        long perEpoch = TotalIterations / _o.Epochs;
        var progress = new ProgressLine(0, TotalIterations, Math.Max(perEpoch / 10, 1), output);
        double smoothed = double.NaN, epochLoss = 0;
        while (Iteration < TotalIterations && !cancel.IsCancellationRequested)
        {
            double loss = Step(_o.LearningRateAt(Iteration, TotalIterations));
            smoothed = double.IsNaN(smoothed) ? loss : 0.98 * smoothed + 0.02 * loss;
            if (Iteration % perEpoch == 0) epochLoss = 0;
            epochLoss += loss;
            Iteration++;
            progress.Update(Iteration, smoothed);
        }
        return epochLoss / perEpoch;
    }

    /// <summary>One Adam step on the next batch; returns its loss.</summary>
    public double Step(double learningRate)
    {
        _sampler.NextBatch(_batchHost, _labels);
        _b.Upload(_batchHost, _x);
        Network.Parameters.ZeroGrad();
        var logits = Network.Forward(_x);
        _b.Download(logits, _logitsHost);
        var (loss, _) = SoftmaxCrossEntropy.Compute(_logitsHost, _labels, Network.Config.Classes, _gradHost);
        if (!double.IsFinite(loss)) throw new TrainingDivergedException($"classifier training diverged at iteration {Iteration + 1} (loss {loss}); lower --lr");
        _b.Upload(_gradHost, _dLogits);
        Network.Backward(_dLogits);
        _optimizer.Step((float)learningRate);
        return loss;
    }

    /// <summary>Fraction of <paramref name="test"/> the network classifies correctly (arg-max of the logits).</summary>
    public static double Accuracy(ClassifierNetwork network, ImageDataset test)
    {
        const int batch = 250;
        var b = network.Parameters.Backend;
        int size = test.ImageSize, classes = network.Config.Classes;
        var logitsHost = new float[batch * classes];
        var labels = new int[batch];
        Tensor? x = null;
        long correct = 0;
        try
        {
            for (int start = 0; start < test.Count; start += batch)
            {
                int n = Math.Min(batch, test.Count - start);
                b.Ensure(ref x, n, test.Channels, test.Height, test.Width);
                b.Upload(test.Images.AsSpan(start * size, n * size), x!);
                var logits = network.Forward(x!);
                b.Download(logits, logitsHost.AsSpan(0, n * classes));
                for (int i = 0; i < n; i++) labels[i] = test.Labels[start + i];
                correct += SoftmaxCrossEntropy.Compute(logitsHost.AsSpan(0, n * classes), labels.AsSpan(0, n), classes, default).Correct;
            }
        }
        finally
        {
            x?.Dispose();
        }
        return (double)correct / test.Count;
    }

    public void Dispose()
    {
        _optimizer.Dispose();
        _x.Dispose();
        _dLogits.Dispose();
        Network.Dispose();
    }
}
