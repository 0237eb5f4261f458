using System.Runtime.Intrinsics;
using CatchUp.Tensors;

namespace CatchUp.Backends.Cpu.Kernels;

/// <summary>Adam/AdamW and EMA updates, vectorized and split into chunks across the pool.</summary>
internal static unsafe class OptimizerKernels
{
    private const int Chunk = 1 << 14;

    private struct AdamJob : IParallelJob
    {
        public float* P, G, M, V;
        public int Length;
        public float Lr, B1, B2, Eps, Wd, Bc1, Bc2;
        public bool Decoupled;

        public void Execute(int index, int worker)
        {
            int start = index * Chunk, end = Math.Min(Length, start + Chunk);
            for (int i = start; i < end; i++)
            {
                float g = G[i];
                if (!Decoupled && Wd != 0f) g += Wd * P[i];
                float m = M[i] = B1 * M[i] + (1f - B1) * g;
                float v = V[i] = B2 * V[i] + (1f - B2) * g * g;
                float update = (m / Bc1) / (MathF.Sqrt(v / Bc2) + Eps);
                if (Decoupled && Wd != 0f) update += Wd * P[i];
                P[i] -= Lr * update;
            }
        }
    }

    private struct EmaJob : IParallelJob
    {
        public float* E, P;
        public int Length;
        public float Decay;

        public void Execute(int index, int worker)
        {
            int start = index * Chunk, n = Math.Min(Length - start, Chunk);
            var e = new Span<float>(E + start, n);
            // e = decay * e + (1 - decay) * p, written as e += (1 - decay) * (p - e) for accuracy near decay = 1.
            float w = 1f - Decay;
            int i = 0;
            if (Vector512.IsHardwareAccelerated || System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
                for (; i + 16 <= n; i += 16)
                {
                    var ev = Vector512.Load(E + start + i);
                    Vector512.Store(ev + (Vector512.Load(P + start + i) - ev) * w, E + start + i);
                }
            for (; i < n; i++) e[i] += w * (P[start + i] - e[i]);
        }
    }

    public static void Adam(WorkerPool pool, Tensor param, Tensor grad, Tensor m, Tensor v, AdamSpec spec)
    {
        if (grad.Length != param.Length || m.Length != param.Length || v.Length != param.Length)
            throw new ArgumentException($"Adam state shapes differ from the parameter {param.ShapeString}");
        if (spec.Step < 1) throw new ArgumentOutOfRangeException(nameof(spec), "Adam step counts from 1");
        var job = new AdamJob
        {
            P = param.Ptr, G = grad.Ptr, M = m.Ptr, V = v.Ptr, Length = param.Length,
            Lr = spec.LearningRate, B1 = spec.Beta1, B2 = spec.Beta2, Eps = spec.Epsilon, Wd = spec.WeightDecay, Decoupled = spec.Decoupled,
            Bc1 = (float)(1 - Math.Pow(spec.Beta1, spec.Step)), Bc2 = (float)(1 - Math.Pow(spec.Beta2, spec.Step)),
        };
        pool.For((param.Length + Chunk - 1) / Chunk, ref job);
    }

    public static void Ema(WorkerPool pool, Tensor ema, Tensor param, float decay)
    {
        if (ema.Length != param.Length) throw new ArgumentException($"EMA shape {ema.ShapeString} differs from {param.ShapeString}");
        var job = new EmaJob { E = ema.Ptr, P = param.Ptr, Length = param.Length, Decay = decay };
        pool.For((param.Length + Chunk - 1) / Chunk, ref job);
    }

    public static double SumSquares(Tensor x)
    {
        double sum = 0;
        var s = x.Span;
        for (int i = 0; i < s.Length; i++) sum += (double)s[i] * s[i];
        return sum;
    }
}
