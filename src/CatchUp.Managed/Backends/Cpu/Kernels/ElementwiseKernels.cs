using System.Numerics.Tensors;
using CatchUp.Tensors;
using Tensor = CatchUp.Tensors.Tensor;

namespace CatchUp.Backends.Cpu.Kernels;

/// <summary>Memory-bound element-wise ops: TensorPrimitives over chunks spread across the worker pool.</summary>
internal static unsafe class ElementwiseKernels
{
    private const int Chunk = 1 << 15;

    private enum Op { Fill, Copy, Axpby, AddScale, Silu, SiluBackward }

    private struct Job : IParallelJob
    {
        public Op Op;
        public float* A, B, Y;
        public float S0, S1;
        public int Length;

        public void Execute(int index, int worker)
        {
            int start = index * Chunk;
            int n = Math.Min(Chunk, Length - start);
            var y = new Span<float>(Y + start, n);
            switch (Op)
            {
                case Op.Fill: y.Fill(S0); break;
                case Op.Copy: new ReadOnlySpan<float>(A + start, n).CopyTo(y); break;
                case Op.Axpby:
                    if (S1 == 0f) TensorPrimitives.Multiply(new ReadOnlySpan<float>(A + start, n), S0, y);
                    else if (S1 == 1f) TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(A + start, n), S0, y, y);
                    else
                    {
                        TensorPrimitives.Multiply(y, S1, y);
                        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(A + start, n), S0, y, y);
                    }
                    break;
                case Op.AddScale:
                    TensorPrimitives.Add(new ReadOnlySpan<float>(A + start, n), new ReadOnlySpan<float>(B + start, n), y);
                    TensorPrimitives.Multiply(y, S0, y);
                    break;
                case Op.Silu:
                    {
                        var x = new ReadOnlySpan<float>(A + start, n);
                        TensorPrimitives.Sigmoid(x, y);
                        TensorPrimitives.Multiply(x, y, y);
                        break;
                    }
                case Op.SiluBackward:
                    for (int i = 0; i < n; i++)
                    {
                        float x = A[start + i];
                        float s = 1f / (1f + MathF.Exp(-x));
                        y[i] = B[start + i] * s * (1f + x * (1f - s));
                    }
                    break;
            }
        }
    }

    private static void Run(WorkerPool pool, ref Job job)
    {
        int chunks = (job.Length + Chunk - 1) / Chunk;
        pool.For(chunks, ref job);
    }

    private static void SameLength(Tensor a, Tensor b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"length mismatch: {a.ShapeString} vs {b.ShapeString}");
    }

    public static void Fill(WorkerPool pool, Tensor y, float value)
    {
        var job = new Job { Op = Op.Fill, Y = y.Ptr, S0 = value, Length = y.Length };
        Run(pool, ref job);
    }

    public static void Copy(WorkerPool pool, Tensor x, Tensor y)
    {
        SameLength(x, y);
        var job = new Job { Op = Op.Copy, A = x.Ptr, Y = y.Ptr, Length = y.Length };
        Run(pool, ref job);
    }

    public static void Axpby(WorkerPool pool, float a, Tensor x, float b, Tensor y)
    {
        SameLength(x, y);
        var job = new Job { Op = Op.Axpby, A = x.Ptr, Y = y.Ptr, S0 = a, S1 = b, Length = y.Length };
        Run(pool, ref job);
    }

    public static void AddScale(WorkerPool pool, Tensor a, Tensor b, float scale, Tensor y)
    {
        SameLength(a, y); SameLength(b, y);
        var job = new Job { Op = Op.AddScale, A = a.Ptr, B = b.Ptr, Y = y.Ptr, S0 = scale, Length = y.Length };
        Run(pool, ref job);
    }

    public static void Silu(WorkerPool pool, Tensor x, Tensor y)
    {
        SameLength(x, y);
        var job = new Job { Op = Op.Silu, A = x.Ptr, Y = y.Ptr, Length = y.Length };
        Run(pool, ref job);
    }

    public static void SiluBackward(WorkerPool pool, Tensor x, Tensor dy, Tensor dx)
    {
        SameLength(x, dy); SameLength(x, dx);
        var job = new Job { Op = Op.SiluBackward, A = x.Ptr, B = dy.Ptr, Y = dx.Ptr, Length = x.Length };
        Run(pool, ref job);
    }
}
