using System.Runtime.Intrinsics;
using CatchUp.Tensors;

namespace CatchUp.Backends.Cpu.Kernels;

/// <summary>Scalar losses. Sums are accumulated per chunk in double and combined in chunk order, so the result does not
/// depend on the thread count.</summary>
internal static unsafe class LossKernels
{
    private const int MaxChunks = 1024;

    private struct MseJob : IParallelJob
    {
        public float* A, B, Grad;
        public double* Partial;
        public int Length, Chunk;
        public float GradFactor;

        public void Execute(int index, int worker)
        {
            int start = index * Chunk, end = Math.Min(Length, start + Chunk);
            float* a = A, b = B, g = Grad;
            double total = 0;
            var gf = Vector512.Create(GradFactor);
            int i = start;
            // Blocks of 256 elements summed in float lanes, then added in double.
            while (i + 16 <= end)
            {
                int blockEnd = Math.Min(end, i + 256) & ~15;
                if (blockEnd <= i) break;
                Vector512<float> acc = default;
                for (; i + 16 <= blockEnd; i += 16)
                {
                    var d = Vector512.Load(a + i) - Vector512.Load(b + i);
                    acc = Vector512.FusedMultiplyAdd(d, d, acc);
                    if (g != null) (d * gf).Store(g + i);
                }
                total += Vector512.Sum(acc);
            }
            for (; i < end; i++)
            {
                float d = a[i] - b[i];
                total += (double)d * d;
                if (g != null) g[i] = d * GradFactor;
            }
            Partial[index] = total;
        }
    }

    public static float Mse(WorkerPool pool, Tensor a, Tensor b, Tensor? grad, float gradScale)
    {
        if (a.Length != b.Length || (grad != null && grad.Length != a.Length))
            throw new ArgumentException($"mse: {a.ShapeString} vs {b.ShapeString}");
        int len = a.Length;
        if (len == 0) return 0f;
        int chunk = Math.Max(1 << 14, (len + MaxChunks - 1) / MaxChunks);
        chunk = (chunk + 15) & ~15;
        int chunks = (len + chunk - 1) / chunk;
        double* partial = stackalloc double[chunks];
        var job = new MseJob
        {
            A = a.Ptr, B = b.Ptr, Grad = grad != null ? grad.Ptr : null, Partial = partial, Length = len, Chunk = chunk,
            GradFactor = (float)(2.0 * gradScale / len),
        };
        pool.For(chunks, ref job);
        double sum = 0;
        for (int i = 0; i < chunks; i++) sum += partial[i];
        return (float)(sum / len);
    }

    public static float Kl(Tensor muLogvar, Tensor? grad, float gradScale)
    {
        int n = muLogvar.N, sample = muLogvar.SampleSize;
        if (sample % 2 != 0) throw new ArgumentException($"kl: odd channel count in {muLogvar.ShapeString}");
        if (grad != null && grad.Length != muLogvar.Length) throw new ArgumentException("kl: grad shape mismatch");
        int half = sample / 2;
        float* p = muLogvar.Ptr;
        float* g = grad != null ? grad.Ptr : null;
        double norm = (double)n * half;
        float gMu = (float)(gradScale / norm), gLv = (float)(0.5 * gradScale / norm);
        double total = 0;
        for (int s = 0; s < n; s++)
        {
            float* mu = p + (long)s * sample, lv = mu + half;
            double acc = 0;
            for (int i = 0; i < half; i++)
            {
                double e = Math.Exp(lv[i]);
                acc += -1.0 - lv[i] + (double)mu[i] * mu[i] + e;
                if (g != null)
                {
                    g[(long)s * sample + i] = gMu * mu[i];
                    g[(long)s * sample + half + i] = gLv * (float)(e - 1.0);
                }
            }
            total += 0.5 * acc;
        }
        return (float)(total / norm);
    }
}
