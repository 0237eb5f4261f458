using CatchUp.Backends;
using CatchUp.Backends.Cpu;
using CatchUp.IO;
using CatchUp.Models;
using CatchUp.Models.Adm;
using CatchUp.Nn;
using CatchUp.Tensors;
using Xunit;
using Xunit.Abstractions;
using static CatchUp.Tests.Models.NetworkTestKit;

namespace CatchUp.Tests.Models;

/// <summary>
/// The ADM UNetModel against our float64 PyTorch port of the reference (tests/golden/adm_ref.py, make_adm_golden.py),
/// through safetensors: random weights under the reference's state_dict() names, forward outputs, the loss, dL/dx and
/// every dL/dparam (in the reference layout) within 1e-4 relative.
/// </summary>
public class AdmGoldenTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-4;

    /// <summary>adm_cond: class-conditional, scale-shift, ResBlock up/down, dynamic skip, predstep 3, num_head_channels.
    /// adm_heads: unconditional, additive embedding, num_heads / num_heads_upsample, use_new_attention_order, predstep 2.</summary>
    [Theory]
    [InlineData("adm_cond", 1)]
    [InlineData("adm_cond", 2)]
    [InlineData("adm_heads", 2)]
    public void MatchesThePyTorchPortForwardAndGradients(string variant, int threads)
    {
        using var backend = new CpuBackend(threads);
        foreach (var (what, error) in Compare(backend, variant))
        {
            output.WriteLine($"{variant} {what}: {error:E2}");
            Assert.True(error <= Tolerance, $"{variant} {what}: relative error {error:E2} > {Tolerance:E0}");
        }
    }

    /// <summary>The CUDA backend's code and kernels (the scale-shift kernel included) on the host emulation.</summary>
    [Cuda.EmulatorFact]
    public void MatchesThePyTorchPortOnTheEmulatedCudaBackend()
    {
        using var backend = new Backends.Cuda.CudaBackend(new Cuda.EmulatedRuntime());
        foreach (var variant in (string[])["adm_heads", "adm_cond"])
        foreach (var (what, error) in Compare(backend, variant))
            Assert.True(error <= Tolerance, $"{what}: relative error {error:E2} > {Tolerance:E0}");
    }

    /// <summary>(what, relative error) for v, features, the heads, the loss, dL/dx and the worst dL/dparam.</summary>
    internal static List<(string, double)> Compare(IBackend backend, string variant)
    {
        var config = AdmUNetConfig.Load(Golden(variant + ".json"));
        using var net = new AdmUNet(config, backend);
        StateDict.Load(net.Parameters, SafetensorsFile.Read(Golden(variant + "_weights.safetensors")).Tensors, "golden");
        var io = SafetensorsFile.Read(Golden(variant + "_io.safetensors"));
        using var x = backend.FromArray(io.Get("x").Data, io.Get("x").Shape);
        using var t = backend.FromArray(io.Get("t").Data, io.Get("t").Shape);
        int[]? y = io.Tensors.TryGetValue("y", out var yt) ? yt.Data.Select(v => (int)v).ToArray() : null;
        Assert.Equal(config.ClassCond, y is not null);
        Assert.Equal(config.ExtraHeads, net.HeadCount);

        var results = new List<(string, double)>();
        // Training mode without dropout (the golden pass is PyTorch's eval()): save for the backward.
        var o = net.Forward(x, t, y, new ForwardMode(true, false, 0));
        results.Add(("v", RelativeError(o.V.ToArray(), io.Get("v").Data)));
        results.Add(("features", RelativeError(o.Features.ToArray(), io.Get("features").Data)));
        using var tv = backend.FromArray(io.Get("target_v").Data, io.Get("target_v").Shape);
        using var dv = backend.Allocate(o.V.Shape);
        double loss = backend.MseLoss(o.V, tv, dv, 1f);
        var dHeads = new List<Tensor?>();
        for (int j = 0; j < o.Heads.Count; j++)
        {
            results.Add(($"head{j + 2}", RelativeError(o.Heads[j].ToArray(), io.Get($"head{j + 2}").Data)));
            var target = backend.FromArray(io.Get($"target{j + 2}").Data, io.Get($"target{j + 2}").Shape);
            var dh = backend.Allocate(o.Heads[j].Shape);
            loss += backend.MseLoss(o.Heads[j], target, dh, 1f);
            target.Dispose();
            dHeads.Add(dh);
        }
        // mean(features * target_f): d/dfeatures = target_f / count.
        var tf = io.Get("target_f");
        loss += tf.Data.Zip(o.Features.ToArray(), (a, b) => (double)a * b).Sum() / tf.Length;
        using var dFeatures = backend.FromArray(tf.Data.Select(v => v / tf.Length).ToArray(), tf.Shape);
        results.Add(("loss", Math.Abs(loss - io.Get("loss").Data[0]) / Math.Abs(io.Get("loss").Data[0])));

        net.Parameters.ZeroGrad();
        var dx = net.Backward(dv, dHeads, dFeatures, needInputGrad: true)!;
        results.Add(("grad_x", RelativeError(dx.ToArray(), io.Get("grad_x").Data)));
        // Relative to each tensor's own scale. Some gradients are structurally zero (a bias right before a GroupNorm of
        // one channel per group cancels: ~1e-17 in float64); for those ours must be below 1e-5 of the network's largest
        // gradient (float32 rounding noise), reported separately.
        double globalScale = net.Parameters.All.Max(p => io.Get("grad." + p.Name).Data.Max(MathF.Abs));
        double worst = 0, worstZero = 0;
        string worstName = "";
        foreach (var p in net.Parameters.All)
        {
            var expected = io.Get("grad." + p.Name).Data;
            var actual = StateDict.ToReference(p, p.Grad).Data;
            if (expected.Max(MathF.Abs) < 1e-9 * globalScale)
                worstZero = Math.Max(worstZero, actual.Max(MathF.Abs) / globalScale / 1e-5 * Tolerance);
            else
            {
                double e = RelativeError(actual, expected);
                if (e > worst) (worst, worstName) = (e, p.Name);
            }
        }
        results.Add(("structurally zero gradients: max|grad| / (1e-5 max|all gradients|), times the tolerance", worstZero));
        results.Add(($"grad of every parameter (worst: {worstName})", worst));
        foreach (var d in dHeads) d!.Dispose();
        return results;
    }

    [Theory]
    [InlineData("adm_cond")]
    [InlineData("adm_heads")]
    public void ParameterNamesShapesAndCountAreThePortsStateDict(string variant)
    {
        using var backend = new CpuBackend(1);
        using var net = new AdmUNet(AdmUNetConfig.Load(Golden(variant + ".json")), backend);
        var source = SafetensorsFile.Read(Golden(variant + "_weights.safetensors")).Tensors;
        Assert.Equal(source.Keys.Order(StringComparer.Ordinal), net.Parameters.All.Select(p => p.Name).Order(StringComparer.Ordinal));
        foreach (var p in net.Parameters.All) Assert.Equal(source[p.Name].Shape, p.ReferenceShape.ToArray());
        Assert.Equal(source.Values.Sum(t => (long)t.Length), net.Parameters.ElementCount);
        // Round trip: export gives back exactly the loaded tensors (qkv and label_emb layouts undone).
        StateDict.Load(net.Parameters, source, "golden");
        var exported = StateDict.Export(net.Parameters);
        Assert.Equal(source.Keys.Order(StringComparer.Ordinal), exported.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, tensor) in source) Assert.Equal(tensor.Data, exported[key].Data);
    }
}
