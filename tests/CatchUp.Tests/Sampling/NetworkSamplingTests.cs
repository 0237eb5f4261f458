using CatchUp.Backends.Cpu;
using CatchUp.IO;
using CatchUp.Models;
using CatchUp.Nn;
using CatchUp.Sampling;
using CatchUp.Tensors;
using Xunit;
using static CatchUp.Tests.Models.NetworkTestKit;

namespace CatchUp.Tests.Sampling;

/// <summary>The solvers on the real SongUNet (the small golden config: 2 channels, 8x8, two extra heads), with random weights.</summary>
public sealed class NetworkSamplingTests : IDisposable
{
    private readonly CpuBackend _b = new(2);
    private readonly SongUNet _net;

    public NetworkSamplingTests()
    {
        _net = new SongUNet(SongUNetConfig.Load(Golden("songunet_small.json")), _b);
        Randomize(_net.Parameters, 11);
    }

    public void Dispose()
    {
        _net.Dispose();
        _b.Dispose();
    }

    private float[] Noise(int count) => SampleGenerator.Noise(5, count, 2, 8, 8);

    [Fact]
    public void EulerEqualsTheTrainersOriginalEulerLoop()
    {
        const int count = 3, steps = 4;
        var noise = Noise(count);
        // The loop EulerSampler ran before the solvers existed: z -= v(z, i/N) / N on the main output.
        using var z = _b.FromArray(noise, count, 2, 8, 8);
        using var t = _b.Allocate([count]);
        for (int i = steps; i >= 1; i--)
        {
            _b.Fill(t, i / (float)steps);
            _b.Axpby(-1f / steps, _net.Forward(z, t, ForwardMode.Inference, computeHeads: false).V, 1f, z);
        }
        var expected = z.ToArray();

        var generated = SampleGenerator.Generate(_net, "euler", steps, 1, noise, count, batch: 2);
        Assert.Equal(expected, generated.X);
        Assert.Equal(steps, generated.MeanNfe);
        using var z1 = _b.FromArray(noise, count, 2, 8, 8);
        Assert.Equal(expected, new EulerSampler(_net).Sample(z1, steps).ToArray());
    }

    [Fact]
    public void HeadsSelectTheirOwnOutput()
    {
        const int count = 2;
        var noise = Noise(count);
        using var z = _b.FromArray(noise, count, 2, 8, 8);
        using var t = _b.Allocate([count]);
        _b.Fill(t, 1f);
        var o = _net.Forward(z, t, ForwardMode.Inference);
        float[][] outputs = [o.V.ToArray(), o.Heads[0].ToArray(), o.Heads[1].ToArray()];
        for (int head = 1; head <= 3; head++)
        {
            // One Euler step from t = 1: x = z - v_head(z, 1).
            var x = SampleGenerator.Generate(_net, "euler", 1, head, noise, count, batch: count).X;
            var expected = noise.Select((n, i) => n - outputs[head - 1][i]).ToArray();
            Assert.True(RelativeError(x, expected) < 1e-6, $"head {head}");
        }
        Assert.NotEqual(outputs[0], outputs[1]);
        Assert.NotEqual(outputs[1], outputs[2]);
        Assert.Throws<ArgumentOutOfRangeException>(() => SampleGenerator.Generate(_net, "euler", 1, 4, noise, count, count));
    }

    [Fact]
    public void BatchingDoesNotChangeTheSamplesAndNfeIsPerSample()
    {
        const int count = 5;
        var noise = Noise(count);
        foreach (var (solver, nfe) in new[] { ("heun", 3), ("dpm3", 3) })
        {
            var whole = SampleGenerator.Generate(_net, solver, nfe, 1, noise, count, batch: count);
            var split = SampleGenerator.Generate(_net, solver, nfe, 2, noise, count, batch: 2);
            var splitMain = SampleGenerator.Generate(_net, solver, nfe, 1, noise, count, batch: 2);
            Assert.True(RelativeError(splitMain.X, whole.X) < 1e-5, solver);
            Assert.Equal(nfe, whole.MeanNfe);
            Assert.Equal(nfe, split.MeanNfe);
            Assert.True(RelativeError(split.X, whole.X) > 1e-3, "head 2 must differ from head 1");
        }
    }

