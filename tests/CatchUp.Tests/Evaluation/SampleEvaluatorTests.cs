using CatchUp.Evaluation;
using CatchUp.IO;
using Xunit;

namespace CatchUp.Tests.Evaluation;

public class SampleEvaluatorTests : IDisposable
{
    private readonly EvaluationFixture _f = new();

    public void Dispose() => _f.Dispose();

    private (SampleEvaluator Evaluator, string Log) Create(int? realCount = null)
    {
        var log = new StringWriter();
        var evaluator = SampleEvaluator.Create(_f.ClassifierPath, "mnist", _f.DataDir, 2, realCount, log);
        return (evaluator, log.ToString());
    }

    private EvaluationScores Score(SampleEvaluator e, float[] images) =>
        e.Evaluate(images, images.Length / (EvaluationFixture.Side * EvaluationFixture.Side), 1, EvaluationFixture.Side, EvaluationFixture.Side);

    [Fact]
    public void RealTestImagesScoredAgainstThemselvesHaveZeroFidAndFullPrecisionRecall()
    {
        var (evaluator, _) = Create();
        using (evaluator)
        {
            var scores = Score(evaluator, _f.TestImages());
            Assert.Equal("classifier", scores.FeatureSpace);
            Assert.Equal(EvaluationFixture.TestCount, scores.Count);
            Assert.Equal(EvaluationFixture.TestCount, evaluator.RealCount);
            Assert.InRange(scores.Fid, -1e-4, 1e-4);
            Assert.Equal(1.0, scores.Precision);
            Assert.Equal(1.0, scores.Recall);
            Assert.InRange(scores.InceptionScore, 1.0, 10.0);
        }
    }

    [Fact]
    public void ImagesUnlikeTheDataScoreWorse()
    {
        var (evaluator, _) = Create();
        using (evaluator)
        {
            var rng = new Random(5);
            var noise = Enumerable.Range(0, 40 * 64).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            var scores = Score(evaluator, noise);
            Assert.True(scores.Fid > 1e-2, $"FID {scores.Fid}");
            Assert.True(scores.Precision < 0.5, $"precision {scores.Precision}");
        }
    }

    [Fact]
    public void RealFeaturesAreCachedAndReusedWithIdenticalScores()
    {
        string cache = RealFeatureCache.PathFor(_f.ClassifierPath, "mnist");
        // In the per-user cache folder (the suite points XDG_CACHE_HOME at a temp folder), keyed by the weights' hash.
        Assert.Equal(Path.Combine(TestCacheDirectory.Catchup, $"classifier-{FileHash.Sha256(_f.ClassifierPath)[..16]}.stats-mnist.safetensors"), cache);
        Assert.False(File.Exists(_f.File("classifier.stats-mnist.safetensors")));
        var (first, log1) = Create();
        EvaluationScores a;
        var firstHalf = _f.TestImages().AsSpan(0, 20 * 64).ToArray();
        using (first) a = Score(first, firstHalf);
        Assert.Contains("extracting 40 mnist test images", log1);
        Assert.True(File.Exists(cache));
        var cached = SafetensorsFile.Read(cache);
        Assert.Equal([40, 16], cached.Get("features").Shape);
        // The test labels too (for per-class FID), as int64.
        Assert.Equal("I64", cached.Get("labels").DType);
        Assert.Equal(Enumerable.Range(0, 40).Select(i => (float)(i % 10)), cached.Get("labels").Data);
        Assert.Equal(FileHash.Sha256(_f.ClassifierPath), cached.Metadata["weights_sha256"]);

        // Without the data directory the cache alone must suffice.
        Directory.Delete(_f.DataDir, recursive: true);
        var log2 = new StringWriter();
        EvaluationScores b;
        using (var second = SampleEvaluator.Create(_f.ClassifierPath, "mnist", _f.DataDir, 2, null, log2))
            b = Score(second, firstHalf);
        Assert.Contains("from the cache", log2.ToString());
        Assert.Equal(a, b);
    }

