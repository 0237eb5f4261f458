using CatchUp.Tensors;

namespace CatchUp.Backends.Cpu.Kernels;

/// <summary>The Runge-Kutta catch-up point of <see cref="IBackend.CatchUpPoint"/>: one pass over z and the k's per
/// sample, with the same operation order as the CUDA kernel (direction by FMAs, then z - dt * direction).</summary>
internal static unsafe class CatchUpKernels
{
    private struct Job : IParallelJob
    {
        public float* Z, K1, K2, K3, Dt, Y;
        public float C1, C2, C3;
        public int SampleSize;

        public void Execute(int n, int worker)
        {
            long o = (long)n * SampleSize;
            float h = Dt[n];
            float* z = Z + o, k1 = K1 + o, k2 = K2 == null ? null : K2 + o, k3 = K3 == null ? null : K3 + o, y = Y + o;
            for (int i = 0; i < SampleSize; i++)
            {
                float direction = C1 * k1[i];
                if (k2 != null) direction = MathF.FusedMultiplyAdd(C2, k2[i], direction);
                if (k3 != null) direction = MathF.FusedMultiplyAdd(C3, k3[i], direction);
                y[i] = z[i] - h * direction;
            }
        }
    }

    public static void Point(WorkerPool pool, Tensor z, Tensor k1, Tensor? k2, Tensor? k3, Tensor t, Tensor dt, CatchUpStep step, Tensor y, Tensor time)
    {
        int n = z.N;
        if (k1.Length != z.Length || y.Length != z.Length || (k2 != null && k2.Length != z.Length) || (k3 != null && k3.Length != z.Length))
            throw new ArgumentException($"catch-up point: z {z.ShapeString}, k1 {k1.ShapeString}, y {y.ShapeString} differ");
        if (t.Length != n || dt.Length != n || time.Length != n)
            throw new ArgumentException($"catch-up point: t, dt and time must have {n} entries");
        if (y.Handle == z.Handle || y.Handle == k1.Handle || y.Handle == k2?.Handle || y.Handle == k3?.Handle)
            throw new ArgumentException("catch-up point: y must not alias z or the k's");
        float* tp = t.Ptr, dp = dt.Ptr, time0 = time.Ptr;
        for (int i = 0; i < n; i++)
        {
            float s = tp[i] - step.TimeShift * dp[i];
            time0[i] = step.ClampTime ? Math.Clamp(s, step.Epsilon, 1f) : s;
        }
        var job = new Job
        {
            Z = z.Ptr, K1 = k1.Ptr, K2 = k2 is null ? null : k2.Ptr, K3 = k3 is null ? null : k3.Ptr, Dt = dp, Y = y.Ptr,
            C1 = step.C1, C2 = step.C2, C3 = step.C3, SampleSize = z.SampleSize,
        };
        pool.For(n, ref job);
    }
}
