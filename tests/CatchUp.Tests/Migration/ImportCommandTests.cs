using CatchUp.Backends.Cpu;
using CatchUp.IO;
using CatchUp.Models;
using CatchUp.Nn;
using CatchUp.Tensors;
using CatchUp.Tests.Cli;
using CatchUp.Tests.Data;
using CatchUp.Training;
using Xunit;
using static CatchUp.Tests.Migration.PthReaderTests;

namespace CatchUp.Tests.Migration;

/// <summary>
/// <c>catchup import</c> on checkpoints that the reference's save calls wrote (tests/golden/make_pth_golden.py), then
/// <c>sample</c>, <c>train --resume</c>, <c>train --objective pd --from</c> and <c>distill</c> on the imported run. The
/// expected samples are the reference generate.py's Euler samples from the same noise.
/// </summary>
[Collection("Console")]
public class ImportCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("catchup-import-").FullName;
    private readonly SafetensorsFile _expected = SafetensorsFile.Read(Pth("expected.safetensors"));

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Tmp(string name) => Path.Combine(_dir, name);

    private static (int Exit, string Stdout, string Stderr) Run(params string[] args) => CliRunner.Run(args);

    private string Import(string run, params string[] extra)
    {
        var (exit, _, err) = Run(["import", "--model", Pth("reference_de.json"), "--encoder-model", Pth("reference_en.json"), "--shakedrop", "--out", run, .. extra]);
        Assert.True(exit == 0, err);
        return run;
    }

    private string ImportEma(string name) => Import(Tmp(name), "--pth", Pth("flow_model_30_ema.pth"), "--generators", Pth("generator_list_30_ema.pth"),
        "--encoder", Pth("forward_model_30_ema.pth"));

    private HostTensor Sample(string run, int head = 1, bool noEma = false)
    {
        string noise = Tmp("noise.safetensors");
        if (!File.Exists(noise)) SafetensorsFile.Write(noise, [new("z", _expected.Get("z"))]);
        string output = Tmp($"samples-{Guid.NewGuid():N}");
        string[] args = ["sample", "--run", run, "--noise", noise, "--solver", "euler", "--nfe", "4", "--head", $"{head}", "--threads", "1", "--out", output];
        var (exit, _, err) = Run(noEma ? [.. args, "--no-ema"] : args);
        Assert.True(exit == 0, err);
        return SafetensorsFile.Read(Path.Combine(output, "samples.safetensors")).Get("x");
    }

    private static void AssertClose(HostTensor expected, HostTensor actual, double tolerance)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        double max = expected.Data.Zip(actual.Data, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(max <= tolerance, $"max |diff| {max} > {tolerance}");
    }

    [Fact]
    public void ImportedEmaModelReproducesTheReferenceEulerSamplesOnEveryHead()
    {
        string run = ImportEma("ema");
        AssertClose(_expected.Get("x_euler4"), Sample(run), 1e-4);
        AssertClose(_expected.Get("x_euler4_head2"), Sample(run, head: 2), 1e-4);
        // The samples moved far from the noise, so the comparison above is not a comparison of near-zero velocities.
        Assert.True(_expected.Get("x_euler4").Data.Zip(_expected.Get("z").Data, (a, b) => Math.Abs(a - b)).Average() > 0.1);

        // The encoder: mu/logvar of the imported weights on the fixture's input equal the reference UNetEncoder's.
        var options = TrainingOptions.Load(Path.Combine(run, "config.json"), TrainingOptions.Quick);
        using var backend = new CpuBackend(1);
        using var encoder = new SongUNet(options.EncoderModelOrDefault, backend);
        var weights = SafetensorsFile.Read(Checkpoint.PathIn(run)).Tensors.Where(kv => kv.Key.StartsWith("encoder."))
            .ToDictionary(kv => kv.Key["encoder.".Length..], kv => kv.Value);
        StateDict.Load(encoder.Parameters, weights, "run");
        var x = _expected.Get("enc_x");
        using var xs = backend.FromArray(x.Data, x.Shape);
        using var ones = backend.FromArray([1f, 1f], [2]);
        var mu = encoder.Forward(xs, ones, ForwardMode.Inference).V;
        AssertClose(_expected.Get("enc_out"), new HostTensor(mu.Shape.ToArray(), mu.ToArray()), 1e-4);
    }

    [Fact]
    public void ImportedTrainingStateKeepsRawAndEmaWeightsAdamAndIteration()
    {
        string run = Import(Tmp("state"), "--pth", Pth("training_state_30.pth"));
        AssertClose(_expected.Get("x_euler4"), Sample(run), 1e-4);
        AssertClose(_expected.Get("x_euler4_raw"), Sample(run, noEma: true), 1e-4);
        var checkpoint = SafetensorsFile.Read(Checkpoint.PathIn(run));
        Assert.Equal("30", checkpoint.Metadata["iteration"]);
        Assert.Equal(_expected.Metadata["adam_step"], checkpoint.Metadata["adam_steps"]);
        foreach (var key in _expected.Tensors.Keys.Where(k => k.StartsWith("adam_")))
            Assert.Equal(_expected.Get(key).Data, checkpoint.Get(key).Data);
    }

    [Fact]
    public void ImportedRunResumesTrainingAndFeedsPdAndDistill()
    {
        string data = Tmp("data");
        Directory.CreateDirectory(data);
        File.WriteAllBytes(Path.Combine(data, "train-images-idx3-ubyte"), DataFiles.Images(16, 8, 8, i => (byte)(i * 37 % 256)));
        File.WriteAllBytes(Path.Combine(data, "train-labels-idx1-ubyte"), DataFiles.Labels(new byte[16]));
        string run = Import(Tmp("resume"), "--pth", Pth("training_state_30.pth"), "--data", data, "--dataset", "mnist");
        var before = SafetensorsFile.Read(Checkpoint.PathIn(run)).Get("model.map_layer0.weight").Data;

        var (exit, _, err) = Run("train", "--resume", run, "--iterations", "32", "--threads", "1");
        Assert.True(exit == 0, err);
        var after = SafetensorsFile.Read(Checkpoint.PathIn(run));
        Assert.Equal("32", after.Metadata["iteration"]);
        Assert.Equal("32", after.Metadata["adam_steps"]);
        Assert.NotEqual(before, after.Get("model.map_layer0.weight").Data);

        (exit, _, err) = Run("train", "--objective", "pd", "--from", run, "--iterations", "1", "--batch", "4", "--threads", "1", "--out", Tmp("pd"));
        Assert.True(exit == 0, err);
        (exit, _, err) = Run("distill", "--run", run, "--count", "4", "--iterations-per-stage", "1", "--batch", "4", "--threads", "1", "--out", Tmp("distilled"));
        Assert.True(exit == 0, err);
    }

    [Fact]
    public void ReferenceConfigsWarnOnceAboutAttentionResolutionsTheModelLacks()
    {
        var (exit, _, err) = Run("import", "--pth", Pth("flow_model_30_ema.pth"), "--generators", Pth("generator_list_30_ema.pth"),
            "--encoder", Pth("forward_model_30_ema.pth"), "--model", Pth("reference_de.json"), "--encoder-model", Pth("reference_en.json"), "--out", Tmp("w"));
        Assert.Equal(0, exit);
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith($"catchup: warning: {Pth("reference_de.json")}: attn_resolutions [16] match no level of this model (levels [8, 4])", lines[0]);
        Assert.StartsWith($"catchup: warning: {Pth("reference_en.json")}: attn_resolutions [16]", lines[1]);
    }

    [Fact]
    public void ConfigErrorsAndMissingEncoderConfigFailWithoutWritingAnything()
    {
        string wrong = Tmp("wrong.json");
        File.WriteAllText(wrong, File.ReadAllText(Pth("reference_de.json")).Replace("\"num_params\": 0.", "\"num_params\": 1."));
        var (exit, _, err) = Run("import", "--pth", Pth("flow_model_30_ema.pth"), "--model", wrong, "--out", Tmp("a"));
        Assert.Equal(1, exit);
        Assert.Contains("wrong.json: key 'num_params'", err);

        (exit, _, err) = Run("import", "--pth", Pth("training_state_30.pth"), "--model", Pth("reference_de.json"), "--out", Tmp("b"));
        Assert.Equal(1, exit);
        Assert.Contains("--encoder-model", err);

        Directory.CreateDirectory(Tmp("c"));
        File.WriteAllText(Path.Combine(Tmp("c"), "keep"), "");
        (exit, _, err) = Run("import", "--pth", Pth("flow_model_30_ema.pth"), "--model", Pth("reference_de.json"), "--out", Tmp("c"));
        Assert.Equal(1, exit);
        Assert.Contains("not empty", err);
        Assert.False(Directory.Exists(Tmp("a")) || Directory.Exists(Tmp("b")));
        Assert.Equal(["c", "wrong.json"], Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }
}
