using CatchUp.IO;
using Xunit;
using static CatchUp.Tests.Models.NetworkTestKit;

namespace CatchUp.Tests.Cli;

/// <summary><c>catchup velocity</c> on ADM configs ("unet_type": "adm"): model(x, t, y) against the PyTorch port.</summary>
[Collection("Console")]
public class AdmVelocityCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("catchup-adm-velocity-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Exit, string Stderr) Velocity(string variant, string input, string output)
    {
        var (exit, _, stderr) = CliRunner.Run("velocity", "--model", Golden(variant + ".json"),
            "--weights", Golden(variant + "_weights.safetensors"), "--input", input, "--output", output, "--threads", "2");
        return (exit, stderr);
    }

    [Theory]
    [InlineData("adm_cond", new[] { "features", "head2", "head3", "v" })]
    [InlineData("adm_heads", new[] { "features", "head2", "v" })]
    public void WritesVelocityFeaturesAndHeadsMatchingPyTorch(string variant, string[] keys)
    {
        string output = Path.Combine(_dir, "out.safetensors");
        var golden = SafetensorsFile.Read(Golden(variant + "_io.safetensors"));
        Assert.Equal(variant == "adm_cond", golden.Tensors.ContainsKey("y") && golden.Get("y").IsInteger);
        var (exit, stderr) = Velocity(variant, Golden(variant + "_io.safetensors"), output);
        Assert.True(exit == 0, stderr);
        var result = SafetensorsFile.Read(output);
        Assert.Equal(keys, result.Tensors.Keys.Order(StringComparer.Ordinal));
        foreach (var key in keys) AssertClose(key, result.Get(key).Data, golden.Get(key), 1e-4);
    }

    private string Input(string variant, HostTensor? y)
    {
        var golden = SafetensorsFile.Read(Golden(variant + "_io.safetensors"));
        var tensors = new Dictionary<string, HostTensor> { ["x"] = golden.Get("x"), ["t"] = golden.Get("t") };
        if (y is not null) tensors["y"] = y;
        string path = Path.Combine(_dir, "in.safetensors");
        SafetensorsFile.Write(path, tensors);
        return path;
    }

    [Fact]
    public void ConditionalModelWithoutLabelsIsAnError()
    {
        var (exit, stderr) = Velocity("adm_cond", Input("adm_cond", null), Path.Combine(_dir, "o.safetensors"));
        Assert.Equal(1, exit);
        Assert.Contains("'y' is missing", stderr);
        Assert.Contains("class-conditional", stderr);
        Assert.False(File.Exists(Path.Combine(_dir, "o.safetensors")));
    }

    [Fact]
    public void UnconditionalModelWithLabelsIsAnError()
    {
        var (exit, stderr) = Velocity("adm_heads", Input("adm_heads", new HostTensor([3], [1f, 2f, 3f]) { DType = "I64" }), Path.Combine(_dir, "o.safetensors"));
        Assert.Equal(1, exit);
        Assert.Contains("unconditional", stderr);
    }

    [Fact]
    public void LabelsMustBeInt64ClassIndicesOfTheBatch()
    {
        string o = Path.Combine(_dir, "o.safetensors");
        var (exit, stderr) = Velocity("adm_cond", Input("adm_cond", new HostTensor([3], [1f, 2f, 3f])), o);
        Assert.Equal(1, exit);
        Assert.Contains("int64", stderr);
        (exit, stderr) = Velocity("adm_cond", Input("adm_cond", new HostTensor([2], [1f, 2f]) { DType = "I64" }), o);
        Assert.Equal(1, exit);
        Assert.Contains("[3]", stderr);
        (exit, stderr) = Velocity("adm_cond", Input("adm_cond", new HostTensor([3], [1f, 10f, 3f]) { DType = "I64" }), o);
        Assert.Equal(1, exit);
        Assert.Contains("outside [0, 10)", stderr);
        Assert.False(File.Exists(o));
    }
}
