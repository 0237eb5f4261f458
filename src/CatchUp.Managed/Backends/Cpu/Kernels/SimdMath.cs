using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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
    private const ulong G1 = Golden, G2 = unchecked(2 * Golden), G3 = unchecked(3 * Golden), G4 = unchecked(4 * Golden),
        G5 = unchecked(5 * Golden), G6 = unchecked(6 * Golden), G7 = unchecked(7 * Golden), G8 = unchecked(8 * Golden);

    /// <summary>Integer threshold T with Uniform(seed, i) >= p  &lt;=&gt;  (Hash(seed, i) >> 40) >= T (exact, since
    /// Uniform is a 24-bit integer times 2^-24 and p * 2^24 is exact in double).</summary>
    public static int DropThreshold(float p) => (int)Math.Min(1 << 24, Math.Ceiling((double)p * (1 << 24)));

    /// <summary>All-ones lanes where element index0 + lane (lane 0..15) is kept by dropout with the given threshold.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> KeepMask(ulong seed, long index0, Vector512<int> threshold)
    {
        // z_lane = seed + Golden * (index0 + lane + 1), the SplitMix64 input of CounterRng.Hash.
        ulong z0 = seed + Golden * ((ulong)index0 + 1);
        var lo = Vector512.Create(z0) + Vector512.Create(0UL, G1, G2, G3, G4, G5, G6, G7);
        var hi = lo + Vector512.Create(G8);
        lo = Mix(lo);
        hi = Mix(hi);
        // Hash = z ^ (z >> 31); its bits 40..63 are those of z (z >> 31 has nothing above bit 32), so Hash >> 40 == z >> 40.
        var u = Vector512.Narrow(lo >>> 40, hi >>> 40).AsInt32();
        return Vector512.GreaterThanOrEqual(u, threshold).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<ulong> Mix(Vector512<ulong> z)
    {
        z = (z ^ (z >>> 30)) * Vector512.Create(Mix1);
        return (z ^ (z >>> 27)) * Vector512.Create(Mix2);
    }

    /// <summary>
    /// e^x, Cephes-style (range reduction by ln 2 in two parts, degree-6 polynomial, exponent-bit scaling); about 1 ulp.
    /// Inlined, unlike Vector512.Exp which is a call into two Vector256 halves where Vector512 is not "preferred".
    /// Inputs are clamped to [-87.3, 88]: below that the result is the smallest normal, not 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        x = Vector512.Min(Vector512.Max(x, Vector512.Create(-87.3f)), Vector512.Create(88f));
        var n = Vector512.Round(x * Vector512.Create(1.44269504088896341f));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-0.693359375f), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(2.12194440e-4f), r);
        var p = Vector512.Create(1.9875691500e-4f);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.3981999507e-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(8.3334519073e-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(4.1665795894e-2f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.6666665459e-1f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(5.0000001201e-1f));
        var y = Vector512.FusedMultiplyAdd(p, r * r, r + Vector512<float>.One);
        var scale = ((Vector512.ConvertToInt32(n) + Vector512.Create(127)) << 23).AsSingle();
        return y * scale;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sigmoid(Vector512<float> z) => Reciprocal(Vector512<float>.One + Exp(-z));

    /// <summary>1/d for finite positive d: rcp14 plus one Newton step (~1 ulp) where AVX-512 has it, since vdivps zmm
    /// costs ~10 cycles per vector; a division otherwise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Reciprocal(Vector512<float> d)
    {
        if (!Avx512F.IsSupported) return Vector512<float>.One / d;
        var r = Avx512F.Reciprocal14(d);
        var e = Vector512.FusedMultiplyAdd(-d, r, Vector512<float>.One);
        return Vector512.FusedMultiplyAdd(r, e, r);
    }

    /// <summary>All-ones in lanes [0, count).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> TailMask(int count)
        => Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).AsSingle();

    /// <summary>Loads count (&lt; 16) floats, zero-filling the other lanes, without touching memory past src + count.
    /// <paramref name="tmp"/> is a 16-float buffer used where AVX-512 masked loads are unavailable.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadPartial(float* src, int count, float* tmp)
    {
        if (Avx512F.IsSupported) return Avx512F.MaskLoad(src, TailMask(count), Vector512<float>.Zero);
        Vector512<float>.Zero.Store(tmp);
        for (int i = 0; i < count; i++) tmp[i] = src[i];
        return Vector512.Load(tmp);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StorePartial(Vector512<float> v, float* dst, int count, float* tmp)
    {
        if (Avx512F.IsSupported) { Avx512F.MaskStore(dst, TailMask(count), v); return; }
        v.Store(tmp);
        for (int i = 0; i < count; i++) dst[i] = tmp[i];
    }

    public static int RoundUp(int n, int m) => (n + m - 1) / m * m;
}
