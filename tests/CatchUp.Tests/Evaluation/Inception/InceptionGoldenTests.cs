using System.Diagnostics;
using System.Text.Json;
using CatchUp.Evaluation.Inception;
using CatchUp.IO;
using CatchUp.Tests.IO;
using Xunit;
using Xunit.Abstractions;
using static CatchUp.Tests.Models.NetworkTestKit;

namespace CatchUp.Tests.Evaluation.Inception;

/// <summary>
/// Agreement with a float64 PyTorch FID Inception-v3 (tests/golden/inception/make_inception_golden.py: torchvision's
/// Inception3 with pytorch-fid's patched blocks) on hash-generated weights the test rebuilds and loads through the real loader.
/// </summary>
public class InceptionGoldenTests : IClassFixture<InceptionGoldenTests.WeightsFile>
{
    private const double Tolerance = 1e-4;
    private readonly WeightsFile _weights;
    private readonly ITestOutputHelper _output;

    public InceptionGoldenTests(WeightsFile weights, ITestOutputHelper output)
    {
        _weights = weights;
        _output = output;
    }

    /// <summary>The deterministic weights written once for the whole class.</summary>
    public sealed class WeightsFile : IDisposable
    {
        private readonly TempDirectory _dir = new();

        public WeightsFile() => Path = DeterministicInceptionWeights.Write(_dir.File("fid_inception.safetensors"));

        public string Path { get; }

        public void Dispose() => _dir.Dispose();
    }

    private static SafetensorsFile GoldenFile() => SafetensorsFile.Read(Golden(System.IO.Path.Combine("inception", "inception_golden.safetensors")));

    [Fact]
    public void LayoutHasTorchvisionsStateDictNamesAndShapes()
    {
        var torchvision = JsonSerializer.Deserialize<JsonElement[][]>(GoldenFile().Metadata["tensors"])!
            .Select(t => $"{t[0].GetString()} {JsonSerializer.Serialize(t[1])}").Order(StringComparer.Ordinal);
        var ours = InceptionLayout.RequiredTensors().Concat(InceptionLayout.UnusedTensors.Select(u => (u.Key, u.Value)))
            .Select(t => $"{t.Item1} {JsonSerializer.Serialize(t.Item2)}").Order(StringComparer.Ordinal);
        Assert.Equal(torchvision, ours);
    }

    [Theory]
    [InlineData("gray", 2, true)]
    [InlineData("rgb", 1, true)]
    [InlineData("gray", 1, false)]
    [InlineData("rgb", 2, true)]    // fewer images than threads: each convolution split over a worker pool
    [InlineData("gray", 3, false)]
    public void FeaturesMatchPyTorch(string set, int threads, bool avx512)
    {
        var golden = GoldenFile();
        HostTensor images = golden.Get(set + "_images"), expected = golden.Get(set + "_features");
        using var inception = InceptionV3Features.Load(_weights.Path, threads, avx512 ? GemmPath.Vector512 : GemmPath.Vector256);
        int count = images.Shape[0];
        var features = new double[count * inception.FeatureDim];

        var clock = Stopwatch.StartNew();
        inception.Extract(images.Data, count, images.Shape[1], images.Shape[2], images.Shape[3], features);
        _output.WriteLine($"{set}: {count} images in {clock.Elapsed.TotalSeconds:F2} s, {inception.FlopsPerImage / 1e9:F2} GFLOP/image");

        for (int i = 0; i < count; i++)
        {
            double worst = 0, scale = 0;
            for (int j = 0; j < inception.FeatureDim; j++)
            {
                double e = expected.Data[i * inception.FeatureDim + j];
                worst = Math.Max(worst, Math.Abs(features[i * inception.FeatureDim + j] - e));
                scale = Math.Max(scale, Math.Abs(e));
            }
            _output.WriteLine($"image {i}: max |diff| {worst:E2}, max |feature| {scale:F3}");
            Assert.True(worst <= Tolerance * scale, $"{set} image {i}: max |diff| {worst:E2} exceeds {Tolerance:E0} x {scale:F3}");
        }
    }
}
