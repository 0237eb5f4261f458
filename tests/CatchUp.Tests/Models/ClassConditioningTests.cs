using CatchUp.Backends.Cpu;
using CatchUp.Models;
using CatchUp.Models.Adm;
using CatchUp.Nn;
using CatchUp.Sampling;
using CatchUp.Tensors;
using Xunit;
using static CatchUp.Tests.Models.NetworkTestKit;

namespace CatchUp.Tests.Models;

/// <summary>Class conditioning of the SongUNet (EDM's map_label on one-hot labels) and through the velocity-network
/// abstraction: the embedding's exact form, finite differences, and the presence rules for labels.</summary>
public class ClassConditioningTests
{
    private static readonly SongUNetConfig Conditional = SongUNetConfig.TestTiny with { LabelDim = 3, ExtraHeads = 0 };

    private static (Tensor X, Tensor T) Inputs(CpuBackend b)
    {
        int r = Conditional.ImgResolution, c = Conditional.InChannels;
        return (b.FromArray(Normal(2 * c * r * r, 1), 2, c, r, r), b.FromArray([0.7f, 0.2f], 2));
    }

    private static void Set(Parameter p, float[] values) => p.Value.Backend.Upload(values, p.Value);

    [Fact]
    public void MapLabelAddsSqrtLabelDimTimesTheClassColumnPlusBiasToTheNoiseEmbedding()
    {
        using var b = new CpuBackend(1);
        using var plain = new SongUNet(Conditional with { LabelDim = 0 }, b);
        using var viaColumn = new SongUNet(Conditional, b);
        using var viaBias = new SongUNet(Conditional, b);
        Randomize(plain.Parameters, 3);
        int noise = Conditional.ModelChannels * Conditional.ChannelMultNoise, classes = Conditional.LabelDim;
        var shared = new Dictionary<string, CatchUp.IO.HostTensor>(StateDict.Export(plain.Parameters))
        {
            ["map_label.weight"] = new(noise, classes),
            ["map_label.bias"] = new(noise),
        };
        foreach (var net in new[] { viaColumn, viaBias }) StateDict.Load(net.Parameters, shared, "plain");
        var u = Normal(noise, 9);
        // viaColumn: weight column 1 = u / sqrt(3), bias 0; viaBias: weight 0, bias u. Class 1 must give both the same
        // embedding (sqrt(3) * u / sqrt(3) = u); classes 0 and 2 must leave viaColumn's embedding unchanged.
        var column = new float[noise * classes];
        for (int o = 0; o < noise; o++) column[o * classes + 1] = u[o] / MathF.Sqrt(classes);
        Set(viaColumn.Parameters["map_label.weight"], column);
        Set(viaColumn.Parameters["map_label.bias"], new float[noise]);
        Set(viaBias.Parameters["map_label.weight"], new float[noise * classes]);
        Set(viaBias.Parameters["map_label.bias"], u);

        var (x, t) = Inputs(b);
        float[] V(IVelocityNetwork net, int[]? y) => net.Forward(x, t, y, ForwardMode.Inference, computeHeads: false).V.ToArray();
        var unconditional = V(plain, null);
        Assert.True(RelativeError(V(viaColumn, [0, 2]), unconditional) < 1e-6, "classes whose column is zero change nothing");
        var shifted = V(viaBias, [0, 2]);
        Assert.True(RelativeError(V(viaColumn, [1, 1]), shifted) < 1e-5, "class 1 adds sqrt(label_dim) * column 1");
        Assert.True(RelativeError(shifted, unconditional) > 1e-2, "the label embedding changes the output");
    }

    [Fact]
    public void LabelEmbeddingGradientsMatchFiniteDifferences()
    {
        using var b = new CpuBackend(2);
        using var net = new SongUNet(Conditional with { Dropout = 0.2 }, b);
        Randomize(net.Parameters, 5);
        var (x, t) = Inputs(b);
        int[] y = [2, 0];
        using var target = b.FromArray(Normal(x.Length, 4), x.Shape.ToArray());
        using var dv = b.Allocate(x.Shape);
        var mode = ForwardMode.Train(seed: 11);
        double Loss(bool grad) => b.MseLoss(net.Forward(x, t, y, mode, computeHeads: false).V, target, grad ? dv : null, 1f);
        net.Parameters.ZeroGrad();
        Loss(true);
        var dx = net.Backward(dv, needInputGrad: true)!.ToArray();

        double Central(Tensor tensor, int i)
        {
            var host = tensor.ToArray();
            float original = host[i];
            host[i] = original + 1e-2f; b.Upload(host, tensor);
            double plus = Loss(false);
            host[i] = original - 1e-2f; b.Upload(host, tensor);
            double minus = Loss(false);
            host[i] = original; b.Upload(host, tensor);
            return (plus - minus) / 2e-2;
        }
        void Check(string what, float[] analytic, Tensor tensor, int take)
        {
            foreach (int i in Enumerable.Range(0, analytic.Length).OrderByDescending(i => Math.Abs(analytic[i])).Take(take))
            {
                double numeric = Central(tensor, i);
                double err = Math.Abs(analytic[i] - numeric) / Math.Max(Math.Abs(numeric), 1e-3);
                Assert.True(err < 3e-2, $"{what}[{i}]: analytic {analytic[i]:E4} vs finite difference {numeric:E4}");
            }
        }
        foreach (var name in new[] { "map_label.weight", "map_label.bias", "map_layer0.weight" })
            Check(name, net.Parameters[name].Grad.ToArray(), net.Parameters[name].Value, 3);
        Check("x", dx, x, 3);
        // Class 1 is in no sample: its column gets no gradient.
        var dW = net.Parameters["map_label.weight"].Grad.ToArray();
        for (int o = 0; o < dW.Length / 3; o++) Assert.Equal(0f, dW[o * 3 + 1]);
    }

