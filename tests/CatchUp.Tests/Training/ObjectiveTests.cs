using CatchUp.Backends.Cpu;
using CatchUp.Models;
using CatchUp.Nn;
using CatchUp.Objectives;
using CatchUp.Tensors;
using Xunit;
using static CatchUp.Tests.Models.NetworkTestKit;

namespace CatchUp.Tests.Training;

/// <summary>The objectives' per-sample draws and catch-up targets against values computed by hand (SPEC section 3).</summary>
public class ObjectiveTests
{
    private const int N = 6;
    private static readonly SongUNetConfig Tiny = SongUNetConfig.TestTiny; // dropout 0: catch-up passes are deterministic

    private static float[] Run(SongUNet net, CpuBackend b, float[] z, float[] t)
    {
        using var zt = b.FromArray(z, N, 2, 8, 8);
        using var tt = b.FromArray(t, N);
        return net.Forward(zt, tt, ForwardMode.Inference, computeHeads: false).V.ToArray();
    }

    private static float[] Displace(float[] z, float[] dir, float[] dt, float scale)
    {
        int s = z.Length / N;
        var y = new float[z.Length];
        for (int i = 0; i < z.Length; i++) y[i] = z[i] - scale * dt[i / s] * dir[i];
        return y;
    }

    private static float[] Combine(params (float W, float[] V)[] terms)
    {
        var r = new float[terms[0].V.Length];
        foreach (var (w, v) in terms) for (int i = 0; i < r.Length; i++) r[i] += w * v[i];
        return r;
    }

    private static float[] Clamp(float[] t, float[] dt, int j) => t.Select((ti, i) => Math.Clamp(ti - j * dt[i], 1e-5f, 1f)).ToArray();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void CatchUpTargetsFollowTheRungeKuttaFormulas(int k)
    {
        using var b = new CpuBackend(2);
        using var net = new SongUNet(Tiny with { ExtraHeads = k - 1 }, b);
        Randomize(net.Parameters, 11);
        var options = new ObjectiveOptions { Kind = ObjectiveKind.Cud, Order = k, StepSize = StepSizeStrategy.Rule, CatchUpSteps = 4 };
        using var objective = new FlowObjective(options, net, null, null);
        var x0Host = Normal(N * 2 * 64, 3, 0.5f);
        using var x0 = b.FromArray(x0Host, N, 2, 8, 8);
        const ulong seed = 99;
        objective.Step(x0, iteration: 5, totalIterations: 10, runSeed: seed);

        // Reproduce the step's draws: t and noise come from (seed, iteration); dt = t / TN ("rule").
        var t = objective.Times.ToArray();
        var dt = objective.StepSizes.ToArray();
        var rand = new StepRandomness(seed, 5);
        for (int i = 0; i < N; i++)
        {
            Assert.Equal(rand.Uniform("t", i) * (1 - 1e-5f) + 1e-5f, t[i]);
            Assert.Equal(t[i] / 4, dt[i]);
            Assert.Equal(t[i] >= 1e-5f + k * dt[i] ? 1f : 0f, objective.Mask[i]);
        }
        var x1 = new float[x0Host.Length];
        rand.Normal("noise", x1);
        int s = x1.Length / N;
        var z = x1.Select((v, i) => t[i / s] * v + (1 - t[i / s]) * x0Host[i]).ToArray();
        var vStar = x1.Select((v, i) => v - x0Host[i]).ToArray();

        var k1 = Run(net, b, z, t);
        var expected = new List<float[]>();
        switch (k)
        {
            case 1:
                expected.Add(Run(net, b, Displace(z, k1, dt, 1), Clamp(t, dt, 1)));
                break;
            case 2:
            {
                var k2 = Run(net, b, Displace(z, k1, dt, 1), t.Select((ti, i) => ti - dt[i]).ToArray());
                var sum = Combine((1, k1), (1, k2));
                expected.Add(Run(net, b, Displace(z, sum, dt, 0.5f), Clamp(t, dt, 1)));
                expected.Add(Run(net, b, Displace(z, sum, dt, 1), Clamp(t, dt, 2)));
                break;
            }
            case 3:
            {
                var k2 = Run(net, b, Displace(z, k1, dt, 1), Clamp(t, dt, 1));
                var k3 = Run(net, b, Displace(z, Combine((7f / 4, k1), (1f / 4, k2)), dt, 1), Clamp(t, dt, 2));
                var p = Combine((5f / 12, k1), (2f / 3, k2), (-1f / 12, k3));
                for (int j = 1; j <= 3; j++) expected.Add(Run(net, b, Displace(z, p, dt, j), Clamp(t, dt, j)));
                break;
            }
        }
        // Where the mask is off the target is v* itself.
        for (int j = 1; j <= k; j++)
        {
            var e = expected[j - 1];
            for (int i = 0; i < e.Length; i++) if (objective.Mask[i / s] == 0f) e[i] = vStar[i];
            var actual = objective.Target(j).ToArray();
            double err = RelativeError(actual, e);
            Assert.True(err < 1e-5, $"T{j}: relative error {err:E2}");
        }
    }

