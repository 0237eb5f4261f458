using CatchUp.Backends.Cpu;
using CatchUp.Models;
using CatchUp.Nn;
using CatchUp.Tensors;
using Xunit;
using static CatchUp.Tests.Models.NetworkTestKit;

namespace CatchUp.Tests.Models;

public class NetworkBehaviourTests
{
    [Fact]
    public void PaperConfigsHaveThePapersParameterCounts()
    {
        using var backend = new CpuBackend(1);
        using (var mnist = new SongUNet(SongUNetConfig.MnistPaper, backend))
            Assert.Equal(2_155_201, mnist.Parameters.ElementCount); // PyTorch reference: 2,155,201 (paper: 2.16M)
        using var cifar = new SongUNet(SongUNetConfig.Cifar10Paper, backend);
        Assert.Equal(55_732_739, cifar.Parameters.ElementCount);   // paper: 55.7M
    }

    [Fact]
    public void InferenceEqualsTrainingForwardWithoutDropoutAndRefusesBackward()
    {
        using var backend = new CpuBackend(2);
        using var net = new SongUNet(SongUNetConfig.TestTiny, backend);
        Randomize(net.Parameters, 3);
        using var x = backend.FromArray(Normal(2 * 2 * 8 * 8, 5), 2, 2, 8, 8);
        using var t = backend.FromArray([0.3f, 0.9f], 2);
        var train = net.Forward(x, t, new ForwardMode(true, false, 0)).V.ToArray();
        var infer = net.Forward(x, t, ForwardMode.Inference).V.ToArray();
        Assert.Equal(train, infer);
        using var dv = backend.Allocate(x.Shape);
        Assert.Throws<InvalidOperationException>(() => net.Backward(dv));
    }

    [Fact]
    public void DropoutIsDeterministicPerSeedAndDiffersAcrossSeeds()
    {
        using var backend = new CpuBackend(2);
        using var net = new SongUNet(SongUNetConfig.TestTiny with { Dropout = 0.3 }, backend);
        Randomize(net.Parameters, 3);
        using var x = backend.FromArray(Normal(2 * 2 * 8 * 8, 5), 2, 2, 8, 8);
        using var t = backend.FromArray([0.3f, 0.9f], 2);
        var a = net.Forward(x, t, ForwardMode.Train(1)).V.ToArray();
        var b = net.Forward(x, t, ForwardMode.Train(1)).V.ToArray();
        var c = net.Forward(x, t, ForwardMode.Train(2)).V.ToArray();
        var d = net.Forward(x, t, ForwardMode.Inference).V.ToArray();
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.NotEqual(a, d);
    }

    [Fact]
    public void DynamicSkipChangesTheOutputAndIsTimeDependent()
    {
        using var backend = new CpuBackend(1);
        using var on = new SongUNet(SongUNetConfig.TestTiny, backend);
        using var off = new SongUNet(SongUNetConfig.TestTiny with { PriorShakedrop = false }, backend);
        Randomize(on.Parameters, 3);
        Randomize(off.Parameters, 3);
        using var x = backend.FromArray(Normal(2 * 2 * 8 * 8, 5), 2, 2, 8, 8);
        // At t = 0.5, phi_t = 0.5 so pos = neg = 1: dynamic skip is the identity there.
        using var half = backend.FromArray([0.5f, 0.5f], 2);
        Assert.Equal(off.Forward(x, half, ForwardMode.Inference).V.ToArray(), on.Forward(x, half, ForwardMode.Inference).V.ToArray());
        using var t = backend.FromArray([0.1f, 0.9f], 2);
        Assert.NotEqual(off.Forward(x, t, ForwardMode.Inference).V.ToArray(), on.Forward(x, t, ForwardMode.Inference).V.ToArray());
    }

    [Theory]
    [InlineData(ConvAlgorithm.Direct)]
    [InlineData(ConvAlgorithm.Winograd2)]
    [InlineData(ConvAlgorithm.Winograd4)]
    [InlineData(ConvAlgorithm.Auto)]
    public void SteadyStateTrainingStepAllocatesNothing(ConvAlgorithm algorithm)
    {
        using var backend = new CpuBackend(2) { ConvAlgorithm = algorithm };
        using var net = new SongUNet(SongUNetConfig.TestTiny with { Dropout = 0.1 }, backend);
        net.Parameters.Initialize(1);
        using var x = backend.FromArray(Normal(4 * 2 * 8 * 8, 5), 4, 2, 8, 8);
        using var t = backend.FromArray([0.3f, 0.9f, 0.5f, 0.01f], 4);
        using var target = backend.Allocate(x.Shape);
        using var grad = backend.Allocate(x.Shape);
        void Step(ulong i)
        {
            net.Parameters.ZeroGrad();
            var o = net.Forward(x, t, ForwardMode.Train(i));
            backend.MseLoss(o.V, target, grad, 1f);
            net.Backward(grad);
        }
        AssertSteadyStateAllocatesNothing(backend, Step);
    }
}