    [Fact]
    public void NewClassifierWeightsInvalidateTheCache()
    {
        var (first, _) = Create();
        first.Dispose();
        string cache = RealFeatureCache.PathFor(_f.ClassifierPath, "mnist");
        float[] before = SafetensorsFile.Read(cache).Get("features").Data;

        // New weights have another cache file; a stale file at that name (here: the old weights' cache) is rebuilt.
        EvaluationFixture.WriteClassifier(_f.ClassifierPath, seed: 2);
        string newCache = RealFeatureCache.PathFor(_f.ClassifierPath, "mnist");
        Assert.NotEqual(cache, newCache);
        File.Copy(cache, newCache);
        var (second, log) = Create();
        second.Dispose();
        Assert.Contains("computed with other weights", log);
        Assert.Contains("extracting", log);
        var after = SafetensorsFile.Read(newCache);
        Assert.Equal(FileHash.Sha256(_f.ClassifierPath), after.Metadata["weights_sha256"]);
        Assert.NotEqual(before, after.Get("features").Data);
    }

    [Fact]
    public void ACorruptCacheIsRebuilt()
    {
        string cache = RealFeatureCache.PathFor(_f.ClassifierPath, "mnist");
        File.WriteAllBytes(cache, [1, 2, 3]);
        var (evaluator, log) = Create();
        evaluator.Dispose();
        Assert.Contains("not usable", log);
        Assert.Equal([40, 16], SafetensorsFile.Read(cache).Get("features").Shape);
    }

    [Fact]
    public void RealCountTakesTheFirstImagesOfTheTestSplit()
    {
        var (evaluator, _) = Create(realCount: 20);
        using (evaluator)
        {
            Assert.Equal(20, evaluator.RealCount);
            var scores = Score(evaluator, _f.TestImages().AsSpan(0, 20 * 64).ToArray());
            Assert.InRange(scores.Fid, -1e-4, 1e-4);
            Assert.Equal(1.0, scores.Recall);
        }
        Assert.Throws<ArgumentException>(() => Create(realCount: 41));
    }

    [Fact]
    public void AClassifierOfAnotherDatasetIsRefused()
    {
        var e = Assert.Throws<InvalidDataFileException>(() => SampleEvaluator.Create(_f.ClassifierPath, "fashion-mnist", _f.DataDir, 1, null, TextWriter.Null));
        Assert.Contains("trained on mnist", e.Message);
        Assert.Throws<ArgumentException>(() => SampleEvaluator.Create(_f.ClassifierPath, "imagenet", _f.DataDir, 1, null, TextWriter.Null));
    }

    [Fact]
    public void BadSamplesAreArgumentErrors()
    {
        var (evaluator, _) = Create();
        using (evaluator)
        {
            var images = _f.TestImages();
            images[70] = float.NaN;
            Assert.Contains("sample 1", Assert.Throws<ArgumentException>(() => Score(evaluator, images)).Message);
            Assert.Throws<ArgumentException>(() => evaluator.Evaluate(new float[3 * 64], 3, 1, 8, 8));
            Assert.Throws<ArgumentException>(() => evaluator.Evaluate(new float[10 * 3 * 64], 10, 3, 8, 8));
        }
    }

    /// <summary>The fixture's test images, each brightened by its own amount, so that every class is some distance from the real one.</summary>
    private float[] AlteredTestImages() =>
        _f.TestImages().Select((v, i) => Math.Min(v + 0.1f + 0.05f * (i / 64 % 7), 1f)).ToArray();

