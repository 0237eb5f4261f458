using ILGPU;

namespace CatchUp.Backends.Ilgpu.Kernels;

/// <summary>
/// Device functions shared by the kernels (the C# twin of native/kernels/cuda_compat.h). Only operations every ILGPU
/// back end lowers (PTX, OpenCL, the CPU accelerator) appear here: no System.Math calls beyond square roots.
/// </summary>
internal static class DeviceMath
{
    /// <summary>e^x as the CPU backend computes it (SimdMath.Exp: Cephes range reduction, degree-6 polynomial), so both
    /// backends agree to about an ulp. Inputs are clamped to [-87.3, 88].</summary>
    public static float Exp(float x)
    {
        x = x < -87.3f ? -87.3f : x > 88f ? 88f : x;
        float t = x * 1.44269504088896341f;
        int k = (int)(t >= 0f ? t + 0.5f : t - 0.5f);
        float n = k;
        float r = x - n * 0.693359375f;
        r += n * 2.12194440e-4f;
        float p = 1.9875691500e-4f;
        p = p * r + 1.3981999507e-3f;
        p = p * r + 8.3334519073e-3f;
        p = p * r + 4.1665795894e-2f;
        p = p * r + 1.6666665459e-1f;
        p = p * r + 5.0000001201e-1f;
        float y = p * (r * r) + (r + 1f);
        return y * Interop.IntAsFloat((uint)((k + 127) << 23));
    }

    public static float Sigmoid(float z) => 1f / (1f + Exp(-z));

    /// <summary>Nn.CounterRng.Hash: SplitMix64's finalizer of seed + golden * (index + 1).</summary>
    public static ulong CounterHash(ulong seed, ulong index)
    {
        ulong z = seed + 0x9E3779B97F4A7C15UL * (index + 1);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Element <paramref name="index"/> survives dropout iff its 24-bit uniform is at least the threshold
    /// (SimdMath.DropThreshold), the same bits as the CPU backend.</summary>
    public static bool DropoutKeep(ulong seed, long index, int threshold) => (long)(CounterHash(seed, (ulong)index) >> 40) >= threshold;

    /// <summary>Sum over the group through shared memory; every thread gets the total. The group size is a power of
    /// two and <paramref name="scratch"/> holds at least one double per thread.</summary>
    public static double GroupSum(double value, ArrayView<double> scratch)
    {
        int i = Group.IdxX;
        scratch[i] = value;
        Group.Barrier();
        for (int s = Group.DimX / 2; s > 0; s >>= 1)
        {
            if (i < s) scratch[i] += scratch[i + s];
            Group.Barrier();
        }
        double total = scratch[0];
        Group.Barrier();
        return total;
    }

    /// <summary>Two sums over the group in one pass (half the barriers of two <see cref="GroupSum"/> calls);
    /// <paramref name="scratch"/> holds at least two doubles per thread.</summary>
    public static (double A, double B) GroupSum2(double a, double b, ArrayView<double> scratch)
    {
        int i = Group.IdxX, n = Group.DimX;
        scratch[i] = a;
        scratch[n + i] = b;
        Group.Barrier();
        for (int s = n / 2; s > 0; s >>= 1)
        {
            if (i < s)
            {
                scratch[i] += scratch[i + s];
                scratch[n + i] += scratch[n + i + s];
            }
            Group.Barrier();
        }
        double totalA = scratch[0], totalB = scratch[n];
        Group.Barrier();
        return (totalA, totalB);
    }

    public static float GroupMax(float value, ArrayView<double> scratch)
    {
        int i = Group.IdxX;
        scratch[i] = value;
        Group.Barrier();
        for (int s = Group.DimX / 2; s > 0; s >>= 1)
        {
            if (i < s && scratch[i + s] > scratch[i]) scratch[i] = scratch[i + s];
            Group.Barrier();
        }
        float m = (float)scratch[0];
        Group.Barrier();
        return m;
    }

    /// <summary>First index and stride of a grid-stride loop over the whole launch.</summary>
    public static long GlobalIndex => (long)Grid.IdxX * Group.DimX + Group.IdxX;
    public static long GridStride => (long)Grid.DimX * Group.DimX;
}