    [Fact]
    public void Rk45ReportsItsMeanNfeOverBatches()
    {
        const int count = 4;
        var noise = Noise(count);
        var reported = new List<int>();
        var result = SampleGenerator.Generate(_net, "rk45", 0, 1, noise, count, batch: 3,
            new SolverSettings { RelativeTolerance = 1e-3, AbsoluteTolerance = 1e-3 }, new SyncProgress(reported.Add));
        Assert.Equal([3, 4], reported);
        // Each batch spends 2 + 6 k evaluations; the mean weights them by batch size (3 and 1).
        Assert.InRange(result.MeanNfe, 8, 1000);
        var (_, trajectory) = SampleGenerator.GenerateWithTrajectory(_net, "rk45", 0, 1, noise, count, batch: count,
            new SolverSettings { RelativeTolerance = 1e-3, AbsoluteTolerance = 1e-3 });
        Assert.Equal(0.0, trajectory.Times[^1]);
        Assert.Equal(1e-3, trajectory.Times[^2]);
    }

    [Fact]
    public void TrajectoryStartsAtTheNoiseEndsAtTheSamplesAndHoldsX0Estimates()
    {
        const int count = 3, steps = 4;
        var noise = Noise(count);
        var (samples, trajectory) = SampleGenerator.GenerateWithTrajectory(_net, "dpm2", steps, 1, noise, count, batch: 2);
        Assert.Equal(steps, trajectory.Steps);
        Assert.Equal(steps + 1, trajectory.Z.Length);
        Assert.Equal(noise, trajectory.Z[0]);
        Assert.Equal(samples.X, trajectory.Z[^1]);
        Assert.Equal([1.0, 0.75, 0.5, 0.25, 0.0], trajectory.Times);

        // x0_hat at the first step = z - 1 * v(z, 1).
        using var z = _b.FromArray(noise, count, 2, 8, 8);
        using var t = _b.Allocate([count]);
        _b.Fill(t, 1f);
        var v = _net.Forward(z, t, ForwardMode.Inference, computeHeads: false).V.ToArray();
        Assert.True(RelativeError(trajectory.X0Hat[0], noise.Select((n, i) => n - v[i]).ToArray()) < 1e-6);
        Assert.True(trajectory.Straightness > 0);
    }

    [Fact]
    public void NoiseIsDeterministicStandardNormalAndPrefixStable()
    {
        var a = SampleGenerator.Noise(42, 64, 3, 8, 8);
        var fromThreads = new float[4][];
        Parallel.For(0, 4, i => fromThreads[i] = SampleGenerator.Noise(42, 64, 3, 8, 8));
        foreach (var other in fromThreads) Assert.Equal(a, other);
        Assert.NotEqual(a, SampleGenerator.Noise(43, 64, 3, 8, 8));
        Assert.Equal(a.AsSpan(0, 10 * 3 * 8 * 8).ToArray(), SampleGenerator.Noise(42, 10, 3, 8, 8));
        double mean = a.Average(x => (double)x), variance = a.Average(x => (x - mean) * (x - mean));
        Assert.InRange(mean, -0.05, 0.05);                   // 12288 draws: standard error 0.009
        Assert.InRange(variance, 0.95, 1.05);
    }

    [Fact]
    public void BadArgumentsAreClearErrors()
    {
        var noise = Noise(2);
        Assert.Contains("odd", Assert.Throws<ArgumentException>(() => SampleGenerator.Generate(_net, "heun", 4, 1, noise, 2, 2)).Message);
        Assert.Contains("unknown solver", Assert.Throws<ArgumentException>(() => SampleGenerator.Generate(_net, "rk4", 4, 1, noise, 2, 2)).Message);
        Assert.Contains("noise holds", Assert.Throws<ArgumentException>(() => SampleGenerator.Generate(_net, "euler", 4, 1, noise, 3, 2)).Message);
    }

    private sealed class SyncProgress(Action<int> report) : IProgress<int>
    {
        public void Report(int value) => report(value);
    }
}
