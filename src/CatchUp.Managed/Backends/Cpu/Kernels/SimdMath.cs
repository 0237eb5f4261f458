using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CatchUp.Backends.Cpu.Kernels;

/// <summary>
/// Vector helpers shared by the non-convolution kernels: the vectorized counter-RNG dropout mask (bit-exact with
/// <see cref="Nn.CounterRng.Uniform"/>), sigmoid, tail masks and small load/store helpers. Everything is written with
/// Vector512 (one zmm = 16 floats); on CPUs without AVX-512 the runtime emulates it with two Vector256 halves.
/// </summary>
internal static unsafe class SimdMath
{
    public const int Lanes = 16;
    private const ulong Golden = 0x9E3779B97F4A7C15UL;
    private const ulong Mix1 = 0xBF58476D1CE4E5B9UL;
    private const ulong Mix2 = 0x94D049BB133111EBUL;

    private static readonly Vector512<ulong> LaneOffsets = unchecked(Vector512.Create(
        0UL, Golden, 2 * Golden, 3 * Golden, 4 * Golden, 5 * Golden, 6 * Golden, 7 * Golden));

    /// <summary>Integer threshold T with Uniform(seed, i) >= p  &lt;=&gt;  (Hash(seed, i) >> 40) >= T (exact, since
    /// Uniform is a 24-bit integer times 2^-24 and p * 2^24 is exact in double).</summary>
    public static int DropThreshold(float p) => (int)Math.Min(1 << 24, Math.Ceiling((double)p * (1 << 24)));

    /// <summary>All-ones lanes where element index0 + lane (lane 0..15) is kept by dropout with the given threshold.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> KeepMask(ulong seed, long index0, Vector512<int> threshold)
    {
        // z_lane = seed + Golden * (index0 + lane + 1), the SplitMix64 input of CounterRng.Hash.
        ulong z0 = seed + Golden * ((ulong)index0 + 1);
        var lo = Vector512.Create(z0) + LaneOffsets;
        var hi = lo + Vector512.Create(unchecked(8 * Golden));
        lo = Mix(lo);
        hi = Mix(hi);
        var u = Vector512.Narrow(lo >>> 40, hi >>> 40).AsInt32();
        return Vector512.GreaterThanOrEqual(u, threshold).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<ulong> Mix(Vector512<ulong> z)
    {
        z = (z ^ (z >>> 30)) * Vector512.Create(Mix1);
        z = (z ^ (z >>> 27)) * Vector512.Create(Mix2);
        return z ^ (z >>> 31);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sigmoid(Vector512<float> z)
        => Vector512<float>.One / (Vector512<float>.One + Vector512.Exp(-z));

    /// <summary>All-ones in lanes [0, count).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> TailMask(int count)
        => Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).AsSingle();

    /// <summary>Loads count (&lt; 16) floats, zero-filling the remaining lanes, without reading past src + count.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadPartial(float* src, int count)
    {
        float* tmp = stackalloc float[Lanes];
        Vector512<float>.Zero.Store(tmp);
        for (int i = 0; i < count; i++) tmp[i] = src[i];
        return Vector512.Load(tmp);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StorePartial(Vector512<float> v, float* dst, int count)
    {
        float* tmp = stackalloc float[Lanes];
        v.Store(tmp);
        for (int i = 0; i < count; i++) dst[i] = tmp[i];
    }

    public static int RoundUp(int n, int m) => (n + m - 1) / m * m;
}
