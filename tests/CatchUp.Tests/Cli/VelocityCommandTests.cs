using CatchUp.Cli;
using CatchUp.IO;
using Xunit;
using static CatchUp.Tests.Models.NetworkTestKit;

namespace CatchUp.Tests.Cli;

[Collection("Console")]
public class VelocityCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("catchup-velocity-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Exit, string Stderr) Run(params string[] args)
    {
        var err = new StringWriter();
        var previous = Console.Error;
        Console.SetError(err);
        try { return (CliApp.Run(args), err.ToString()); }
        finally { Console.SetError(previous); }
    }

    private string[] Args(string model, string weights, string input, string output) =>
        ["velocity", "--model", model, "--weights", weights, "--input", input, "--output", output, "--threads", "2"];

    [Fact]
    public void WritesVelocityFeaturesAndHeadsMatchingPyTorch()
    {
        string output = Path.Combine(_dir, "out.safetensors");
        var (exit, stderr) = Run(Args(Golden("songunet_small.json"), Golden("songunet_small_weights.safetensors"),
            Golden("songunet_small_io.safetensors"), output));
        Assert.True(exit == 0, stderr);
        var result = SafetensorsFile.Read(output);
        var golden = SafetensorsFile.Read(Golden("songunet_small_io.safetensors"));
        Assert.Equal(["features", "head2", "head3", "v"], result.Tensors.Keys.OrderBy(k => k, StringComparer.Ordinal));
        foreach (var key in new[] { "v", "features", "head2", "head3" })
            AssertClose(key, result.Get(key).Data, golden.Get(key), 1e-4);
    }

    [Fact]
    public void MissingWeightsFileFailsWithItsName()
    {
        var (exit, stderr) = Run(Args(Golden("songunet_small.json"), Path.Combine(_dir, "nope.safetensors"),
            Golden("songunet_small_io.safetensors"), Path.Combine(_dir, "o.safetensors")));
        Assert.Equal(1, exit);
        Assert.Contains("nope.safetensors", stderr);
    }

    [Fact]
    public void WrongInputShapeFailsNamingTheTensor()
    {
        string input = Path.Combine(_dir, "in.safetensors");
        SafetensorsFile.Write(input, new Dictionary<string, HostTensor>
        {
            ["x"] = new HostTensor(2, 3, 8, 8), ["t"] = new HostTensor(2),
        });
        var (exit, stderr) = Run(Args(Golden("songunet_small.json"), Golden("songunet_small_weights.safetensors"), input, Path.Combine(_dir, "o.safetensors")));
        Assert.Equal(1, exit);
        Assert.Contains("'x'", stderr);
        Assert.Contains("[2, 3, 8, 8]", stderr);
        Assert.False(File.Exists(Path.Combine(_dir, "o.safetensors")));
    }

    [Fact]
    public void MissingTimeTensorAndMismatchedBatchAreErrors()
    {
        string input = Path.Combine(_dir, "in.safetensors");
        SafetensorsFile.Write(input, new Dictionary<string, HostTensor> { ["x"] = new HostTensor(2, 2, 8, 8) });
        var (exit, stderr) = Run(Args(Golden("songunet_small.json"), Golden("songunet_small_weights.safetensors"), input, Path.Combine(_dir, "o.safetensors")));
        Assert.Equal(1, exit);
        Assert.Contains("'t' is missing", stderr);

        SafetensorsFile.Write(input, new Dictionary<string, HostTensor> { ["x"] = new HostTensor(2, 2, 8, 8), ["t"] = new HostTensor(3) });
        (exit, stderr) = Run(Args(Golden("songunet_small.json"), Golden("songunet_small_weights.safetensors"), input, Path.Combine(_dir, "o.safetensors")));
        Assert.Equal(1, exit);
        Assert.Contains("'t'", stderr);
    }

    [Fact]
    public void TruncatedWeightsAndWrongModelAreErrors()
    {
        string truncated = Path.Combine(_dir, "w.safetensors");
        var bytes = File.ReadAllBytes(Golden("songunet_small_weights.safetensors"));
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        var (exit, stderr) = Run(Args(Golden("songunet_small.json"), truncated, Golden("songunet_small_io.safetensors"), Path.Combine(_dir, "o.safetensors")));
        Assert.Equal(1, exit);
        Assert.Contains("w.safetensors", stderr);

        // Encoder weights under the decoder's config: unknown/missing keys, not a crash.
        (exit, stderr) = Run(Args(Golden("songunet_small.json"), Golden("songunet_encoder_weights.safetensors"), Golden("songunet_small_io.safetensors"), Path.Combine(_dir, "o.safetensors")));
        Assert.Equal(1, exit);
        Assert.Contains("songunet_encoder_weights.safetensors", stderr);
    }

    [Fact]
    public void MissingRequiredOptionIsAUsageError()
    {
        var (exit, _) = Run("velocity", "--model", Golden("songunet_small.json"));
        Assert.NotEqual(0, exit);
    }
}