    [Fact]
    public void PerClassFidEqualsTheFrechetDistanceOfTheClassSubsets()
    {
        // 40 samples labelled like the test split (i % 10), except that samples 19, 29 and 39 move from class 9 to 8:
        // class 9 keeps 1 sample (skipped), class 8 gets 7.
        var samples = AlteredTestImages();
        var labels = Enumerable.Range(0, 40).Select(i => i % 10 == 9 && i > 9 ? 8 : i % 10).ToArray();
        var (evaluator, _) = Create();
        EvaluationScores scores;
        using (evaluator) scores = evaluator.Evaluate(samples, 40, 1, 8, 8, labels);

        var perClass = scores.PerClass!;
        Assert.Equal(10, perClass.Classes);
        Assert.Equal(Enumerable.Range(0, 10), perClass.Present.Select(c => c.Class));
        Assert.Equal([4, 4, 4, 4, 4, 4, 4, 4, 7, 1], perClass.CountByClass());
        Assert.Equal([9], perClass.Skipped.Select(c => c.Class));
        Assert.True(double.IsNaN(perClass.FidByClass()[9]));

        // The expected values: the existing FID code on the class subsets of independently extracted features.
        using var extractor = ClassifierFeatureExtractor.Load(_f.ClassifierPath, 1);
        int d = extractor.FeatureDim;
        var fake = new double[40 * d];
        var real = new double[40 * d];
        extractor.Extract(samples, 40, 1, 8, 8, fake, probs: null);
        extractor.Extract(_f.TestImages(), 40, 1, 8, 8, real, probs: null);
        FeatureStatistics Subset(double[] features, Func<int, bool> take)
        {
            var stats = new FeatureStatistics(d);
            for (int i = 0; i < 40; i++)
                if (take(i)) stats.Add(features.AsSpan(i * d, d));
            return stats;
        }
        var expected = new double[9];
        for (int k = 0; k < 9; k++)
        {
            expected[k] = FrechetDistance.Compute(Subset(fake, i => labels[i] == k), Subset(real, i => i % 10 == k));
            Assert.True(expected[k] > 1e-3, $"class {k}: the test needs a clearly non-zero distance, got {expected[k]}");
            Assert.Equal(expected[k], perClass.FidByClass()[k], 1e-6 * expected[k]);
        }
        Assert.Equal(expected.Average(), perClass.MeanFid, 1e-6 * expected.Average());
    }

    [Fact]
    public void WithoutLabelsThereAreNoPerClassScoresAndBadLabelsAreArgumentErrors()
    {
        var (evaluator, _) = Create();
        using (evaluator)
        {
            var samples = AlteredTestImages();
            Assert.Null(Score(evaluator, samples).PerClass);
            Assert.Contains("40 labels, got 39", Assert.Throws<ArgumentException>(() => evaluator.Evaluate(samples, 40, 1, 8, 8, new int[39])).Message);
            var labels = new int[40];
            labels[5] = 10;
            Assert.Contains("label 10 of sample 5", Assert.Throws<ArgumentException>(() => evaluator.Evaluate(samples, 40, 1, 8, 8, labels)).Message);
        }
    }

    [Fact]
    public void AVersion1CacheWithoutLabelsIsRebuiltAndPerClassFidThenNeedsNoData()
    {
        var (first, _) = Create();
        first.Dispose();
        string cache = RealFeatureCache.PathFor(_f.ClassifierPath, "mnist");
        var v2 = SafetensorsFile.Read(cache);
        var v1Metadata = new Dictionary<string, string>(v2.Metadata) { ["format"] = "catchup-real-features-v1" };
        SafetensorsFile.Write(cache, new Dictionary<string, HostTensor> { ["features"] = v2.Get("features") }, v1Metadata);

        var (second, log) = Create();
        second.Dispose();
        Assert.Contains("format catchup-real-features-v1, not catchup-real-features-v2", log);
        Assert.Contains("extracting 40 mnist test images", log);
        Assert.Equal(Enumerable.Range(0, 40).Select(i => (float)(i % 10)), SafetensorsFile.Read(cache).Get("labels").Data);

        // The rebuilt cache alone gives the per-class statistics.
        var samples = AlteredTestImages();
        Directory.Delete(_f.DataDir, recursive: true);
        using var third = SampleEvaluator.Create(_f.ClassifierPath, "mnist", _f.DataDir, 2, realCount: 20, TextWriter.Null);
        Assert.Equal(2, third.RealCountOfClass(3));
        var scores = third.Evaluate(samples, 40, 1, 8, 8, Enumerable.Range(0, 40).Select(i => i % 10).ToArray());
        Assert.Equal(10, scores.PerClass!.Scored.Count());
    }
}
