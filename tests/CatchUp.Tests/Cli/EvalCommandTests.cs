using System.Text.Json;
using CatchUp.Evaluation;
using CatchUp.Evaluation.Inception;
using CatchUp.Tests.Evaluation.Inception;
using CatchUp.IO;
using CatchUp.Tests.Evaluation;
using Xunit;

namespace CatchUp.Tests.Cli;

[Collection("Console")]
public class EvalCommandTests : IDisposable
{
    private readonly EvaluationFixture _f = new();

    public void Dispose() => _f.Dispose();

    private static (int Exit, string Stdout, string Stderr) Run(params string[] args) => CliRunner.Run(args);

    private string Samples(HostTensor x, string name = "samples.safetensors", Dictionary<string, string>? metadata = null, HostTensor? y = null)
    {
        string path = _f.File(name);
        var tensors = new Dictionary<string, HostTensor> { ["x"] = x };
        if (y is not null) tensors["y"] = y;
        SafetensorsFile.Write(path, tensors, metadata);
        return path;
    }

    private static HostTensor Labels(params int[] labels) => new([labels.Length], Array.ConvertAll(labels, l => (float)l)) { DType = "I64" };

    private string[] Args(string samples, params string[] extra) =>
        ["eval", "--samples", samples, "--classifier", _f.ClassifierPath, "--data", _f.DataDir, "--threads", "2", .. extra];

    [Fact]
    public void WritesMetricsJsonNamedByFeatureSpace()
    {
        string samples = Samples(new HostTensor([EvaluationFixture.TestCount, 1, 8, 8], _f.TestImages()),
            metadata: new() { ["straightness"] = "0.0125", ["sampler"] = "euler-4" });
        string json = _f.File("out/metrics.json");
        var (exit, stdout, stderr) = Run(Args(samples, "--out", json));
        Assert.True(exit == 0, stderr);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        Assert.Equal("classifier", root.GetProperty("feature_space").GetString());
        Assert.InRange(root.GetProperty("fid_classifier").GetDouble(), -1e-4, 1e-4);
        Assert.Equal(1.0, root.GetProperty("precision_classifier").GetDouble());
        Assert.Equal(1.0, root.GetProperty("recall_classifier").GetDouble());
        Assert.True(root.GetProperty("is_classifier").GetDouble() >= 1);
        Assert.True(root.GetProperty("is_std_classifier").GetDouble() >= 0);
        Assert.Equal(EvaluationFixture.TestCount, root.GetProperty("count").GetInt32());
        Assert.Equal(EvaluationFixture.TestCount, root.GetProperty("real_count").GetInt32());
        Assert.Equal("mnist", root.GetProperty("dataset").GetString());
        Assert.Equal(0.0125, root.GetProperty("samples_metadata").GetProperty("straightness").GetDouble());
        Assert.Equal("euler-4", root.GetProperty("samples_metadata").GetProperty("sampler").GetString());
        // The last stdout line is the same JSON, compact.
        using var line = JsonDocument.Parse(stdout.TrimEnd().Split('\n')[^1]);
        Assert.Equal(root.GetProperty("fid_classifier").GetDouble(), line.RootElement.GetProperty("fid_classifier").GetDouble());
        Assert.Contains("FID_classifier", stdout);
        Assert.True(File.Exists(RealFeatureCache.PathFor(_f.ClassifierPath, "mnist")));
    }

    [Fact]
    public void InceptionFidEqualsTheFrechetDistanceOfInceptionFeatures()
    {
        // 8 samples: the first 8 real test images, brightened, so the distance is clearly non-zero.
        var real = _f.TestImages();
        int n = 8, size = EvaluationFixture.Side * EvaluationFixture.Side;
        var fake = real.AsSpan(0, n * size).ToArray().Select(v => Math.Min(v + 0.5f, 1f)).ToArray();
        string samples = Samples(new HostTensor([n, 1, 8, 8], fake));
        string weights = DeterministicInceptionWeights.Write(_f.File("inception.safetensors"));
        string json = _f.File("inception-metrics.json");

        var (exit, stdout, stderr) = Run(Args(samples, "--inception", weights, "--out", json));

        Assert.True(exit == 0, stderr);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        double fid = doc.RootElement.GetProperty("fid_inception_v3_pool3").GetDouble();
        Assert.True(doc.RootElement.TryGetProperty("fid_classifier", out _));
        Assert.Contains("FID_inception_v3_pool3", stdout);
        using var inception = InceptionV3Features.Load(weights, 2);
        var realFeatures = new double[EvaluationFixture.TestCount * 2048];
        var fakeFeatures = new double[n * 2048];
        inception.Extract(real, EvaluationFixture.TestCount, 1, 8, 8, realFeatures);
        inception.Extract(fake, n, 1, 8, 8, fakeFeatures);
        double expected = FrechetDistance.Compute(FeatureStatistics.Of(fakeFeatures, 2048), FeatureStatistics.Of(realFeatures, 2048));
        Assert.True(expected > 1e-3, $"the test needs a non-zero distance, got {expected}");
        Assert.Equal(expected, fid, expected * 1e-6);
    }

    [Fact]
    public void MissingFilesFailNamingThem()
    {
        var (exit, _, stderr) = Run(Args(_f.File("nope.safetensors")));
        Assert.Equal(1, exit);
        Assert.Contains("nope.safetensors", stderr);

        string samples = Samples(new HostTensor(8, 1, 8, 8));
        (exit, _, stderr) = Run(["eval", "--samples", samples, "--classifier", _f.File("none.safetensors")]);
        Assert.Equal(1, exit);
        Assert.Contains("none.safetensors", stderr);
    }

