using CatchUp.IO;
using CatchUp.Tests.Data;
using Xunit;

namespace CatchUp.Tests.Cli;

/// <summary>`train`, `sample` and `velocity` on a class-conditional SongUNet (label_dim): --class, --labels, the default
/// cycled classes, the labels written beside the samples, per-class grids, and the errors.</summary>
[Collection("Console")]
public class ClassConditionalCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("catchup-conditional-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string TrainRun(int labelDim)
    {
        string model = Path.Combine(_dir, $"model{labelDim}.json");
        File.WriteAllText(model, $$"""
            { "img_resolution": 8, "in_channels": 1, "out_channels": 1, "model_channels": 8, "channel_mult": [1, 2],
              "num_blocks": 1, "attn_resolutions": [], "dropout": 0.0, "prior_shakedrop": true, "label_dim": {{labelDim}} }
            """);
        string data = TinyRunFiles.WriteMnist(_dir, 16);
        string run = Path.Combine(_dir, $"run{labelDim}");
        var (exit, stdout, stderr) = CliRunner.Run("train", "--model", model, "--data", data, "--dataset", "mnist", "--iterations", "2",
            "--batch", "4", "--warmup", "1", "--sample-every", "1000", "--threads", "1", "--device", "cpu", "--out", run);
        Assert.True(exit == 0, stderr + stdout);
        if (labelDim > 0) Assert.Contains($"\"label_dim\": {labelDim}", File.ReadAllText(Path.Combine(run, "config.json")));
        return run;
    }

    private static float[] Labels(string dir) => SafetensorsFile.Read(Path.Combine(dir, "samples.safetensors")).Tensors["y"].Data;

    [Fact]
    public void SampleTakesAClassOrALabelsFileAndCyclesClassesByDefault()
    {
        string run = TrainRun(10);
        string one = Path.Combine(_dir, "class3"), cycled = Path.Combine(_dir, "cycled"), listed = Path.Combine(_dir, "listed");
        var (exit, stdout, stderr) = CliRunner.Run("sample", "--run", run, "--nfe", "2", "--count", "6", "--class", "3", "--threads", "1", "--device", "cpu", "--out", one);
        Assert.True(exit == 0, stderr + stdout);
        Assert.Contains("class 3", stdout);
        Assert.Equal([3f, 3f, 3f, 3f, 3f, 3f], Labels(one));
        Assert.True(File.Exists(Path.Combine(one, "classes", "class_3.png")));
        Assert.Equal("I64", SafetensorsFile.Read(Path.Combine(one, "samples.safetensors")).Tensors["y"].DType);

        (exit, stdout, stderr) = CliRunner.Run("sample", "--run", run, "--nfe", "2", "--count", "12", "--batch", "5", "--threads", "1", "--device", "cpu", "--out", cycled);
        Assert.True(exit == 0, stderr + stdout);
        Assert.Equal(Enumerable.Range(0, 12).Select(i => (float)(i % 10)), Labels(cycled));
        Assert.Equal(10, Directory.GetFiles(Path.Combine(cycled, "classes"), "class_*.png").Length);

        // The images of class 3 in the cycled run (samples 3 and 13 -> only 3 here) equal --class 3's first image only if
        // the noise matches: both use seed 0, so sample 3 of the cycled run meets noise 3, --class 3's sample 3 too.
        var a = SafetensorsFile.Read(Path.Combine(one, "samples.safetensors")).Tensors["x"].Data.AsSpan(3 * 64, 64).ToArray();
        var b = SafetensorsFile.Read(Path.Combine(cycled, "samples.safetensors")).Tensors["x"].Data.AsSpan(3 * 64, 64).ToArray();
        Assert.Equal(a, b);

        string labels = Path.Combine(_dir, "labels.safetensors");
        SafetensorsFile.Write(labels, new Dictionary<string, HostTensor> { ["y"] = new HostTensor([4], [9, 0, 9, 1]) { DType = "I64" } });
        (exit, stdout, stderr) = CliRunner.Run("sample", "--run", run, "--nfe", "2", "--count", "4", "--labels", labels, "--threads", "1", "--device", "cpu", "--out", listed);
        Assert.True(exit == 0, stderr + stdout);
        Assert.Equal([9f, 0f, 9f, 1f], Labels(listed));
    }

    [Fact]
    public void BadClassArgumentsAreOneLineErrors()
    {
        string run = TrainRun(10);
        string plain = TrainRun(0);
        string Err(params string[] extra)
        {
            var (exit, _, stderr) = CliRunner.Run(["sample", "--nfe", "1", "--count", "4", "--threads", "1", "--device", "cpu", "--out", Path.Combine(_dir, "x"), .. extra]);
            Assert.NotEqual(0, exit);
            return stderr;
        }
        Assert.Contains("--class 10: the model has classes 0..9", Err("--run", run, "--class", "10"));
        Assert.Contains("unconditional", Err("--run", plain, "--class", "1"));
        string badLabels = Path.Combine(_dir, "bad.safetensors");
        SafetensorsFile.Write(badLabels, new Dictionary<string, HostTensor> { ["y"] = new HostTensor([4], [0, 1, 12, 2]) { DType = "I64" } });
        Assert.Contains($"{badLabels}: tensor 'y': class 12 of sample 2 is outside [0, 10)", Err("--run", run, "--labels", badLabels));
        string floats = Path.Combine(_dir, "floats.safetensors");
        SafetensorsFile.Write(floats, new Dictionary<string, HostTensor> { ["y"] = new HostTensor([4], [0, 1, 2, 2]) });
        Assert.Contains("must be int64 of shape [4]", Err("--run", run, "--labels", floats));
        Assert.Contains("give --class or --labels, not both", Err("--run", run, "--labels", floats, "--class", "1"));
    }

    [Fact]
    public void VelocityTakesYForAConditionalSongUNet()
    {
        string run = TrainRun(10);
        string weights = Path.Combine(_dir, "w.safetensors");
        SafetensorsFile.Write(weights, SafetensorsFile.Read(Path.Combine(run, "checkpoint.safetensors")).Tensors
            .Where(kv => kv.Key.StartsWith("ema.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key[4..], kv => kv.Value));
        string input = Path.Combine(_dir, "in.safetensors"), output = Path.Combine(_dir, "out.safetensors");
        var x = new HostTensor([2, 1, 8, 8], Models.NetworkTestKit.Normal(128, 3));
        SafetensorsFile.Write(input, new Dictionary<string, HostTensor> { ["x"] = x, ["t"] = new([2], [0.5f, 0.9f]), ["y"] = new HostTensor([2], [4, 7]) { DType = "I64" } });
        var (exit, stdout, stderr) = CliRunner.Run("velocity", "--model", Path.Combine(_dir, "model10.json"), "--weights", weights, "--input", input, "--output", output, "--threads", "1");
        Assert.True(exit == 0, stderr + stdout);
        Assert.Equal([2, 1, 8, 8], SafetensorsFile.Read(output).Tensors["v"].Shape);
        SafetensorsFile.Write(input, new Dictionary<string, HostTensor> { ["x"] = x, ["t"] = new([2], [0.5f, 0.9f]) });
        (exit, _, stderr) = CliRunner.Run("velocity", "--model", Path.Combine(_dir, "model10.json"), "--weights", weights, "--input", input, "--output", output, "--threads", "1");
        Assert.NotEqual(0, exit);
        Assert.Contains("tensor 'y' is missing: the model is class-conditional", stderr);
    }
}
