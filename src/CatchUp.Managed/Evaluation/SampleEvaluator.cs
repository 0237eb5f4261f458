using CatchUp.Data;
using CatchUp.IO;

namespace CatchUp.Evaluation;

/// <summary>The scores of a sample set, all in the feature space <see cref="FeatureSpace"/> (e.g. "classifier").
/// <see cref="InceptionScore"/> and its std are NaN when the extractor gives no class probabilities. <see cref="PerClass"/>
/// holds per-class FIDs when the samples came with labels, else null.</summary>
public sealed record EvaluationScores(string FeatureSpace, double Fid, double InceptionScore, double InceptionScoreStd, double Precision, double Recall, int Count,
    PerClassFid? PerClass = null);

/// <summary>
/// Scores generated images against the real test split of a data set: FID, Inception Score (10 splits) and
/// precision/recall (k = 3), in one feature extractor's space. The real features are cached (<see cref="RealFeatureCache"/>).
/// Precision and recall compare equally many points: the first min(count, real count) of each set. With labels, also the
/// FID of each class: the samples of class k against the real images of class k (among the real count used).
/// </summary>
public sealed class SampleEvaluator : IDisposable
{
    private readonly IFeatureExtractor _extractor;
    private readonly float[] _real;
    private readonly double[] _realMean, _realCovariance;
    /// <summary>The rows of the real features (below the real count) of each class.</summary>
    private readonly List<int>[] _realRowsByClass;
    private readonly int _threads;

    private SampleEvaluator(IFeatureExtractor extractor, RealFeatures real, int realCount, int threads, string dataset, string weightsSha256)
    {
        _extractor = extractor;
        Dataset = dataset;
        WeightsSha256 = weightsSha256;
        _threads = threads;
        RealCount = realCount;
        _real = real.Features;
        Classes = RealFeatureCache.ClassesOf(dataset);
        _realRowsByClass = RowsByClass(real.Labels.AsSpan(0, realCount), Classes);
        var stats = RealStatistics(Enumerable.Range(0, realCount));
        _realMean = stats.Mean();
        _realCovariance = stats.Covariance();
    }

    /// <summary>The statistics of the real features at <paramref name="rows"/>.</summary>
    private FeatureStatistics RealStatistics(IEnumerable<int> rows)
    {
        int d = _extractor.FeatureDim;
        var stats = new FeatureStatistics(d);
        var row = new double[d];
        foreach (int i in rows)
        {
            for (int j = 0; j < d; j++) row[j] = _real[i * d + j];
            stats.Add(row);
        }
        return stats;
    }

    private static List<int>[] RowsByClass(ReadOnlySpan<int> labels, int classes)
    {
        var rows = new List<int>[classes];
        for (int k = 0; k < classes; k++) rows[k] = [];
        for (int i = 0; i < labels.Length; i++) rows[labels[i]].Add(i);
        return rows;
    }

    public IFeatureExtractor Extractor => _extractor;
    /// <summary>How many real test images the statistics use.</summary>
    public int RealCount { get; }
    /// <summary>The data set whose test split is the real set.</summary>
    public string Dataset { get; }
    /// <summary>How many classes the data set's labels (and the labels <see cref="Evaluate"/> takes) range over.</summary>
    public int Classes { get; }
    /// <summary>How many of the real test images used are of class <paramref name="k"/>.</summary>
    public int RealCountOfClass(int k) => _realRowsByClass[k].Count;
    /// <summary>The SHA-256 of the feature extractor's weights file: with <see cref="Dataset"/> and <see cref="RealCount"/>, what
    /// makes two evaluations comparable.</summary>
    public string WeightsSha256 { get; }

    /// <summary>Loads the classifier and the (cached) real statistics of the dataset's test split.</summary>
    public static SampleEvaluator Create(string classifierPath, string dataset, string? dataDir, int threads) =>
        Create(classifierPath, dataset, dataDir, threads, realCount: null, Console.Out);

    /// <summary>As above; <paramref name="realCount"/> limits the real images to the first N of the test split.</summary>
    public static SampleEvaluator Create(string classifierPath, string dataset, string? dataDir, int threads, int? realCount, TextWriter log)
    {
        var kind = DatasetNames.Parse(dataset);
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
        DatasetNames.Parse(dataset);
        var real = RealFeatureCache.LoadOrCompute(weightsPath, extractor, dataset, loadReal, log);
        int available = real.Labels.Length;
        if (realCount is int requested)
        {
            if (requested < 2) throw new ArgumentException($"the real count must be at least 2, got {requested}");
            if (requested > available) throw new ArgumentException($"{requested} real images requested but the {dataset} {RealFeatureCache.Split} split has {available}");
        }
        return new SampleEvaluator(extractor, real, realCount ?? available, Math.Max(threads, 1), dataset, FileHash.Sha256(weightsPath));
    }

    /// <summary>samples: [count, channels, height, width] in [-1, 1]; count >= 4 (precision/recall needs more than k points).
    /// With <paramref name="labels"/> (one class in [0, <see cref="Classes"/>) per sample) the scores include per-class FIDs.</summary>
    public EvaluationScores Evaluate(float[] samples, int count, int channels, int height, int width, int[]? labels = null)
    {
        ArgumentNullException.ThrowIfNull(samples);
        if (count <= PrecisionRecall.DefaultK) throw new ArgumentException($"evaluation needs at least {PrecisionRecall.DefaultK + 1} samples, got {count}");
        if (samples.Length != (long)count * channels * height * width)
            throw new ArgumentException($"{count} samples of {channels}x{height}x{width} need {(long)count * channels * height * width} values, got {samples.Length}");
        int bad = Array.FindIndex(samples, v => !float.IsFinite(v));
        if (bad >= 0) throw new ArgumentException($"sample {bad / (channels * height * width)} holds a non-finite value ({samples[bad]})");
        if (labels is not null)
        {
            if (labels.Length != count) throw new ArgumentException($"{count} samples need {count} labels, got {labels.Length}");
            int badLabel = Array.FindIndex(labels, l => (uint)l >= (uint)Classes);
            if (badLabel >= 0) throw new ArgumentException($"label {labels[badLabel]} of sample {badLabel} is outside the {Dataset} classes [0, {Classes})");
        }

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
        var perClass = labels is null ? null : PerClass(features, labels);
        return new EvaluationScores(_extractor.FeatureSpace, fid, isMean, isStd, precision, recall, count, perClass);
    }

    /// <summary>The FID of each class present in <paramref name="labels"/>: the features of its samples against the real features
    /// of that class; NaN for a class with fewer than <see cref="PerClassFid.MinimumCount"/> samples on either side.</summary>
    private PerClassFid PerClass(double[] features, int[] labels)
    {
        int d = _extractor.FeatureDim;
        var present = new List<ClassFid>();
        var fakeRows = RowsByClass(labels, Classes);
        for (int k = 0; k < Classes; k++)
        {
            var rows = fakeRows[k];
            if (rows.Count == 0) continue;
            double fid = double.NaN;
            if (rows.Count >= PerClassFid.MinimumCount && _realRowsByClass[k].Count >= PerClassFid.MinimumCount)
            {
                var fake = new FeatureStatistics(d);
                foreach (int i in rows) fake.Add(features.AsSpan(i * d, d));
                fid = FrechetDistance.Compute(fake, RealStatistics(_realRowsByClass[k]));
            }
            present.Add(new ClassFid(k, rows.Count, fid));
        }
        return new PerClassFid(Classes, present);
    }

    public void Dispose() => (_extractor as IDisposable)?.Dispose();
}