    [Fact]
    public void SamplesOfTheWrongShapeOrChannelsAreRejected()
    {
        var (exit, _, stderr) = Run(Args(Samples(new HostTensor(8, 3, 8, 8))));
        Assert.Equal(1, exit);
        Assert.Contains("[8, 3, 8, 8]", stderr);
        Assert.Contains("[N, 1, 8, 8]", stderr);

        (exit, _, stderr) = Run(Args(Samples(new HostTensor(8, 64))));
        Assert.Equal(1, exit);
        Assert.Contains("'x' has shape [8, 64]", stderr);

        (exit, _, stderr) = Run(Args(Samples(new HostTensor(3, 1, 8, 8))));
        Assert.Equal(1, exit);
        Assert.Contains("at least 4", stderr);
    }

    [Fact]
    public void NonFiniteSamplesAndAMissingTensorAreRejected()
    {
        var x = new HostTensor(8, 1, 8, 8);
        x.Data[3 * 64 + 5] = float.PositiveInfinity;
        var (exit, _, stderr) = Run(Args(Samples(x)));
        Assert.Equal(1, exit);
        Assert.Contains("non-finite", stderr);
        Assert.Contains("sample 3", stderr);

        string path = _f.File("y.safetensors");
        SafetensorsFile.Write(path, new Dictionary<string, HostTensor> { ["y"] = new HostTensor(8, 1, 8, 8) });
        (exit, _, stderr) = Run(Args(path));
        Assert.Equal(1, exit);
        Assert.Contains("'x' is missing", stderr);
    }

    [Fact]
    public void AFileThatIsNotAClassifierIsRejected()
    {
        string samples = Samples(new HostTensor(8, 1, 8, 8));
        var (exit, _, stderr) = Run(["eval", "--samples", samples, "--classifier", samples]);
        Assert.Equal(1, exit);
        Assert.Contains("metadata 'format' is missing", stderr);
    }

    [Fact]
    public void BadFlagsAreUsageErrors()
    {
        string samples = Samples(new HostTensor(8, 1, 8, 8));
        var (exit, _, stderr) = Run(Args(samples, "--dataset", "imagenet"));
        Assert.Equal(1, exit);
        Assert.Contains("imagenet", stderr);
        (exit, _, stderr) = Run(Args(samples, "--real-count", "1000"));
        Assert.Equal(1, exit);
        Assert.Contains("1000 real images requested", stderr);
    }

    [Fact]
    public void LabelledSamplesGetPerClassFidsInTheTableAndTheJson()
    {
        // The 40 test images, brightened, labelled like the test split except that class 9 keeps one sample (the others go to 8).
        var x = new HostTensor([40, 1, 8, 8], _f.TestImages().Select(v => Math.Min(v + 0.3f, 1f)).ToArray());
        var labels = Enumerable.Range(0, 40).Select(i => i % 10 == 9 && i > 9 ? 8 : i % 10).ToArray();
        string json = _f.File("per-class.json");
        var (exit, stdout, stderr) = Run(Args(Samples(x, y: Labels(labels)), "--out", json));
        Assert.True(exit == 0, stderr + stdout);

        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        var perClass = root.GetProperty("per_class").EnumerateArray().ToList();
        Assert.Equal(Enumerable.Range(0, 9), perClass.Select(c => c.GetProperty("class").GetInt32()));
        Assert.Equal([4, 4, 4, 4, 4, 4, 4, 4, 7], perClass.Select(c => c.GetProperty("count").GetInt32()));
        var fids = perClass.Select(c => c.GetProperty("fid").GetDouble()).ToList();
        Assert.All(fids, f => Assert.True(f > 0, $"FID {f}"));
        Assert.Equal(fids.Average(), root.GetProperty("fid_per_class_mean").GetDouble(), 1e-9);
        var skipped = Assert.Single(root.GetProperty("per_class_skipped").EnumerateArray());
        Assert.Equal(9, skipped.GetProperty("class").GetInt32());
        Assert.Equal(1, skipped.GetProperty("count").GetInt32());
        Assert.Contains("per-class FID_classifier", stdout);
        Assert.Contains("class    8 n     7", stdout);
        Assert.Contains("per-class mean", stdout);
        Assert.Contains("note: skipped, with fewer than 2 samples or real test images: class 9 (1 samples, 4 real)", stdout);

        // Unlabelled samples: no per-class fields.
        (exit, _, stderr) = Run(Args(Samples(x, "unlabelled.safetensors"), "--out", json));
        Assert.True(exit == 0, stderr);
        using var plain = JsonDocument.Parse(File.ReadAllText(json));
        Assert.False(plain.RootElement.TryGetProperty("per_class", out _));
        Assert.False(plain.RootElement.TryGetProperty("fid_per_class_mean", out _));
    }

    [Fact]
    public void BadLabelsAreOneLineErrorsNamingTheFile()
    {
        var x = new HostTensor(8, 1, 8, 8);
        var cases = new (HostTensor Y, string Expected)[]
        {
            (new HostTensor([8], new float[8]), "tensor 'y' must be int64 of shape [8], got F32 [8]"),
            (Labels(0, 1, 2), "tensor 'y' must be int64 of shape [8], got I64 [3]"),
            (new HostTensor([8, 1], new float[8]) { DType = "I64" }, "tensor 'y' must be int64 of shape [8], got I64 [8, 1]"),
            (Labels(0, 1, 2, 3, 4, 5, 10, 7), "tensor 'y': class 10 of sample 6 is outside [0, 10)"),
        };
        foreach (var (y, expected) in cases)
        {
            string samples = Samples(x, "bad-labels.safetensors", y: y);
            var (exit, _, stderr) = Run(Args(samples));
            Assert.Equal(1, exit);
            Assert.True(stderr.Contains($"{samples}: {expected}"), stderr);
            Assert.Single(stderr.Trim().Split('\n'));
        }
    }
}
