using CatchUp.Backends;
using CatchUp.IO;
using CatchUp.Models;
using CatchUp.Nn;
using CatchUp.Tensors;
using Xunit;

namespace CatchUp.Tests.Models;

internal static class NetworkTestKit
{
    public static string Golden(string file) => Path.Combine(AppContext.BaseDirectory, "golden", file);

    /// <summary>Overwrites every parameter with N(0, 0.2^2) noise (GroupNorm weights around 1) so every path of the
    /// network carries signal; zero-initialized layers would otherwise hide most gradient paths.</summary>
    public static void Randomize(ParameterSet ps, ulong seed)
    {
        var rng = new Random((int)seed);
        foreach (var p in ps.All)
        {
            var a = new float[p.Value.Length];
            bool isNormWeight = p.Name.EndsWith(".weight") && p.Shape.Length == 1;
            for (int i = 0; i < a.Length; i++)
            {
                double n = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
                a[i] = (float)((isNormWeight ? 1 : 0) + 0.2 * n);
            }
            ps.Backend.Upload(a, p.Value);
        }
    }

    public static float[] Normal(int count, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        var a = new float[count];
        for (int i = 0; i < a.Length; i++)
            a[i] = scale * (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
        return a;
    }

    /// <summary>max |actual - expected| / max |expected|: the error relative to the tensor's scale.</summary>
    public static double RelativeError(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs((double)actual[i] - expected[i]));
            maxRef = Math.Max(maxRef, Math.Abs((double)expected[i]));
        }
        return maxRef == 0 ? maxDiff : maxDiff / maxRef;
    }

    public static void AssertClose(string what, ReadOnlySpan<float> actual, HostTensor expected, double tolerance)
    {
        double err = RelativeError(actual, expected.Data);
        Assert.True(err <= tolerance, $"{what}: relative error {err:E2} > {tolerance:E0}");
    }

    /// <summary>Runs 20 warm-up steps, then 10 more that must allocate no managed memory and no new backend memory.</summary>
    public static void AssertSteadyStateAllocatesNothing(Backends.Cpu.CpuBackend backend, Action<ulong> step)
    {
        for (ulong i = 0; i < 20; i++) step(i); // warm-up: buffers sized, views made, methods jitted
        long poolBytes = backend.BytesAllocated;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (ulong i = 0; i < 10; i++) step(100 + i);
        long managed = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(poolBytes, backend.BytesAllocated);
        Assert.True(managed == 0, $"a steady-state step allocated {managed / 10} managed bytes");
    }
}
