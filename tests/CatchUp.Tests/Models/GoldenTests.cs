using CatchUp.Backends;
using CatchUp.Backends.Cpu;
using CatchUp.IO;
using CatchUp.Models;
using CatchUp.Nn;
using CatchUp.Tensors;
using Xunit;
using static CatchUp.Tests.Models.NetworkTestKit;

namespace CatchUp.Tests.Models;

/// <summary>Agreement with the PyTorch reference (tests/golden/make_golden.py, computed in float64).</summary>
public class GoldenTests
{
    private const double Tolerance = 1e-4;

    [Theory]
    [InlineData(1, ConvAlgorithm.Direct)]
    [InlineData(2, ConvAlgorithm.Direct)]
    [InlineData(1, ConvAlgorithm.Winograd2)]
    [InlineData(2, ConvAlgorithm.Winograd2)]
    [InlineData(1, ConvAlgorithm.Winograd4)]
    [InlineData(2, ConvAlgorithm.Winograd4)]
    public void SmallDecoderMatchesPyTorchForwardAndGradients(int threads, ConvAlgorithm algorithm)
    {
        using var backend = new CpuBackend(threads) { ConvAlgorithm = algorithm };
        SmallDecoderMatchesPyTorch(backend);
    }

    /// <summary>The CUDA backend's code and kernels, run on the host emulation of the device.</summary>
    [Cuda.EmulatorFact]
    public void SmallDecoderMatchesPyTorchOnTheEmulatedCudaBackend()
    {
        using var backend = new Backends.Cuda.CudaBackend(new Cuda.EmulatedRuntime());
        SmallDecoderMatchesPyTorch(backend);
    }

    [Cuda.GpuFact]
    public void SmallDecoderMatchesPyTorchOnTheGpu()
    {
        using var backend = new Backends.Cuda.CudaBackend();
        SmallDecoderMatchesPyTorch(backend);
    }

    /// <summary>Forward outputs, loss, dL/dx and every dL/dparam within 1e-4 of PyTorch (<see cref="PyTorchGoldenCheck"/>).</summary>
    private static void SmallDecoderMatchesPyTorch(IBackend backend)
    {
        var results = PyTorchGoldenCheck.SmallDecoder(backend, Path.GetDirectoryName(Golden(PyTorchGoldenCheck.Config))!);
        Assert.Equal(4, results.Count);
        foreach (var r in results) Assert.True(r.Passed, $"{r.Check}: relative error {r.Error:E2} > {r.Tolerance:E0} at {r.Worst}");
    }

    [Theory]
    [InlineData(ConvAlgorithm.Direct)]
    [InlineData(ConvAlgorithm.Winograd2)]
    [InlineData(ConvAlgorithm.Winograd4)]
    public void EncoderVariantMatchesPyTorch(ConvAlgorithm algorithm)
    {
        using var backend = new CpuBackend(2) { ConvAlgorithm = algorithm };
        var config = SongUNetConfig.Load(Golden("songunet_encoder.json"));
        Assert.Equal(2 * config.InChannels, config.OutChannels);
        using var net = new SongUNet(config, backend);
        StateDict.Load(net.Parameters, SafetensorsFile.Read(Golden("songunet_encoder_weights.safetensors")).Tensors, "golden");
        var io = SafetensorsFile.Read(Golden("songunet_encoder_io.safetensors"));
        using var x = backend.FromArray(io.Get("x").Data, io.Get("x").Shape);
        using var t = backend.FromArray(io.Get("t").Data, io.Get("t").Shape);
        Assert.All(io.Get("t").Data, v => Assert.Equal(1f, v));
        var output = net.Forward(x, t, new ForwardMode(true, false, 0));
        AssertClose("v", output.V.ToArray(), io.Get("v"), Tolerance);

        using var tv = backend.FromArray(io.Get("target_v").Data, io.Get("target_v").Shape);
        using var dv = backend.Allocate(output.V.Shape);
        backend.MseLoss(output.V, tv, dv, 1f);
        net.Parameters.ZeroGrad();
        var dx = net.Backward(dv, needInputGrad: true)!;
        AssertClose("grad_x", dx.ToArray(), io.Get("grad_x"), Tolerance);
        foreach (var p in net.Parameters.All)
            AssertClose("grad." + p.Name, p.Grad.ToArray(), io.Get("grad." + p.Name), Tolerance);
    }

    [Fact]
    public void SavedWeightsRoundTripAndLoadStrictly()
    {
        using var backend = new CpuBackend(1);
        var config = SongUNetConfig.Load(Golden("songunet_small.json"));
        using var net = new SongUNet(config, backend);
        var source = SafetensorsFile.Read(Golden("songunet_small_weights.safetensors")).Tensors;
        StateDict.Load(net.Parameters, source, "golden");
        var exported = StateDict.Export(net.Parameters);
        // Same keys as PyTorch's state_dict(), buffers included, so torch's strict load_state_dict accepts our files.
        Assert.Equal(source.Keys.OrderBy(k => k, StringComparer.Ordinal), exported.Keys.OrderBy(k => k, StringComparer.Ordinal));
        foreach (var (key, tensor) in source) Assert.Equal(tensor.Data, exported[key].Data);
    }

    [Fact]
    public void LoadRejectsUnknownMissingAndMisshapedTensorsNamingTheKey()
    {
        using var backend = new CpuBackend(1);
        var config = SongUNetConfig.Load(Golden("songunet_small.json"));
        using var net = new SongUNet(config, backend);
        var good = SafetensorsFile.Read(Golden("songunet_small_weights.safetensors")).Tensors;

        var unknown = new Dictionary<string, HostTensor>(good) { ["dec.8x8_bogus.weight"] = new HostTensor(3) };
        var e1 = Assert.ThrowsAny<InvalidDataFileException>(() => StateDict.Load(net.Parameters, unknown, "w.safetensors"));
        Assert.Contains("dec.8x8_bogus.weight", e1.Message);
        Assert.Contains("w.safetensors", e1.Message);

        var missing = new Dictionary<string, HostTensor>(good);
        missing.Remove("map_layer1.bias");
        Assert.Contains("map_layer1.bias", Assert.ThrowsAny<InvalidDataFileException>(() => StateDict.Load(net.Parameters, missing, "w")).Message);

        var misshaped = new Dictionary<string, HostTensor>(good) { ["enc.8x8_conv.weight"] = new HostTensor(8, 2, 1, 1) };
        var e3 = Assert.ThrowsAny<InvalidDataFileException>(() => StateDict.Load(net.Parameters, misshaped, "w"));
        Assert.Contains("enc.8x8_conv.weight", e3.Message);
        Assert.Contains("[8, 2, 3, 3]", e3.Message);

        string filterKey = net.Parameters.ResampleFilterBuffers[0];
        var badFilter = new Dictionary<string, HostTensor>(good) { [filterKey] = new HostTensor([1, 1, 2, 2], [1f, 0f, 0f, 0f]) };
        Assert.Contains(filterKey, Assert.ThrowsAny<InvalidDataFileException>(() => StateDict.Load(net.Parameters, badFilter, "w")).Message);
    }
}