    [Fact]
    public void LabelsComeExactlyWithAConditionalModel()
    {
        using var b = new CpuBackend(1);
        using var conditional = new SongUNet(Conditional, b);
        using var plain = new SongUNet(Conditional with { LabelDim = 0 }, b);
        var (x, t) = Inputs(b);
        Assert.Contains("needs class labels", Assert.Throws<ArgumentException>(() => conditional.Forward(x, t, null, ForwardMode.Inference)).Message);
        Assert.Contains("no class labels", Assert.Throws<ArgumentException>(() => plain.Forward(x, t, [0, 1], ForwardMode.Inference)).Message);
        Assert.Contains("outside [0, 3)", Assert.Throws<ArgumentException>(() => conditional.Forward(x, t, [0, 3], ForwardMode.Inference)).Message);
        Assert.Contains("y has 1 labels for a batch of 2", Assert.Throws<ArgumentException>(() => conditional.Forward(x, t, [0], ForwardMode.Inference)).Message);
    }

    [Fact]
    public void SamplingPassesEachBatchItsOwnLabels()
    {
        using var b = new CpuBackend(1);
        using var net = new SongUNet(Conditional, b);
        Randomize(net.Parameters, 8);
        int r = Conditional.ImgResolution, c = Conditional.InChannels;
        var noise = SampleGenerator.Noise(1, 5, c, r, r);
        int[] labels = [2, 0, 1, 1, 2];
        // In batches of 2 and in one batch of 5: the same per-sample labels, so the same images.
        var batched = SampleGenerator.Generate(net, "euler", 2, 1, noise, 5, 2, labels: labels);
        var whole = SampleGenerator.Generate(net, "euler", 2, 1, noise, 5, 5, labels: labels);
        Assert.True(RelativeError(batched.X, whole.X) < 1e-5);
        var other = SampleGenerator.Generate(net, "euler", 2, 1, noise, 5, 5, labels: [0, 0, 0, 0, 0]);
        Assert.True(RelativeError(other.X, whole.X) > 1e-3, "the labels reach the network");
        Assert.Throws<ArgumentException>(() => SampleGenerator.Generate(net, "euler", 2, 1, noise, 5, 5));
        Assert.Equal([0, 1, 2, 0, 1], SampleGenerator.ClassLabels(5, 3));
    }

    [Fact]
    public void BothNetworksBuildFromTheirConfigsThroughOneAbstraction()
    {
        using var b = new CpuBackend(1);
        var adm = new AdmUNetConfig { ImageSize = 8, NumChannels = 32, NumResBlocks = 1, ChannelMult = "1,2", AttentionResolutions = "4", ClassCond = true, NumClasses = 5, InChannels = 2 };
        foreach (IVelocityModelConfig config in new IVelocityModelConfig[] { Conditional, adm, adm.WithExtraHeads(2), Conditional.WithExtraHeads(1) })
        {
            using var net = config.Build(b);
            Assert.Equal(config.ExtraHeads, net.HeadCount);
            Assert.Same(config.GetType(), net.ModelConfig.GetType());
            int r = config.Resolution;
            using var x = b.FromArray(Normal(2 * config.InChannels * r * r, 2), 2, config.InChannels, r, r);
            using var t = b.FromArray([0.5f, 0.9f], 2);
            var o = net.Forward(x, t, [1, config.ClassCount - 1], ForwardMode.Inference);
            Assert.Equal(x.Shape.ToArray(), o.V.Shape.ToArray());
            Assert.Equal(config.ExtraHeads, o.Heads.Count);
            Assert.Equal(config, VelocityModels.Parse(config.ToJson(), "round trip"));
        }
    }
}
