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

    private string Samples(HostTensor x, string name = "samples.safetensors", Dictionary<string, string>? metadata = null)
    {
        string path = _f.File(name);
        SafetensorsFile.Write(path, new Dictionary<string, HostTensor> { ["x"] = x }, metadata);
        return path;
    }

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
}
