using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using CatchUp.Tensors;

namespace CatchUp.Backends.Cpu.Kernels;

/// <summary>
/// 2x resampling with the [1,1] filter. Two kernels cover the four ops: <c>Reduce</c> (y = scale * sum of each 2x2 block:
/// AvgPool2x with 0.25, Upsample2xBackward with 1) and <c>Expand</c> (each input feeds a 2x2 block times scale:
/// Upsample2x with 1, AvgPool2xBackward with 0.25). Parallel over chunks of (n, c) planes.
/// </summary>
internal static unsafe class ResampleKernels
{
    private const int TargetChunk = 1 << 15;

    private struct Job : IParallelJob
    {
        public float* Src, Dst;
        public int SmallH, SmallW, PlanesPerItem, Planes;
        public float Scale;
        public bool Expand;

        public void Execute(int index, int worker)
        {
            int p0 = index * PlanesPerItem, p1 = Math.Min(Planes, p0 + PlanesPerItem);
            int h = SmallH, w = SmallW;
            long small = (long)h * w, big = 4 * small;
            for (int p = p0; p < p1; p++)
            {
                if (Expand) ExpandPlane(Src + p * small, Dst + p * big, h, w, Scale);
                else ReducePlane(Src + p * big, Dst + p * small, h, w, Scale);
            }
        }
    }

    /// <summary>dst [h, w] = scale * 2x2 block sums of src [2h, 2w].</summary>
    private static void ReducePlane(float* src, float* dst, int h, int w, float scale)
    {
        int w2 = 2 * w;
        for (int i = 0; i < h; i++)
        {
            float* r0 = src + (long)(2 * i) * w2, r1 = r0 + w2, o = dst + (long)i * w;
            int j = 0;
            if (Avx512F.IsSupported)
            {
                var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
                var odd = even + Vector512<int>.One;
                var vs = Vector512.Create(scale);
                for (; j + 16 <= w; j += 16)
                {
                    var a = Vector512.Load(r0 + 2 * j) + Vector512.Load(r1 + 2 * j);
                    var b = Vector512.Load(r0 + 2 * j + 16) + Vector512.Load(r1 + 2 * j + 16);
                    var s = Avx512F.PermuteVar16x32x2(a, even, b) + Avx512F.PermuteVar16x32x2(a, odd, b);
                    (s * vs).Store(o + j);
                }
            }
            for (; j < w; j++) o[j] = scale * ((r0[2 * j] + r0[2 * j + 1]) + (r1[2 * j] + r1[2 * j + 1]));
        }
    }

    /// <summary>dst [2h, 2w] = scale * src [h, w] repeated over 2x2 blocks.</summary>
    private static void ExpandPlane(float* src, float* dst, int h, int w, float scale)
    {
        int w2 = 2 * w;
        for (int i = 0; i < h; i++)
        {
            float* s = src + (long)i * w, o0 = dst + (long)(2 * i) * w2, o1 = o0 + w2;
            int j = 0;
            if (Avx512F.IsSupported)
            {
                var lo = Vector512.Create(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
                var hi = lo + Vector512.Create(8);
                var vs = Vector512.Create(scale);
                for (; j + 16 <= w; j += 16)
                {
                    var v = Vector512.Load(s + j) * vs;
                    var a = Avx512F.PermuteVar16x32(v, lo);
                    var b = Avx512F.PermuteVar16x32(v, hi);
                    a.Store(o0 + 2 * j); b.Store(o0 + 2 * j + 16);
                    a.Store(o1 + 2 * j); b.Store(o1 + 2 * j + 16);
                }
            }
            for (; j < w; j++)
            {
                float v = scale * s[j];
                o0[2 * j] = v; o0[2 * j + 1] = v; o1[2 * j] = v; o1[2 * j + 1] = v;
            }
        }
    }

    private static void Run(WorkerPool pool, Tensor big, Tensor small, bool expand, float scale)
    {
        if (big.Rank != 4 || small.Rank != 4 || big.N != small.N || big.C != small.C || big.H != 2 * small.H || big.W != 2 * small.W)
            throw new ArgumentException($"2x resample: shapes {big.ShapeString} and {small.ShapeString} do not match");
        int planes = small.N * small.C;
        long planeSize = 4L * small.H * small.W;
        int per = (int)Math.Max(1, TargetChunk / Math.Max(1, planeSize));
        var job = new Job
        {
            Src = expand ? small.Ptr : big.Ptr, Dst = expand ? big.Ptr : small.Ptr, SmallH = small.H, SmallW = small.W,
            PlanesPerItem = per, Planes = planes, Scale = scale, Expand = expand,
        };
        pool.For((planes + per - 1) / per, ref job);
    }

    public static void AvgPool2x(WorkerPool pool, Tensor x, Tensor y) => Run(pool, x, y, expand: false, 0.25f);
    public static void AvgPool2xBackward(WorkerPool pool, Tensor dy, Tensor dx) => Run(pool, dx, dy, expand: true, 0.25f);
    public static void Upsample2x(WorkerPool pool, Tensor x, Tensor y) => Run(pool, y, x, expand: true, 1f);
    public static void Upsample2xBackward(WorkerPool pool, Tensor dy, Tensor dx) => Run(pool, dy, dx, expand: false, 1f);
}
