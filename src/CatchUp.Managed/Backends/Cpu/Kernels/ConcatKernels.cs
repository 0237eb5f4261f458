using System.Numerics.Tensors;
using CatchUp.Tensors;
using Tensor = CatchUp.Tensors.Tensor;

namespace CatchUp.Backends.Cpu.Kernels;

/// <summary>Dynamic-skip concat along channels with per-sample scales; parallel over (sample, half).</summary>
internal static unsafe class ConcatKernels
{
    private struct Job : IParallelJob
    {
        public float* A, B, Y, ScaleA, ScaleB;
        public int SizeA, SizeB;
        public bool Backward;

        public void Execute(int index, int worker)
        {
            int n = index >> 1;
            bool second = (index & 1) != 0;
            int size = second ? SizeB : SizeA;
            float* s = second ? ScaleB : ScaleA;
            float scale = s != null ? s[n] : 1f;
            float* part = (second ? B : A) + (long)n * size;
            float* whole = Y + (long)n * (SizeA + SizeB) + (second ? SizeA : 0);
            var src = new ReadOnlySpan<float>(Backward ? whole : part, size);
            var dst = new Span<float>(Backward ? part : whole, size);
            if (scale == 1f) src.CopyTo(dst);
            else TensorPrimitives.Multiply(src, scale, dst);
        }
    }

    private static void Run(WorkerPool pool, Tensor a, Tensor b, Tensor? scaleA, Tensor? scaleB, Tensor y, bool backward)
    {
        int n = y.N;
        if (a.N != n || b.N != n || a.SampleSize + b.SampleSize != y.SampleSize)
            throw new ArgumentException($"concat: {a.ShapeString} + {b.ShapeString} != {y.ShapeString}");
        if ((scaleA != null && scaleA.Length != n) || (scaleB != null && scaleB.Length != n))
            throw new ArgumentException("concat: scales must have N elements");
        var job = new Job
        {
            A = a.Ptr, B = b.Ptr, Y = y.Ptr, ScaleA = scaleA != null ? scaleA.Ptr : null, ScaleB = scaleB != null ? scaleB.Ptr : null,
            SizeA = a.SampleSize, SizeB = b.SampleSize, Backward = backward,
        };
        pool.For(2 * n, ref job);
    }

    public static void Forward(WorkerPool pool, Tensor a, Tensor b, Tensor? scaleA, Tensor? scaleB, Tensor y)
        => Run(pool, a, b, scaleA, scaleB, y, backward: false);

    public static void Backward(WorkerPool pool, Tensor dy, Tensor? scaleA, Tensor? scaleB, Tensor da, Tensor db)
        => Run(pool, da, db, scaleA, scaleB, dy, backward: true);
}
