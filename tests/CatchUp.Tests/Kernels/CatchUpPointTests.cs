using CatchUp.Backends;
using CatchUp.Backends.Cpu;
using CatchUp.Tensors;
using Xunit;

namespace CatchUp.Tests.Kernels;

/// <summary>The fused catch-up point (<see cref="IBackend.CatchUpPoint"/>) against the RK formulas of SPEC 3, computed in double.</summary>
public sealed class CatchUpPointTests : IDisposable
{
    private readonly CpuBackend _be = new(2);

    public void Dispose() => _be.Dispose();

    private static float[] Random(int n, ulong seed) => Enumerable.Range(0, n).Select(i => 2f * Nn.CounterRng.Uniform(seed, (ulong)i) - 1f).ToArray();

    [Theory]
    [InlineData(1f, 0f, 0f, 1f, true)]          // RK12 T1; RK34 k2
    [InlineData(1f, 0f, 0f, 1f, false)]         // RK23 k2 (time t - dt, not clamped)
    [InlineData(0.5f, 0.5f, 0f, 1f, true)]      // RK23 T1
    [InlineData(1.75f, 0.25f, 0f, 2f, true)]    // RK34 k3
    [InlineData(5f / 4f, 2f, -1f / 4f, 3f, true)] // RK34 T3 = z - 3 h P
    public void MatchesTheRungeKuttaCombination(float c1, float c2, float c3, float shift, bool clamp)
    {
        const int n = 5, size = 2 * 3 * 7;
        const float eps = 1e-5f;
        var z = Random(n * size, 1); var k1 = Random(n * size, 2); var k2 = Random(n * size, 3); var k3 = Random(n * size, 4);
        var t = new[] { 1f, 0.5f, 0.02f, 1e-5f, 0.3f };
        var dt = new[] { 0.01f, 0.06f, 0.03f, 0.05f, 0f };
        using var tz = _be.FromArray(z, n, 2, 3, 7);
        using var t1 = _be.FromArray(k1, n, 2, 3, 7);
        using var t2 = _be.FromArray(k2, n, 2, 3, 7);
        using var t3 = _be.FromArray(k3, n, 2, 3, 7);
        using var tt = _be.FromArray(t, n);
        using var tdt = _be.FromArray(dt, n);
        using var y = _be.Allocate([n, 2, 3, 7]);
        using var time = _be.Allocate([n]);
        _be.CatchUpPoint(tz, t1, c2 != 0 ? t2 : null, c3 != 0 ? t3 : null, tt, tdt, new CatchUpStep(c1, c2, c3, shift, clamp, eps), y, time);
        var got = y.ToArray();
        for (int i = 0; i < n * size; i++)
        {
            double expected = z[i] - (double)dt[i / size] * (c1 * (double)k1[i] + c2 * (double)k2[i] + c3 * (double)k3[i]);
            Assert.True(Math.Abs(got[i] - expected) <= 1e-6 * (1 + Math.Abs(expected)), $"y[{i}] = {got[i]}, expected {expected}");
        }
        var times = time.ToArray();
        for (int s = 0; s < n; s++)
        {
            float raw = t[s] - shift * dt[s];
            Assert.Equal(clamp ? Math.Clamp(raw, eps, 1f) : raw, times[s]);
        }
        Assert.True(clamp ? times[3] == eps : times[3] < eps);  // the sample at t = eps leaves [eps, 1] unless clamped
    }

    [Fact]
    public void RejectsAnOutputThatAliasesAnInput()
    {
        using var z = _be.Allocate([2, 4]);
        using var k = _be.Allocate([2, 4]);
        using var t = _be.Allocate([2]);
        using var time = _be.Allocate([2]);
        var step = new CatchUpStep(1, 0, 0, 1, true, 1e-5f);
        Assert.Throws<ArgumentException>(() => _be.CatchUpPoint(z, k, null, null, t, t, step, z, time));
        Assert.Throws<ArgumentException>(() => _be.CatchUpPoint(z, k, null, null, t, t, step, k, time));
    }
}
