using CatchUp.Data;
using CatchUp.IO;

namespace CatchUp.Evaluation;

/// <summary>The scores of a sample set, all in the feature space <see cref="FeatureSpace"/> (e.g. "classifier").
/// <see cref="InceptionScore"/> and its std are NaN when the extractor gives no class probabilities.</summary>
public sealed record EvaluationScores(string FeatureSpace, double Fid, double InceptionScore, double InceptionScoreStd, double Precision, double Recall, int Count);

/// <summary>
/// Scores generated images against the real test split of a data set: FID, Inception Score (10 splits) and
/// precision/recall (k = 3), in one feature extractor's space. The real features are cached (<see cref="RealFeatureCache"/>).
/// Precision and recall compare equally many points: the first min(count, real count) of each set.
/// </summary>
public sealed class SampleEvaluator : IDisposable
{
    private readonly IFeatureExtractor _extractor;
    private readonly float[] _real;
    private readonly double[] _realMean, _realCovariance;
    private readonly int _threads;

    private SampleEvaluator(IFeatureExtractor extractor, float[] real, int realCount, int threads, string dataset, string weightsSha256)
    {
        _extractor = extractor;
        Dataset = dataset;
        WeightsSha256 = weightsSha256;
        _threads = threads;
        RealCount = realCount;
        _real = real;
        var stats = new FeatureStatistics(extractor.FeatureDim);
        var row = new double[extractor.FeatureDim];
        for (int i = 0; i < realCount; i++)
        {
            for (int j = 0; j < row.Length; j++) row[j] = real[i * row.Length + j];
            stats.Add(row);
        }
        _realMean = stats.Mean();
        _realCovariance = stats.Covariance();
    }

    public IFeatureExtractor Extractor => _extractor;
    /// <summary>How many real test images the statistics use.</summary>
    public int RealCount { get; }
    /// <summary>The data set whose test split is the real set.</summary>
    public string Dataset { get; }
    /// <summary>The SHA-256 of the feature extractor's weights file: with <see cref="Dataset"/> and <see cref="RealCount"/>, what
    /// makes two evaluations comparable.</summary>
    public string WeightsSha256 { get; }

    /// <summary>Loads the classifier and the (cached) real statistics of the dataset's test split.</summary>
    public static SampleEvaluator Create(string classifierPath, string dataset, string? dataDir, int threads) =>
        Create(classifierPath, dataset, dataDir, threads, realCount: null, Console.Out);

    /// <summary>As above; <paramref name="realCount"/> limits the real images to the first N of the test split.</summary>
    public static SampleEvaluator Create(string classifierPath, string dataset, string? dataDir, int threads, int? realCount, TextWriter log)
    {
        var kind = ParseDataset(dataset);
        var extractor = ClassifierFeatureExtractor.Load(classifierPath, threads);
        try
        {
            string trainedOn = extractor.Metadata!.Dataset;
            if (trainedOn != dataset)
                throw new InvalidDataFileException(classifierPath, $"was trained on {trainedOn}, not {dataset}: its features describe {trainedOn} images");
            var cfg = extractor.Config;
            return Create(extractor, classifierPath, dataset, () =>
            {
                var real = ImageDataset.Load(dataDir, kind, train: false);
                if (real.Channels != cfg.InChannels || real.Height != cfg.Resolution || real.Width != cfg.Resolution)
                    throw new InvalidDataFileException(real.Source, $"images are {real.Channels}x{real.Height}x{real.Width}, the classifier {classifierPath} takes {cfg.InChannels}x{cfg.Resolution}x{cfg.Resolution}");
                return real;
            }, threads, realCount, log);
        }
        catch
        {
            extractor.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Any feature extractor (the evaluator takes ownership): <paramref name="weightsPath"/> keys the real-feature cache,
    /// <paramref name="loadReal"/> supplies the real test images when the cache must be (re)built.
    /// </summary>
    public static SampleEvaluator Create(IFeatureExtractor extractor, string weightsPath, string dataset, Func<ImageDataset> loadReal,
        int threads, int? realCount, TextWriter log)
    {
        ParseDataset(dataset);
        float[] real = RealFeatureCache.LoadOrCompute(weightsPath, extractor, dataset, loadReal, log);
        int available = real.Length / extractor.FeatureDim;
        if (realCount is int requested)
        {
            if (requested < 2) throw new ArgumentException($"the real count must be at least 2, got {requested}");
            if (requested > available) throw new ArgumentException($"{requested} real images requested but the {dataset} {RealFeatureCache.Split} split has {available}");
        }
        return new SampleEvaluator(extractor, real, realCount ?? available, Math.Max(threads, 1), dataset, FileHash.Sha256(weightsPath));
    }

    /// <summary>samples: [count, channels, height, width] in [-1, 1]; count >= 4 (precision/recall needs more than k points).</summary>
    public EvaluationScores Evaluate(float[] samples, int count, int channels, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(samples);
        if (count <= PrecisionRecall.DefaultK) throw new ArgumentException($"evaluation needs at least {PrecisionRecall.DefaultK + 1} samples, got {count}");
        if (samples.Length != (long)count * channels * height * width)
            throw new ArgumentException($"{count} samples of {channels}x{height}x{width} need {(long)count * channels * height * width} values, got {samples.Length}");
        int bad = Array.FindIndex(samples, v => !float.IsFinite(v));
        if (bad >= 0) throw new ArgumentException($"sample {bad / (channels * height * width)} holds a non-finite value ({samples[bad]})");

        int d = _extractor.FeatureDim, classes = _extractor.Classes;
        var features = new double[(long)count * d];
        var probs = classes > 0 ? new double[(long)count * classes] : null;
        _extractor.Extract(samples, count, channels, height, width, features, probs);

        var fake = FeatureStatistics.Of(features, d);
        double fid = FrechetDistance.Compute(fake.Mean(), fake.Covariance(), _realMean, _realCovariance, d);
        var (isMean, isStd) = probs is null ? (double.NaN, double.NaN) : InceptionScore.Compute(probs, count, classes);

        int m = Math.Min(count, RealCount);
        var fakeFloat = new float[m * d];
        for (int i = 0; i < fakeFloat.Length; i++) fakeFloat[i] = (float)features[i];
        var (precision, recall) = PrecisionRecall.Compute(_real.AsSpan(0, m * d).ToArray(), m, fakeFloat, m, d, threads: _threads);
        return new EvaluationScores(_extractor.FeatureSpace, fid, isMean, isStd, precision, recall, count);
    }

    private static DatasetKind ParseDataset(string dataset) => DatasetNames.TryParse(dataset, out var kind) ? kind
        : throw new ArgumentException($"dataset '{dataset}': expected {DatasetNames.Expected}");

    public void Dispose() => (_extractor as IDisposable)?.Dispose();
}