    [Theory]
    [InlineData(StepSizeStrategy.Uniform)]
    [InlineData(StepSizeStrategy.Rule)]
    [InlineData(StepSizeStrategy.Fixed)]
    public void StepSizeStrategiesAndMasks(StepSizeStrategy strategy)
    {
        using var b = new CpuBackend(1);
        using var net = new SongUNet(Tiny with { ExtraHeads = 0 }, b);
        using var objective = new FlowObjective(new ObjectiveOptions { Order = 1, StepSize = strategy }, net, null, null);
        using var x0 = b.FromArray(new float[64 * 2 * 64], 64, 2, 8, 8);
        objective.Step(x0, 0, 1, 5);
        var t = objective.Times.ToArray();
        var dt = objective.StepSizes.ToArray();
        for (int i = 0; i < t.Length; i++)
        {
            Assert.InRange(t[i], 1e-5f, 1f);
            switch (strategy)
            {
                case StepSizeStrategy.Uniform: Assert.InRange(dt[i], 0f, 1f / 16); break;
                case StepSizeStrategy.Rule: Assert.Equal(t[i] / 16, dt[i]); break;
                case StepSizeStrategy.Fixed: Assert.Equal(1f / 16, dt[i]); break;
            }
            Assert.Equal(t[i] >= 1e-5f + dt[i], objective.Mask[i] == 1f);
        }
        if (strategy == StepSizeStrategy.Fixed) Assert.Contains(0f, objective.Mask.ToArray()); // t < 1/16 happens in 64 draws
        Assert.Contains(1f, objective.Mask.ToArray());
    }

    [Theory]
    [InlineData(ObjectiveKind.Cd)]
    [InlineData(ObjectiveKind.Pd)]
    public void DistillationBaselinesTargetTheFrozenTeacher(ObjectiveKind kind)
    {
        using var b = new CpuBackend(2);
        var cfg = Tiny with { ExtraHeads = 0 };
        using var net = new SongUNet(cfg, b);
        using var ema = new SongUNet(cfg, b);
        using var pre = new SongUNet(cfg, b);
        Randomize(net.Parameters, 1); Randomize(ema.Parameters, 2); Randomize(pre.Parameters, 3);
        const int tn = 4;
        using var objective = new FlowObjective(new ObjectiveOptions { Kind = kind, CatchUpSteps = tn }, net, ema, null, pre);
        var x0Host = Normal(N * 128, 3, 0.5f);
        using var x0 = b.FromArray(x0Host, N, 2, 8, 8);
        objective.Step(x0, 1, 10, 8);
        var t = objective.Times.ToArray();
        var x1 = new float[x0Host.Length];
        new StepRandomness(8, 1).Normal("noise", x1);
        int s = x1.Length / N;
        var z = x1.Select((v, i) => t[i / s] * v + (1 - t[i / s]) * x0Host[i]).ToArray();
        var h = Enumerable.Repeat(1f / tn, N).ToArray();
        var y = Displace(z, Run(pre, b, z, t), h, 1);
        float[] expected;
        if (kind == ObjectiveKind.Cd)
        {
            expected = Run(ema, b, y, t.Select(ti => Math.Clamp(ti - 1f / tn, 1f / tn, 1f)).ToArray());
        }
        else
        {
            Assert.All(t, ti => { Assert.Equal(MathF.Round(ti * tn), ti * tn, 4); Assert.InRange(ti * tn, 2f, tn); });
            var z2 = Displace(y, Run(pre, b, y, t.Select(ti => ti - 1f / tn).ToArray()), h, 1);
            expected = z.Select((zi, i) => (zi - z2[i]) / (2f / tn)).ToArray();
        }
        double err = RelativeError(objective.Target(1).ToArray(), expected);
        Assert.True(err < 1e-5, $"{kind} target: relative error {err:E2}");
    }

