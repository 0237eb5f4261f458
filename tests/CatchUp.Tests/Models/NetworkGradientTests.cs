using CatchUp.Backends.Cpu;
using CatchUp.Models;
using CatchUp.Nn;
using CatchUp.Tensors;
using Xunit;
using static CatchUp.Tests.Models.NetworkTestKit;

namespace CatchUp.Tests.Models;

/// <summary>Finite differences through the whole network: heads, dynamic skip, attention, both resamplings, dropout.</summary>
public class NetworkGradientTests
{
    private static readonly SongUNetConfig Tiny = SongUNetConfig.TestTiny with { Dropout = 0.2 };

    private sealed class Harness : IDisposable
    {
        public readonly CpuBackend Backend;
        public readonly SongUNet Net;
        public readonly Tensor X, T, Target, Target2, Target3, Dv, Dh2, Dh3;
        private static readonly ForwardMode Mode = ForwardMode.Train(seed: 42);

        public Harness(ConvAlgorithm algorithm = ConvAlgorithm.Direct)
        {
            Backend = new CpuBackend(2) { ConvAlgorithm = algorithm };
            Net = new SongUNet(Tiny, Backend);
            Randomize(Net.Parameters, 7);
            int r = Tiny.ImgResolution, n = 2, c = Tiny.InChannels;
            X = Backend.FromArray(Normal(n * c * r * r, 1), n, c, r, r);
            T = Backend.FromArray([0.8f, 0.15f], n);
            Target = Backend.FromArray(Normal(n * c * r * r, 2), n, c, r, r);
            Target2 = Backend.FromArray(Normal(n * c * r * r, 3), n, c, r, r);
            Target3 = Backend.FromArray(Normal(n * c * r * r, 4), n, c, r, r);
            Dv = Backend.Allocate(X.Shape); Dh2 = Backend.Allocate(X.Shape); Dh3 = Backend.Allocate(X.Shape);
        }

        public double Loss(bool withGradients)
        {
            var o = Net.Forward(X, T, Mode);
            return Backend.MseLoss(o.V, Target, withGradients ? Dv : null, 1f)
                 + Backend.MseLoss(o.Heads[0], Target2, withGradients ? Dh2 : null, 1f)
                 + Backend.MseLoss(o.Heads[1], Target3, withGradients ? Dh3 : null, 1f);
        }

        public float[] Backward()
        {
            Net.Parameters.ZeroGrad();
            Loss(withGradients: true);
            return Net.Backward(Dv, [Dh2, Dh3], needInputGrad: true)!.ToArray();
        }

        public double CentralDifference(Tensor tensor, int index, float step)
        {
            var host = tensor.ToArray();
            float original = host[index];
            host[index] = original + step; Backend.Upload(host, tensor);
            double plus = Loss(false);
            host[index] = original - step; Backend.Upload(host, tensor);
            double minus = Loss(false);
            host[index] = original; Backend.Upload(host, tensor);
            return (plus - minus) / (2 * step);
        }

        public void Dispose() { Net.Dispose(); Backend.Dispose(); }
    }

    private static void AssertMatches(string what, double analytic, double numeric)
    {
        double err = Math.Abs(analytic - numeric) / Math.Max(Math.Abs(numeric), 1e-3);
        Assert.True(err < 3e-2, $"{what}: analytic {analytic:E4} vs finite difference {numeric:E4} (relative error {err:E2})");
    }

    public static TheoryData<ConvAlgorithm> Algorithms => new(ConvAlgorithm.Direct, ConvAlgorithm.Winograd2, ConvAlgorithm.Winograd4);

    [Theory]
    [MemberData(nameof(Algorithms))]
    public void InputGradientMatchesFiniteDifferences(ConvAlgorithm algorithm)
    {
        using var h = new Harness(algorithm);
        var dx = h.Backward();
        // The largest-gradient entries, where float32 finite differences are meaningful.
        foreach (int i in Enumerable.Range(0, dx.Length).OrderByDescending(i => Math.Abs(dx[i])).Take(6))
            AssertMatches($"{algorithm}: dL/dx[{i}]", dx[i], h.CentralDifference(h.X, i, 1e-2f));
    }

    [Theory]
    [InlineData("map_layer0.weight")]
    [InlineData("enc.8x8_conv.weight")]
    [InlineData("enc.8x8_block0.conv0.weight")]
    [InlineData("enc.4x4_down.skip.weight")]
    [InlineData("enc.4x4_block0.norm2.weight")]
    [InlineData("enc.4x4_block0.qkv.weight")]
    [InlineData("enc.4x4_block0.proj.bias")]
    [InlineData("enc.2x2_block0.affine.weight")]
    [InlineData("dec.2x2_in0.norm1.bias")]
    [InlineData("dec.4x4_up.conv0.weight")]
    [InlineData("dec.8x8_block1.conv1.weight")]
    [InlineData("dec.8x8_block0.skip.bias")]
    [InlineData("dec.8x8_aux_conv.weight")]
    [InlineData("heads.0.block.0.weight")]
    [InlineData("heads.1.block.2.weight")]
    public void ParameterGradientMatchesFiniteDifferences(string name)
    {
        foreach (var algorithm in new[] { ConvAlgorithm.Direct, ConvAlgorithm.Winograd2, ConvAlgorithm.Winograd4 })
            ParameterGradientMatches(name, algorithm);
    }

    private static void ParameterGradientMatches(string name, ConvAlgorithm algorithm)
    {
        using var h = new Harness(algorithm);
        h.Backward();
        var p = h.Net.Parameters[name];
        var grad = p.Grad.ToArray();
        foreach (int i in Enumerable.Range(0, grad.Length).OrderByDescending(i => Math.Abs(grad[i])).Take(2))
            AssertMatches($"{algorithm}: dL/d{name}[{i}]", grad[i], h.CentralDifference(p.Value, i, 1e-2f));
    }

    [Fact]
    public void GradientsAccumulateAcrossBackwardCalls()
    {
        using var h = new Harness();
        h.Backward();
        var once = h.Net.Parameters["dec.8x8_block0.conv0.weight"].Grad.ToArray();
        h.Loss(withGradients: true);
        h.Net.Backward(h.Dv, [h.Dh2, h.Dh3]);
        var twice = h.Net.Parameters["dec.8x8_block0.conv0.weight"].Grad.ToArray();
        for (int i = 0; i < once.Length; i++) Assert.Equal(2 * once[i], twice[i], 1e-5f * (1 + Math.Abs(once[i])));
    }
}
