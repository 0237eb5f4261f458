using ILGPU;
using static CatchUp.Backends.Ilgpu.Kernels.DeviceMath;

namespace CatchUp.Backends.Ilgpu.Kernels;

/// <summary>The scalars of one catch-up point (IBackend.CatchUpPoint); HasK2/HasK3/ClampTime are 0 or 1.</summary>
internal readonly record struct CatchUpArgs(int Samples, int SampleSize, float C1, float C2, float C3, float TimeShift,
    int HasK2, int HasK3, int ClampTime, float Epsilon);

/// <summary>The Runge-Kutta catch-up integration of SPEC section 3 in one pass (native/kernels/catchup.cu):
/// y = z - dt[n] (c1 k1 + c2 k2 + c3 k3) and time[n] = t[n] - timeShift dt[n], clamped to [eps, 1] when asked.</summary>
internal static class CatchUpKernels
{
    public static void Point(ArrayView<float> z, ArrayView<float> k1, ArrayView<float> k2, ArrayView<float> k3, ArrayView<float> t,
        ArrayView<float> dt, ArrayView<float> y, ArrayView<float> time, CatchUpArgs args)
    {
        long total = (long)args.Samples * args.SampleSize;
        long first = GlobalIndex;
        if (first < args.Samples)
        {
            float s = t[first] - args.TimeShift * dt[first];
            if (args.ClampTime != 0) s = s < args.Epsilon ? args.Epsilon : s > 1f ? 1f : s;
            time[first] = s;
        }
        for (long i = first; i < total; i += GridStride)
        {
            float direction = args.C1 * k1[i];
            if (args.HasK2 != 0) direction = args.C2 * k2[i] + direction;
            if (args.HasK3 != 0) direction = args.C3 * k3[i] + direction;
            y[i] = z[i] - dt[(int)i / args.SampleSize] * direction;
        }
    }
}