    [Theory]
    [InlineData(1, false, ConvAlgorithm.Direct)]
    [InlineData(3, true, ConvAlgorithm.Direct)]
    [InlineData(1, false, ConvAlgorithm.Auto)]
    public void SteadyStateTrainingStepAllocatesNothing(int order, bool encoder, ConvAlgorithm algorithm)
    {
        using var b = new CpuBackend(2) { ConvAlgorithm = algorithm };
        var cfg = Tiny with { ExtraHeads = order - 1, Dropout = 0.1 };
        using var net = new SongUNet(cfg, b);
        using var ema = new SongUNet(cfg, b);
        net.Parameters.Initialize(1);
        using var enc = encoder ? new NoiseEncoder(cfg, b) : null;
        enc?.Network.Parameters.Initialize(2);
        using var objective = new FlowObjective(new ObjectiveOptions { Order = order, Encoder = encoder, Teacher = TeacherKind.Ema }, net, ema, enc);
        using var adam = new CatchUp.Training.AdamOptimizer(b, net.Parameters.All.Concat(enc?.Network.Parameters.All ?? []).ToList());
        var tracker = new CatchUp.Training.EmaTracker(b, net.Parameters, ema.Parameters, 0.99f, 0);
        using var x0 = b.FromArray(Normal(4 * 128, 1, 0.5f), 4, 2, 8, 8);
        void Step(long i)
        {
            net.Parameters.ZeroGrad();
            enc?.Network.Parameters.ZeroGrad();
            objective.Step(x0, i, 100, 3);
            adam.Step(1e-3f);
            tracker.Update(i);
        }
        for (int i = 0; i < 20; i++) Step(i);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 20; i < 30; i++) Step(i);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated == 0, $"a steady-state training step allocated {allocated / 10} bytes");
    }

    [Fact]
    public void DiscreteTimeDrawsTheGrid()
    {
        using var b = new CpuBackend(1);
        using var net = new SongUNet(Tiny with { ExtraHeads = 0 }, b);
        using var objective = new FlowObjective(new ObjectiveOptions { Order = 1, DiscreteTime = true }, net, null, null);
        using var x0 = b.FromArray(new float[32 * 2 * 64], 32, 2, 8, 8);
        objective.Step(x0, 3, 10, 1);
        foreach (float t in objective.Times.ToArray())
        {
            float k = t * 16;
            Assert.Equal(MathF.Round(k), k, 4);
            Assert.InRange(k, 1f, 16f);
        }
        Assert.All(objective.StepSizes.ToArray(), dt => Assert.Equal(1f / 16, dt));
    }

    [Fact]
    public void RectifiedFlowLossIsTheVelocityMse()
    {
        using var b = new CpuBackend(2);
        using var net = new SongUNet(Tiny with { ExtraHeads = 0 }, b);
        Randomize(net.Parameters, 4);
        using var objective = new FlowObjective(new ObjectiveOptions { Kind = ObjectiveKind.Rf }, net, null, null);
        var x0Host = Normal(N * 128, 8, 0.5f);
        using var x0 = b.FromArray(x0Host, N, 2, 8, 8);
        var terms = objective.Step(x0, 2, 10, 7);
        var t = objective.Times.ToArray();
        var x1 = new float[x0Host.Length];
        new StepRandomness(7, 2).Normal("noise", x1);
        int s = x1.Length / N;
        var z = x1.Select((v, i) => t[i / s] * v + (1 - t[i / s]) * x0Host[i]).ToArray();
        var v = Run(net, b, z, t);
        double mse = v.Select((vi, i) => Math.Pow(vi - (x1[i] - x0Host[i]), 2)).Average();
        Assert.Equal(mse, terms[0], 4);
        Assert.Equal(terms[0], terms.Total);
    }

    [Fact]
    public void EncoderGradientMatchesFiniteDifferences()
    {
        // Curvature: the loss depends on the encoder through x1 (in z_t and in v*) and through the KL.
        using var b = new CpuBackend(2);
        var cfg = Tiny with { ExtraHeads = 0 };
        using var net = new SongUNet(cfg, b);
        using var encoder = new NoiseEncoder(cfg, b);
        Randomize(net.Parameters, 4);
        Randomize(encoder.Network.Parameters, 5);
        foreach (var p in encoder.Network.Parameters.All) // keep exp(logvar/2) moderate
            b.Upload(p.Value.ToArray().Select(v => v * 0.5f).ToArray(), p.Value);
        using var objective = new FlowObjective(new ObjectiveOptions { Kind = ObjectiveKind.Curvature, WeightPrior = 2f }, net, null, encoder);
        using var x0 = b.FromArray(Normal(2 * 128, 8, 0.5f), 2, 2, 8, 8);
        double Loss() => objective.Step(x0, 1, 10, 3).Total;
        encoder.Network.Parameters.ZeroGrad();
        net.Parameters.ZeroGrad();
        Loss();
        // Snapshot: every Loss() below accumulates into the gradients again.
        var grads = encoder.Network.Parameters.All.ToDictionary(p => p.Name, p => p.Grad.ToArray());
        foreach (var (name, index) in new[] { ("enc.8x8_conv.weight", -1), ("dec.8x8_aux_conv.weight", -1), ("dec.8x8_aux_conv.bias", 0),
                     ("dec.8x8_aux_conv.bias", 1), ("dec.8x8_aux_conv.bias", 2), ("dec.8x8_aux_conv.bias", 3) })
        {
            var p = encoder.Network.Parameters[name];
            var grad = grads[name];
            int i = index >= 0 ? index : Enumerable.Range(0, grad.Length).OrderByDescending(j => Math.Abs(grad[j])).First();
            var host = p.Value.ToArray();
            float orig = host[i], h = 1e-2f;
            host[i] = orig + h; b.Upload(host, p.Value); double plus = Loss();
            host[i] = orig - h; b.Upload(host, p.Value); double minus = Loss();
            host[i] = orig; b.Upload(host, p.Value);
            double fd = (plus - minus) / (2 * h);
            Assert.True(Math.Abs(fd - grad[i]) <= 3e-2 * Math.Abs(fd) + 1e-4, $"{name}[{i}]: analytic {grad[i]:E4} vs finite difference {fd:E4}");
        }
    }
}
