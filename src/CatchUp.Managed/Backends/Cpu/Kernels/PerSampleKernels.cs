using CatchUp.Tensors;

namespace CatchUp.Backends.Cpu.Kernels;

/// <summary>Per-sample scalar arithmetic used by the objectives (interpolants, RK combinations, masks, reparameterization).</summary>
internal static unsafe class PerSampleKernels
{
    private struct ScaleAddJob : IParallelJob
    {
        public float* X, Y, A, B;
        public float Ca, Cb;
        public int SampleSize;

        public void Execute(int n, int worker)
        {
            float alpha = Ca * (A == null ? 1f : A[n]);
            float beta = Cb * (B == null ? 1f : B[n]);
            var x = new ReadOnlySpan<float>(X + (long)n * SampleSize, SampleSize);
            var y = new Span<float>(Y + (long)n * SampleSize, SampleSize);
            if (beta == 0f) System.Numerics.Tensors.TensorPrimitives.Multiply(x, alpha, y);
            else
            {
                if (beta != 1f) System.Numerics.Tensors.TensorPrimitives.Multiply(y, beta, y);
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(x, alpha, y, y);
            }
        }
    }

    private struct SelectJob : IParallelJob
    {
        public float* Mask, T, F, Y;
        public int SampleSize;

        public void Execute(int n, int worker)
        {
            float* source = Mask[n] != 0f ? T : F;
            long o = (long)n * SampleSize;
            if (source + o != Y + o) new ReadOnlySpan<float>(source + o, SampleSize).CopyTo(new Span<float>(Y + o, SampleSize));
        }
    }

    private struct ReparamJob : IParallelJob
    {
        public float* MuLogvar, Noise, X1, DX1, DMuLogvar;
        public int Half;
        public bool Backward;

        public void Execute(int n, int worker)
        {
            float* mu = MuLogvar + (long)n * 2 * Half, logvar = mu + Half;
            float* noise = Noise + (long)n * Half;
            if (!Backward)
            {
                float* x1 = X1 + (long)n * Half;
                for (int i = 0; i < Half; i++) x1[i] = mu[i] + noise[i] * MathF.Exp(0.5f * logvar[i]);
                return;
            }
            float* dx1 = DX1 + (long)n * Half;
            float* dmu = DMuLogvar + (long)n * 2 * Half, dlogvar = dmu + Half;
            for (int i = 0; i < Half; i++)
            {
                dmu[i] = dx1[i];
                dlogvar[i] = dx1[i] * noise[i] * 0.5f * MathF.Exp(0.5f * logvar[i]);
            }
        }
    }

    private static void CheckPerSample(Tensor? s, int n, string name)
    {
        if (s is not null && s.Length != n) throw new ArgumentException($"{name} has {s.Length} entries for a batch of {n}");
    }

    public static void ScaleAdd(WorkerPool pool, Tensor x, Tensor? a, float ca, Tensor y, Tensor? b, float cb)
    {
        if (x.Length != y.Length) throw new ArgumentException($"shape mismatch {x.ShapeString} vs {y.ShapeString}");
        CheckPerSample(a, x.N, "a"); CheckPerSample(b, x.N, "b");
        var job = new ScaleAddJob { X = x.Ptr, Y = y.Ptr, A = a is null ? null : a.Ptr, B = b is null ? null : b.Ptr, Ca = ca, Cb = cb, SampleSize = x.SampleSize };
        pool.For(x.N, ref job);
    }

    public static void Select(WorkerPool pool, Tensor mask, Tensor ifTrue, Tensor ifFalse, Tensor y)
    {
        if (ifTrue.Length != y.Length || ifFalse.Length != y.Length) throw new ArgumentException("select operands differ in shape");
        CheckPerSample(mask, y.N, "mask");
        var job = new SelectJob { Mask = mask.Ptr, T = ifTrue.Ptr, F = ifFalse.Ptr, Y = y.Ptr, SampleSize = y.SampleSize };
        pool.For(y.N, ref job);
    }

    public static void Reparameterize(WorkerPool pool, Tensor muLogvar, Tensor noise, Tensor x1)
    {
        if (muLogvar.C != 2 * x1.C || noise.Length != x1.Length || muLogvar.Length != 2 * x1.Length)
            throw new ArgumentException($"reparameterize: {muLogvar.ShapeString} -> {x1.ShapeString}");
        var job = new ReparamJob { MuLogvar = muLogvar.Ptr, Noise = noise.Ptr, X1 = x1.Ptr, Half = x1.SampleSize };
        pool.For(x1.N, ref job);
    }

    public static void ReparameterizeBackward(WorkerPool pool, Tensor muLogvar, Tensor noise, Tensor dx1, Tensor dMuLogvar)
    {
        if (muLogvar.Length != 2 * dx1.Length || dMuLogvar.Length != muLogvar.Length || noise.Length != dx1.Length)
            throw new ArgumentException($"reparameterize backward: {muLogvar.ShapeString} / {dx1.ShapeString}");
        var job = new ReparamJob { MuLogvar = muLogvar.Ptr, Noise = noise.Ptr, DX1 = dx1.Ptr, DMuLogvar = dMuLogvar.Ptr, Half = dx1.SampleSize, Backward = true };
        pool.For(dx1.N, ref job);
    }
}
