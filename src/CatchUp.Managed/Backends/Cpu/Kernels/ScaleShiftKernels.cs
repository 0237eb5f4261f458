using System.Runtime.Intrinsics;
using CatchUp.Tensors;
using static CatchUp.Backends.Cpu.Kernels.SimdMath;

namespace CatchUp.Backends.Cpu.Kernels;

/// <summary>
/// The ADM ResBlock's scale-shift modulation (see <see cref="IBackend.ScaleShiftForward"/>):
/// y = dropout(act(x * (1 + ss[n,c]) + ss[n,C+c])). One parallel item per (sample, channel) row of H*W elements.
/// The backward recomputes the pre-activation, regenerates the dropout mask (bit-exact counter RNG, as in
/// <see cref="GroupNormKernels"/>) and reduces d(scale) = sum(g * x) and d(shift) = sum(g) per row.
/// </summary>
internal static unsafe class ScaleShiftKernels
{
    private struct Job : IParallelJob
    {
        public float* X, Ss, Y, Dy, Dx, Dss;
        public int C, HW;
        public float Scale;
        public bool Silu, Drop, Backward;
        public ulong Seed;
        public int Threshold;

        public void Execute(int index, int worker)
        {
            int n = index / C, c = index % C, hw = HW;
            int tail = hw % Lanes, body = hw - tail;
            float* tmp = stackalloc float[Lanes];
            long off = (long)index * hw;
            float a = 1f + Ss[(long)n * 2 * C + c], b = Ss[(long)n * 2 * C + C + c];
            var va = Vector512.Create(a);
            var vb = Vector512.Create(b);
            var thr = Vector512.Create(Threshold);
            var scale = Vector512.Create(Scale);
            float* xp = X + off;
            if (!Backward)
            {
                float* yp = Y + off;
                for (int j = 0; j < hw; j += Lanes)
                {
                    bool full = j < body;
                    var z = Vector512.FusedMultiplyAdd(full ? Vector512.Load(xp + j) : LoadPartial(xp + j, tail, tmp), va, vb);
                    if (Silu) z *= Sigmoid(z);
                    if (Drop) z = (z * scale) & KeepMask(Seed, off + j, thr);
                    if (full) z.Store(yp + j);
                    else StorePartial(z, yp + j, tail, tmp);
                }
                return;
            }
            float* dyp = Dy + off, dxp = Dx + off;
            var tailMask = TailMask(tail);
            Vector512<float> sg = default, sgx = default;
            for (int j = 0; j < hw; j += Lanes)
            {
                bool full = j < body;
                var xv = full ? Vector512.Load(xp + j) : LoadPartial(xp + j, tail, tmp);
                var g = full ? Vector512.Load(dyp + j) : LoadPartial(dyp + j, tail, tmp);
                if (Drop) g = (g * scale) & KeepMask(Seed, off + j, thr);
                if (Silu)
                {
                    var z = Vector512.FusedMultiplyAdd(xv, va, vb);
                    var s = Sigmoid(z);
                    g *= s * Vector512.FusedMultiplyAdd(z, Vector512<float>.One - s, Vector512<float>.One);
                }
                if (!full) g &= tailMask;
                sg += g;
                sgx = Vector512.FusedMultiplyAdd(g, xv, sgx);
                var dx = g * va;
                if (full) dx.Store(dxp + j);
                else StorePartial(dx, dxp + j, tail, tmp);
            }
            Dss[(long)n * 2 * C + c] = Vector512.Sum(sgx);
            Dss[(long)n * 2 * C + C + c] = Vector512.Sum(sg);
        }
    }

    private static void Check(Tensor x, Tensor ss, Tensor y, string op)
    {
        int c = x.C;
        if (x.SampleSize == 0 || x.SampleSize % c != 0) throw new ArgumentException($"{op}: bad input {x.ShapeString}");
        if (ss.Length != x.N * 2 * c) throw new ArgumentException($"{op}: scaleShift must be [N, 2C] for x {x.ShapeString}, got {ss.ShapeString}");
        if (y.Length != x.Length) throw new ArgumentException($"{op}: {y.ShapeString} does not match x {x.ShapeString}");
    }

    private static Job MakeJob(Tensor x, Tensor ss, bool silu, DropoutSpec dropout) => new()
    {
        X = x.Ptr, Ss = ss.Ptr, C = x.C, HW = x.SampleSize / x.C, Silu = silu,
        Drop = dropout.Active, Seed = dropout.Seed, Threshold = DropThreshold(dropout.P),
        Scale = dropout.Active ? 1f / (1f - dropout.P) : 1f,
    };

    public static void Forward(WorkerPool pool, Tensor x, Tensor ss, bool silu, DropoutSpec dropout, Tensor y)
    {
        Check(x, ss, y, "ScaleShift");
        var job = MakeJob(x, ss, silu, dropout);
        job.Y = y.Ptr;
        pool.For(x.N * x.C, ref job);
    }

    public static void Backward(WorkerPool pool, Tensor x, Tensor ss, bool silu, DropoutSpec dropout, Tensor dy, Tensor dx, Tensor dss)
    {
        Check(x, ss, dy, "ScaleShift backward");
        Check(x, dss, dx, "ScaleShift backward");
        var job = MakeJob(x, ss, silu, dropout);
        job.Dy = dy.Ptr; job.Dx = dx.Ptr; job.Dss = dss.Ptr; job.Backward = true;
        pool.For(x.N * x.C, ref job);
    }
}
