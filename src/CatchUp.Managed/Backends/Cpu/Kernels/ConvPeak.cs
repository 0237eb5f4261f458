using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CatchUp.Backends.Cpu.Kernels;

/// <summary>Measures the attainable fp32 FMA throughput (GFLOP/s) with a tight register-only AVX-512 (or AVX2) loop on
/// <c>threads</c> threads: the yardstick the conv benchmarks report their efficiency against.</summary>
internal static class ConvPeak
{
    public static double MeasureGflops(int threads, long iterations = 20_000_000)
    {
        bool v512 = Conv2dKernels.Simd == ConvSimd.V512;
        double best = 0;
        for (int rep = 0; rep < 3; rep++)
        {
            var ts = new Thread[threads];
            for (int i = 0; i < threads; i++) ts[i] = new Thread(() => { if (v512) Loop512(iterations); else Loop256(iterations); });
            long s = Stopwatch.GetTimestamp();
            foreach (var t in ts) t.Start();
            foreach (var t in ts) t.Join();
            double sec = Stopwatch.GetElapsedTime(s).TotalSeconds;
            best = Math.Max(best, threads * iterations * 24.0 * 2 * (v512 ? 16 : 8) / sec / 1e9);
        }
        return best;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Loop512(long iters)
    {
        var m = Vector512.Create(0.999f); var ad = Vector512.Create(1e-3f);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        Vector512<float> a8 = default, a9 = default, a10 = default, a11 = default, a12 = default, a13 = default, a14 = default, a15 = default;
        Vector512<float> a16 = default, a17 = default, a18 = default, a19 = default, a20 = default, a21 = default, a22 = default, a23 = default;
        for (long i = 0; i < iters; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, m, ad); a1 = Vector512.FusedMultiplyAdd(a1, m, ad);
            a2 = Vector512.FusedMultiplyAdd(a2, m, ad); a3 = Vector512.FusedMultiplyAdd(a3, m, ad);
            a4 = Vector512.FusedMultiplyAdd(a4, m, ad); a5 = Vector512.FusedMultiplyAdd(a5, m, ad);
            a6 = Vector512.FusedMultiplyAdd(a6, m, ad); a7 = Vector512.FusedMultiplyAdd(a7, m, ad);
            a8 = Vector512.FusedMultiplyAdd(a8, m, ad); a9 = Vector512.FusedMultiplyAdd(a9, m, ad);
            a10 = Vector512.FusedMultiplyAdd(a10, m, ad); a11 = Vector512.FusedMultiplyAdd(a11, m, ad);
            a12 = Vector512.FusedMultiplyAdd(a12, m, ad); a13 = Vector512.FusedMultiplyAdd(a13, m, ad);
            a14 = Vector512.FusedMultiplyAdd(a14, m, ad); a15 = Vector512.FusedMultiplyAdd(a15, m, ad);
            a16 = Vector512.FusedMultiplyAdd(a16, m, ad); a17 = Vector512.FusedMultiplyAdd(a17, m, ad);
            a18 = Vector512.FusedMultiplyAdd(a18, m, ad); a19 = Vector512.FusedMultiplyAdd(a19, m, ad);
            a20 = Vector512.FusedMultiplyAdd(a20, m, ad); a21 = Vector512.FusedMultiplyAdd(a21, m, ad);
            a22 = Vector512.FusedMultiplyAdd(a22, m, ad); a23 = Vector512.FusedMultiplyAdd(a23, m, ad);
        }
        var s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11 + a12 + a13 + a14 + a15 + a16 + a17 + a18 + a19 + a20 + a21 + a22 + a23;
        return s.ToScalar();
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Loop256(long iters)
    {
        var m = Vector256.Create(0.999f); var ad = Vector256.Create(1e-3f);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        Vector256<float> a8 = default, a9 = default, a10 = default, a11 = default;
        for (long i = 0; i < iters; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, m, ad); a1 = Vector256.FusedMultiplyAdd(a1, m, ad);
            a2 = Vector256.FusedMultiplyAdd(a2, m, ad); a3 = Vector256.FusedMultiplyAdd(a3, m, ad);
            a4 = Vector256.FusedMultiplyAdd(a4, m, ad); a5 = Vector256.FusedMultiplyAdd(a5, m, ad);
            a6 = Vector256.FusedMultiplyAdd(a6, m, ad); a7 = Vector256.FusedMultiplyAdd(a7, m, ad);
            a8 = Vector256.FusedMultiplyAdd(a8, m, ad); a9 = Vector256.FusedMultiplyAdd(a9, m, ad);
            a10 = Vector256.FusedMultiplyAdd(a10, m, ad); a11 = Vector256.FusedMultiplyAdd(a11, m, ad);
            a0 = Vector256.FusedMultiplyAdd(a0, m, ad); a1 = Vector256.FusedMultiplyAdd(a1, m, ad);
            a2 = Vector256.FusedMultiplyAdd(a2, m, ad); a3 = Vector256.FusedMultiplyAdd(a3, m, ad);
            a4 = Vector256.FusedMultiplyAdd(a4, m, ad); a5 = Vector256.FusedMultiplyAdd(a5, m, ad);
            a6 = Vector256.FusedMultiplyAdd(a6, m, ad); a7 = Vector256.FusedMultiplyAdd(a7, m, ad);
            a8 = Vector256.FusedMultiplyAdd(a8, m, ad); a9 = Vector256.FusedMultiplyAdd(a9, m, ad);
            a10 = Vector256.FusedMultiplyAdd(a10, m, ad); a11 = Vector256.FusedMultiplyAdd(a11, m, ad);
        }
        var s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
        return s.ToScalar();
    }
}
