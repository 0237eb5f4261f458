using System.Text.Json;
using CatchUp.Cli;
using CatchUp.IO;
using CatchUp.Tests.Evaluation.Inception;
using Xunit;
using static CatchUp.Tests.Models.NetworkTestKit;

namespace CatchUp.Tests.Cli;

[Collection("Console")]
public class InceptionFeaturesCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("catchup-inception-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Exit, string Stdout, string Stderr) Run(params string[] args) => CliRunner.Run(args);

    private string Samples(params (string Name, HostTensor Tensor)[] tensors)
    {
        string path = Path.Combine(_dir, "samples.safetensors");
        SafetensorsFile.Write(path, tensors.Select(t => KeyValuePair.Create(t.Name, t.Tensor)));
        return path;
    }

    [Fact]
    public void WritesFeaturesMatchingPyTorchAndReportsThroughput()
    {
        string weights = DeterministicInceptionWeights.Write(Path.Combine(_dir, "w.safetensors"));
        var golden = SafetensorsFile.Read(Golden(Path.Combine("inception", "inception_golden.safetensors")));
        string samples = Samples(("images", golden.Get("rgb_images")));
        string output = Path.Combine(_dir, "features.safetensors");

        var (exit, stdout, stderr) = Run("inception-features", "--weights", weights, "--samples", samples, "--out", output, "--threads", "1");

        Assert.True(exit == 0, stderr);
        var features = SafetensorsFile.Read(output);
        Assert.Equal("inception_v3_pool3", features.Metadata["feature_space"]);
        Assert.Equal([1, 2048], features.Get("features").Shape);
        AssertClose("features", features.Get("features").Data, golden.Get("rgb_features"), 1e-4);
        using var json = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        Assert.Equal(1, json.RootElement.GetProperty("images").GetInt32());
        Assert.True(json.RootElement.GetProperty("images_per_s").GetDouble() > 0);
        Assert.Contains("1/1 images", stderr);
    }

    [Fact]
    public void AmbiguousSamplesFileAsksForTensor()
    {
        string samples = Samples(("a", new HostTensor(1, 1, 4, 4)), ("b", new HostTensor(1, 1, 4, 4)));
        var (exit, _, stderr) = Run("inception-features", "--weights", Path.Combine(_dir, "w.safetensors"), "--samples", samples, "--out", Path.Combine(_dir, "f.safetensors"));
        Assert.Equal(1, exit);
        Assert.Contains("samples.safetensors: holds 2 tensors (a, b); pick the images with --tensor", stderr);
    }

    [Fact]
    public void TwoChannelImagesAreRejectedNamingTheTensor()
    {
        string samples = Samples(("x", new HostTensor(3, 2, 8, 8)));
        var (exit, _, stderr) = Run("inception-features", "--weights", Path.Combine(_dir, "w.safetensors"), "--samples", samples, "--out", Path.Combine(_dir, "f.safetensors"));
        Assert.Equal(1, exit);
        Assert.Contains("tensor 'x' has shape [3, 2, 8, 8], expected [N, C, H, W]", stderr);
    }

    [Fact]
    public void MissingWeightsFileFailsWithItsName()
    {
        string samples = Samples(("x", new HostTensor(1, 1, 8, 8)));
        var (exit, _, stderr) = Run("inception-features", "--weights", Path.Combine(_dir, "absent.safetensors"), "--samples", samples, "--out", Path.Combine(_dir, "f.safetensors"));
        Assert.Equal(1, exit);
        Assert.Contains("absent.safetensors", stderr);
        Assert.False(File.Exists(Path.Combine(_dir, "f.safetensors")));
    }
}
