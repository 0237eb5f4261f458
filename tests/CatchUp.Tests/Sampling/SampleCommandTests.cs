using System.Text.Json;
using CatchUp.Backends.Cpu;
using CatchUp.Cli;
using CatchUp.IO;
using CatchUp.Models;
using CatchUp.Sampling;
using CatchUp.Training;
using CatchUp.Tests.Cli;
using Xunit;
using static CatchUp.Tests.Models.NetworkTestKit;

namespace CatchUp.Tests.Sampling;

/// <summary><c>catchup sample</c> in process on tiny random-weight models written with the StateDict/Safetensors code.</summary>
[Collection("Console")]
public sealed class SampleCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("catchup-sample-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly SongUNetConfig Gray = new()
    {
        ImgResolution = 8, InChannels = 1, OutChannels = 1, ModelChannels = 8, ChannelMult = [1, 2], NumBlocks = 1,
        AttnResolutions = [], Dropout = 0.1, PriorShakedrop = true, Phi = 0.75,
    };

    private static (int Exit, string Stdout, string Stderr) Run(params string[] args) => CliRunner.Run(args);

    /// <summary>Writes M.json and W.safetensors (random weights, reference names) and returns their paths.</summary>
    private (string Model, string Weights) WriteModel(SongUNetConfig config, string name, ulong seed)
    {
        using var b = new CpuBackend(1);
        using var net = new SongUNet(config, b);
        Randomize(net.Parameters, seed);
        string model = Path.Combine(_dir, name + ".json"), weights = Path.Combine(_dir, name + ".safetensors");
        config.Save(model);
        SafetensorsFile.Write(weights, StateDict.Export(net.Parameters));
        return (model, weights);
    }

    private string WriteNoise(float[] z, params int[] shape)
    {
        string path = Path.Combine(_dir, "noise.safetensors");
        SafetensorsFile.Write(path, new Dictionary<string, HostTensor> { ["z"] = new(shape, z) });
        return path;
    }

    private static float[] Reference(SongUNetConfig config, IReadOnlyDictionary<string, HostTensor> weights, string solver, int nfe, int head, float[] noise, int count)
    {
        using var b = new CpuBackend(1);
        using var net = new SongUNet(config, b);
        StateDict.Load(net.Parameters, weights, "test");
        return SampleGenerator.Generate(net, solver, nfe, head, noise, count, count).X;
    }

    [Theory]
    [InlineData("euler", 4)]
    [InlineData("heun", 3)]
    [InlineData("dpm2", 3)]
    public void TheContractInvocationWritesTheSamples(string solver, int nfe)
    {
        var config = SongUNetConfig.TestTiny;
        var (model, weights) = WriteModel(config, "tiny", 3);
        var noise = SampleGenerator.Noise(9, 3, 2, 8, 8);
        string noisePath = WriteNoise(noise, 3, 2, 8, 8), outDir = Path.Combine(_dir, "out");

        var (exit, stdout, stderr) = Run("sample", "--model", model, "--weights", weights, "--noise", noisePath,
            "--solver", solver, "--nfe", $"{nfe}", "--out", outDir);
        Assert.True(exit == 0, stderr);
        Assert.Contains($"NFE used: {nfe}", stdout);

        var file = SafetensorsFile.Read(Path.Combine(outDir, "samples.safetensors"));
        var x = file.Get("x");
        Assert.Equal([3, 2, 8, 8], x.Shape);
        Assert.Equal(solver, file.Metadata["solver"]);
        Assert.Equal($"{nfe}", file.Metadata["nfe"]);
        var expected = Reference(config, SafetensorsFile.Read(weights).Tensors, solver, nfe, 1, noise, 3);
        Assert.True(RelativeError(x.Data, expected) < 1e-5);

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "sample.json")));
        Assert.Equal(solver, json.RootElement.GetProperty("solver").GetString());
        Assert.Equal(nfe, json.RootElement.GetProperty("nfe").GetDouble());
        Assert.Equal(3, json.RootElement.GetProperty("count").GetInt32());
        Assert.True(json.RootElement.GetProperty("seconds").GetDouble() >= 0);
    }

    [Fact]
    public void SeededRunWritesGridImagesTrajectoryAndStraightness()
    {
        var (model, weights) = WriteModel(Gray, "gray", 4);
        string outDir = Path.Combine(_dir, "out");
        var (exit, _, stderr) = Run("sample", "--model", model, "--weights", weights, "--solver", "dpm3", "--nfe", "3",
            "--count", "5", "--batch", "2", "--seed", "7", "--png", "--save-trajectory", "--threads", "1", "--out", outDir);
        Assert.True(exit == 0, stderr);

        Assert.True(File.Exists(Path.Combine(outDir, "grid.png")));
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"{i:D5}.png"),
            Directory.GetFiles(Path.Combine(outDir, "images")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        var png = CatchUp.Imaging.PngReader.Read(Path.Combine(outDir, "images", "00003.png"));
        Assert.Equal((8, 8), (png.Width, png.Height));

        var x = SafetensorsFile.Read(Path.Combine(outDir, "samples.safetensors")).Get("x");
        var trajectory = SafetensorsFile.Read(Path.Combine(outDir, "trajectory.safetensors"));
        Assert.Equal([4, 5, 1, 8, 8], trajectory.Get("z").Shape);
        Assert.Equal([3, 5, 1, 8, 8], trajectory.Get("x0_hat").Shape);
        Assert.Equal(SampleGenerator.Noise(7, 5, 1, 8, 8), trajectory.Get("z").Data.AsSpan(0, 5 * 64).ToArray());
        Assert.Equal(x.Data, trajectory.Get("z").Data.AsSpan(3 * 5 * 64).ToArray());

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "sample.json")));
        double straightness = json.RootElement.GetProperty("straightness").GetDouble();
        Assert.True(straightness > 0);
        Assert.Equal(3, json.RootElement.GetProperty("trajectory_steps").GetInt32());
        // The samples file carries it too, for `catchup eval` to pass through.
        var metadata = SafetensorsFile.Read(Path.Combine(outDir, "samples.safetensors")).Metadata;
        Assert.Equal(straightness, double.Parse(metadata["straightness"], System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void RunDirectoryUsesTheEmaWeightsUnlessNoEma()
    {
        string run = Path.Combine(_dir, "run");
        Directory.CreateDirectory(run);
        using (var b = new CpuBackend(1))
        using (var net = new SongUNet(Gray, b))
        using (var ema = new SongUNet(Gray, b))
        using (var adam = new AdamOptimizer(b, net.Parameters.All))
        {
            Randomize(net.Parameters, 1);
            Randomize(ema.Parameters, 2);
            File.WriteAllText(Path.Combine(run, "config.json"), new TrainingOptions { Model = Gray }.ToJson());
            Checkpoint.Save(run, new TrainerProgress(0, 0, 0, default), net.Parameters, ema.Parameters, null, adam);
        }
        var checkpoint = SafetensorsFile.Read(Checkpoint.PathIn(run)).Tensors;
        Dictionary<string, HostTensor> Weights(string prefix) => checkpoint.Where(kv => kv.Key.StartsWith(prefix))
            .ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value);
        var noise = SampleGenerator.Noise(0, 4, 1, 8, 8);

        foreach (var (flags, prefix) in new[] { (Array.Empty<string>(), "ema."), (new[] { "--no-ema" }, "model.") })
        {
            string outDir = Path.Combine(_dir, "out" + prefix);
            var (exit, _, stderr) = Run(["sample", "--run", run, "--solver", "euler", "--nfe", "2", "--count", "4", "--out", outDir, .. flags]);
            Assert.True(exit == 0, stderr);
            var x = SafetensorsFile.Read(Path.Combine(outDir, "samples.safetensors")).Get("x").Data;
            Assert.True(RelativeError(x, Reference(Gray, Weights(prefix), "euler", 2, 1, noise, 4)) < 1e-5, prefix);
        }
    }

    [Fact]
    public void HeadsAreSelectableAndAMissingHeadIsAnError()
    {
        var (model, weights) = WriteModel(SongUNetConfig.TestTiny, "tiny", 5);
        string outDir = Path.Combine(_dir, "out");
        var (exit, _, stderr) = Run("sample", "--model", model, "--weights", weights, "--solver", "euler", "--nfe", "1", "--head", "3", "--count", "2", "--out", outDir);
        Assert.True(exit == 0, stderr);
        var x = SafetensorsFile.Read(Path.Combine(outDir, "samples.safetensors")).Get("x").Data;
        var noise = SampleGenerator.Noise(0, 2, 2, 8, 8);
        var weightSet = SafetensorsFile.Read(weights).Tensors;
        Assert.True(RelativeError(x, Reference(SongUNetConfig.TestTiny, weightSet, "euler", 1, 3, noise, 2)) < 1e-5);
        Assert.True(RelativeError(x, Reference(SongUNetConfig.TestTiny, weightSet, "euler", 1, 2, noise, 2)) > 1e-3);

        var (grayModel, grayWeights) = WriteModel(Gray, "gray", 6);
        (exit, _, stderr) = Run("sample", "--model", grayModel, "--weights", grayWeights, "--solver", "euler", "--nfe", "1", "--head", "2", "--out", Path.Combine(_dir, "bad"));
        Assert.Equal(1, exit);
        Assert.Contains("--head 2", stderr);
        Assert.Contains("no extra heads", stderr);
        Assert.False(Directory.Exists(Path.Combine(_dir, "bad")));
    }

    public static IEnumerable<object[]> BadInvocations()
    {
        // {0} = model, {1} = weights, {2} = directory; the message must contain the last element.
        yield return [new[] { "--run", "{2}/nope", "--solver", "euler", "--nfe", "2" }, "nope"];
        yield return [new[] { "--run", "{2}/configonly", "--solver", "euler", "--nfe", "2" }, "checkpoint.safetensors"];
        yield return [new[] { "--model", "{0}", "--weights", "{2}/missing.safetensors", "--solver", "euler", "--nfe", "2" }, "missing.safetensors"];
        yield return [new[] { "--model", "{0}", "--weights", "{1}", "--noise", "{2}/badnoise.safetensors", "--solver", "euler", "--nfe", "2" }, "[3, 2, 4, 4]"];
        yield return [new[] { "--model", "{0}", "--weights", "{1}", "--noise", "{2}/noz.safetensors", "--solver", "euler", "--nfe", "2" }, "'z' is missing"];
        yield return [new[] { "--model", "{0}", "--weights", "{1}", "--solver", "rk4", "--nfe", "2" }, "unknown solver 'rk4'"];
        yield return [new[] { "--model", "{0}", "--weights", "{1}", "--solver", "heun", "--nfe", "4" }, "odd"];
        yield return [new[] { "--model", "{0}", "--weights", "{1}", "--solver", "euler" }, "--nfe is required"];
        yield return [new[] { "--model", "{0}", "--weights", "{1}", "--solver", "euler", "--nfe", "2", "--head", "4" }, "--head must be 1, 2 or 3"];
        yield return [new[] { "--model", "{0}", "--solver", "euler", "--nfe", "2" }, "--weights"];
        yield return [new[] { "--model", "{0}", "--weights", "{1}", "--solver", "rk45", "--rtol", "0" }, "rtol"];
        yield return [new[] { "--model", "{0}", "--weights", "{1}", "--solver", "rk45", "--count", "8", "--batch", "4", "--save-trajectory" }, "one batch"];
    }

    [Theory]
    [MemberData(nameof(BadInvocations))]
    public void BadInputIsOneClearLineAndExitOne(string[] flags, string expected)
    {
        var (model, weights) = WriteModel(SongUNetConfig.TestTiny, "tiny", 7);
        Directory.CreateDirectory(Path.Combine(_dir, "configonly"));
        File.WriteAllText(Path.Combine(_dir, "configonly", "config.json"), new TrainingOptions { Model = Gray }.ToJson());
        SafetensorsFile.Write(Path.Combine(_dir, "badnoise.safetensors"), new Dictionary<string, HostTensor> { ["z"] = new HostTensor(3, 2, 4, 4) });
        SafetensorsFile.Write(Path.Combine(_dir, "noz.safetensors"), new Dictionary<string, HostTensor> { ["x"] = new HostTensor(3, 2, 8, 8) });
        string outDir = Path.Combine(_dir, "out");
        string[] args = ["sample", .. flags.Select(f => string.Format(f, model, weights, _dir)), "--out", outDir];

        var (exit, _, stderr) = Run(args);
        Assert.Equal(1, exit);
        Assert.Contains(expected, stderr);
        Assert.False(File.Exists(Path.Combine(outDir, "samples.safetensors")));
    }
}
