using CatchUp.Backends.Cpu;
using CatchUp.Models.Adm;
using CatchUp.Nn;
using CatchUp.Tensors;
using Xunit;
using static CatchUp.Tests.Kernels.GradCheck;
using static CatchUp.Tests.Models.NetworkTestKit;

namespace CatchUp.Tests.Models;

/// <summary>Finite differences for each new ADM layer and through a whole tiny ADM network (dropout active).</summary>
public class AdmGradientTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly ForwardMode Train = ForwardMode.Train(seed: 17);

    /// <summary>Conditional, scale-shift, up/down, dynamic skip, dropout, one generator head, 2 input channels.</summary>
    private static readonly AdmUNetConfig Tiny = new()
    {
        ImageSize = 8, NumChannels = 32, NumResBlocks = 1, ChannelMult = "1,2", ClassCond = true, NumClasses = 7,
        AttentionResolutions = "4", NumHeadChannels = 16, UseScaleShiftNorm = true, ResblockUpdown = true,
        Dropout = 0.1, PriorShakedrop = true, Predstep = 2, InChannels = 2,
    };

    /// <summary>Checks dL/dx, dL/demb (when <paramref name="checkEmb"/>) and the named parameters' gradients of
    /// L = sum(y * r) against central differences.</summary>
    private void CheckLayer(IAdmLayer layer, ParameterSet ps, int[] xShape, int embDim, bool checkEmb, params string[] parameters)
    {
        var b = ps.Backend;
        Randomize(ps, 3);
        int n = xShape[0];
        var xh = Normal(xShape.Aggregate(1, (a, d) => a * d), 1);
        var eh = Normal(n * embDim, 2);
        using var x = b.FromArray(xh, xShape);
        using var emb = b.FromArray(eh, n, embDim);
        var y0 = layer.Forward(x, emb, Train);
        var r = Normal(y0.Length, 5);
        using var dy = b.FromArray(r, y0.Shape);
        using var dEmb = b.Allocate([n, embDim]);
        ps.ZeroGrad();
        var dx = layer.Backward(dy, dEmb).ToArray();

        var inputs = new List<Input> { new("x", xh, dx) };
        if (checkEmb) inputs.Add(new("emb", eh, dEmb.ToArray()));
        var hosts = parameters.Select(name => (P: ps[name], Values: ps[name].Value.ToArray())).ToList();
        inputs.AddRange(hosts.Select(h => new Input(h.P.Name, h.Values, h.P.Grad.ToArray())));
        double Loss()
        {
            b.Upload(xh, x);
            b.Upload(eh, emb);
            foreach (var (p, values) in hosts) b.Upload(values, p.Value);
            return Project(layer.Forward(x, emb, Train).ToArray(), r);
        }
        output.WriteLine($"FD worst |numeric - analytic| / tolerance: {Verify(Loss, inputs, samples: 8):F3}");
    }

    public static TheoryData<bool, bool, bool, int, int> ResBlockCases => new()
    {
        // scale-shift, up, down, in channels, out channels
        { true, false, false, 32, 32 },
        { true, false, true, 32, 32 },
        { true, true, false, 32, 32 },
        // Additive embedding: with one channel per GroupNorm group the added embedding cancels (its gradient is
        // structurally zero), so these use 64 output channels (two per group).
        { false, false, false, 32, 64 },  // skip_connection 1x1 conv
        { false, true, false, 64, 64 },
        { true, false, false, 64, 32 },
    };

    [Theory, MemberData(nameof(ResBlockCases))]
    public void ResBlockGradientsMatchFiniteDifferences(bool scaleShift, bool up, bool down, int cin, int cout)
    {
        using var backend = new CpuBackend(2);
        var ps = new ParameterSet(backend);
        var block = new ResBlock(ps, "rb", cin, cout, 16, dropout: 0.2f, scaleShift, up, down);
        var names = new List<string> { "rb.in_layers.0.weight", "rb.in_layers.2.weight", "rb.emb_layers.1.weight", "rb.emb_layers.1.bias",
            "rb.out_layers.0.bias", "rb.out_layers.3.weight" };
        if (cin != cout) names.Add("rb.skip_connection.weight");
        CheckLayer(block, ps, [2, cin, 4, 4], 16, checkEmb: true, [.. names]);
        ps.Dispose();
    }

    [Fact]
    public void ConvolutionResamplingGradientsMatchFiniteDifferences()
    {
        using var backend = new CpuBackend(2);
        var ps = new ParameterSet(backend);
        var down = new AdmDownsample(ps, "down", 3);
        var up = new AdmUpsample(ps, "up", 3);
        CheckLayer(down, ps, [2, 3, 6, 4], 4, checkEmb: false, "down.op.weight", "down.op.bias");
        CheckLayer(up, ps, [2, 3, 3, 2], 4, checkEmb: false, "up.conv.weight", "up.conv.bias");
        ps.Dispose();
    }

    [Fact]
    public void DownsampleIsTheStrideTwoConvolution()
    {
        // One 4x4 channel, weight w[ki,kj] = 1 + 3 ki + kj, bias 0.5: y(i,j) = 0.5 + sum w[ki,kj] x(2i-1+ki, 2j-1+kj).
        using var backend = new CpuBackend(1);
        var ps = new ParameterSet(backend);
        var down = new AdmDownsample(ps, "down", 1);
        backend.Upload([1, 2, 3, 4, 5, 6, 7, 8, 9], ps["down.op.weight"].Value);
        backend.Upload([0.5f], ps["down.op.bias"].Value);
        var xh = Enumerable.Range(0, 16).Select(i => (float)(i * i % 7) - 3).ToArray();
        using var x = backend.FromArray(xh, 1, 1, 4, 4);
        using var emb = backend.Allocate([1, 1]);
        var y = down.Forward(x, emb, Train);
        Assert.Equal([1, 1, 2, 2], y.Shape.ToArray());
        var expected = new float[4];
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++)
            {
                double sum = 0.5;
                for (int ki = 0; ki < 3; ki++)
                    for (int kj = 0; kj < 3; kj++)
                    {
                        int r = 2 * i - 1 + ki, c = 2 * j - 1 + kj;
                        if (r >= 0 && r < 4 && c >= 0 && c < 4) sum += (1 + 3 * ki + kj) * xh[r * 4 + c];
                    }
                expected[i * 2 + j] = (float)sum;
            }
        Assert.Equal(expected, y.ToArray());
        ps.Dispose();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void AttentionBlockGradientsMatchFiniteDifferences(int heads)
    {
        using var backend = new CpuBackend(2);
        var ps = new ParameterSet(backend);
        var block = new AttentionBlock(ps, "att", 32, heads);
        CheckLayer(block, ps, [2, 32, 3, 3], 4, checkEmb: false, "att.norm.weight", "att.qkv.weight", "att.qkv.bias", "att.proj_out.weight");
        ps.Dispose();
    }

    [Fact]
    public void AttentionHeadsAreTheReferenceSplit()
    {
        // Internal channel h*3d + 3c + j is the reference's j*C + h*d + c: C = 8, 2 heads of d = 4.
        var rows = AttentionBlock.QkvReferenceRows(8, 2);
        Assert.Equal([0, 8, 16, 1, 9, 17, 2, 10, 18, 3, 11, 19, 4, 12, 20, 5, 13, 21, 6, 14, 22, 7, 15, 23], rows);
    }

    [Fact]
    public void LabelEmbeddingGradientMatchesFiniteDifferences()
    {
        using var backend = new CpuBackend(1);
        var ps = new ParameterSet(backend);
        var emb = new LabelEmbedding(ps, "label_emb", 5, 6);
        Randomize(ps, 4);
        int[] labels = [3, 0, 3];
        var r = Normal(3 * 6, 9);
        using var dy = backend.FromArray(r, 3, 6);
        emb.Forward(labels);
        ps.ZeroGrad();
        emb.Backward(dy);
        var w = emb.Weight.Value.ToArray();
        double Loss()
        {
            backend.Upload(w, emb.Weight.Value);
            return Project(emb.Forward(labels).ToArray(), r);
        }
        output.WriteLine("FD worst ratio: " + Verify(Loss, [new Input("label_emb.weight", w, emb.Weight.Grad.ToArray())], samples: 30).ToString("F3"));
        ps.Dispose();
    }

    [Fact]
    public void WholeNetworkGradientsMatchFiniteDifferences()
    {
        var config = Tiny with { AttentionResolutions = "8,4", Predstep = 3 };
        using var backend = new CpuBackend(2);
        using var net = new AdmUNet(config, backend);
        Randomize(net.Parameters, 5);
        int n = 2;
        var xh = Normal(n * 2 * 8 * 8, 1);
        using var x = backend.FromArray(xh, n, 2, 8, 8);
        using var t = backend.FromArray([0.7f, 0.2f], n);
        int[] y = [4, 1];
        var rv = Normal(n * 2 * 64, 2);
        var rh = Normal(n * 2 * 64, 3);
        double Loss()
        {
            backend.Upload(xh, x);
            var o = net.Forward(x, t, y, Train);
            return Project(o.V.ToArray(), rv) + Project(o.Heads[1].ToArray(), rh);
        }
        Loss();
        using var dv = backend.FromArray(rv, n, 2, 8, 8);
        using var dh3 = backend.FromArray(rh, n, 2, 8, 8);
        net.Parameters.ZeroGrad();
        var dx = net.Backward(dv, [null, dh3], needInputGrad: true)!.ToArray();
        var inputs = new List<Input> { new("x", xh, dx) };
        foreach (var name in (string[])["time_embed.0.weight", "label_emb.weight", "input_blocks.1.0.emb_layers.1.weight",
                     "input_blocks.1.1.qkv.weight", "middle_block.1.proj_out.weight", "output_blocks.0.0.skip_connection.weight",
                     "output_blocks.1.2.in_layers.2.weight", "out.2.bias", "generator_list.1.block.2.weight"])
        {
            var p = net.Parameters[name];
            var values = p.Value.ToArray();
            inputs.Add(new Input(name, values, p.Grad.ToArray()));
        }
        double LossWithParameters()
        {
            foreach (var input in inputs.Skip(1)) backend.Upload(input.Values, net.Parameters[input.Name].Value);
            return Loss();
        }
        output.WriteLine($"FD worst |numeric - analytic| / tolerance: {Verify(LossWithParameters, inputs, samples: 6):F3}");
    }

    [Fact]
    public void SteadyStateTrainingStepAllocatesNothing()
    {
        var config = Tiny;
        using var backend = new CpuBackend(2);
        using var net = new AdmUNet(config, backend);
        net.Parameters.Initialize(1);
        using var x = backend.FromArray(Normal(3 * 2 * 8 * 8, 5), 3, 2, 8, 8);
        using var t = backend.FromArray([0.3f, 0.9f, 0.01f], 3);
        int[] y = [1, 6, 0];
        using var target = backend.Allocate(x.Shape);
        using var grad = backend.Allocate(x.Shape);
        void Step(ulong i)
        {
            net.Parameters.ZeroGrad();
            var o = net.Forward(x, t, y, ForwardMode.Train(i));
            backend.MseLoss(o.V, target, grad, 1f);
            net.Backward(grad);
        }
        AssertSteadyStateAllocatesNothing(backend, Step);
    }
}
