using System.Numerics.Tensors;
using CatchUp.Tensors;
using Tensor = CatchUp.Tensors.Tensor;

namespace CatchUp.Backends.Cpu.Kernels;

/// <summary>Small dense layers (N, in, out up to a few hundred): TensorPrimitives dot/axpy rows, parallel over rows.</summary>
internal static unsafe class LinearKernels
{
    private enum Op { Forward, BackwardX, BackwardW }

    private struct Job : IParallelJob
    {
        public Op Op;
        public float* X, W, B, Y, Dy, Dx, Dw, Db;
        public int N, In, Out;

        public void Execute(int index, int worker)
        {
            int ni = In, no = Out;
            switch (Op)
            {
                case Op.Forward:
                    {
                        var x = new ReadOnlySpan<float>(X + (long)index * ni, ni);
                        float* y = Y + (long)index * no;
                        for (int o = 0; o < no; o++)
                            y[o] = TensorPrimitives.Dot(x, new ReadOnlySpan<float>(W + (long)o * ni, ni)) + (B != null ? B[o] : 0f);
                        break;
                    }
                case Op.BackwardX:
                    {
                        // dx[n,:] = sum_o dy[n,o] W[o,:]
                        var dx = new Span<float>(Dx + (long)index * ni, ni);
                        dx.Clear();
                        float* dy = Dy + (long)index * no;
                        for (int o = 0; o < no; o++)
                            if (dy[o] != 0f) TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(W + (long)o * ni, ni), dy[o], dx, dx);
                        break;
                    }
                case Op.BackwardW:
                    {
                        // dW[o,:] += sum_n dy[n,o] x[n,:]; db[o] += sum_n dy[n,o]
                        int o = index;
                        var dw = new Span<float>(Dw + (long)o * ni, ni);
                        double db = 0;
                        for (int n = 0; n < N; n++)
                        {
                            float g = Dy[(long)n * no + o];
                            db += g;
                            if (g != 0f) TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(X + (long)n * ni, ni), g, dw, dw);
                        }
                        if (Db != null) Db[o] += (float)db;
                        break;
                    }
            }
        }
    }

    private static void Check(Tensor x, Tensor w, int outFeatures, int n)
    {
        if (w.Rank != 2 || x.SampleSize != w.Dim(1) || w.Dim(0) != outFeatures || x.N != n)
            throw new ArgumentException($"linear: x {x.ShapeString}, W {w.ShapeString}, out {outFeatures}");
    }

    public static void Forward(WorkerPool pool, Tensor x, Tensor w, Tensor? bias, Tensor y)
    {
        Check(x, w, y.SampleSize, y.N);
        var job = new Job { Op = Op.Forward, X = x.Ptr, W = w.Ptr, B = bias != null ? bias.Ptr : null, Y = y.Ptr, N = x.N, In = w.Dim(1), Out = w.Dim(0) };
        pool.For(x.N, ref job);
    }

    public static void Backward(WorkerPool pool, Tensor x, Tensor w, Tensor dy, Tensor? dx, Tensor dw, Tensor? dbias)
    {
        Check(x, w, dy.SampleSize, dy.N);
        var job = new Job
        {
            X = x.Ptr, W = w.Ptr, Dy = dy.Ptr, Dx = dx != null ? dx.Ptr : null, Dw = dw.Ptr, Db = dbias != null ? dbias.Ptr : null,
            N = x.N, In = w.Dim(1), Out = w.Dim(0),
        };
        if (dx != null)
        {
            job.Op = Op.BackwardX;
            pool.For(x.N, ref job);
        }
        job.Op = Op.BackwardW;
        pool.For(w.Dim(0), ref job);
    }

    /// <summary>y [N, C] = [sin(t f), cos(t f)], f_i = (1/10000)^(i/(C/2-1)); computed in double, rounded once.</summary>
    public static void PositionalEmbedding(Tensor t, Tensor y)
    {
        int n = t.Length, ch = y.SampleSize, half = ch / 2;
        if (y.N != n || ch % 2 != 0) throw new ArgumentException($"positional embedding: t {t.ShapeString}, y {y.ShapeString}");
        float* tp = t.Ptr, yp = y.Ptr;
        for (int s = 0; s < n; s++)
        {
            double ts = tp[s];
            float* row = yp + (long)s * ch;
            for (int i = 0; i < half; i++)
            {
                double f = half > 1 ? Math.Pow(1.0 / 10000.0, (double)i / (half - 1)) : 1.0;
                double a = ts * f;
                row[i] = (float)Math.Sin(a);
                row[half + i] = (float)Math.Cos(a);
            }
        }
    }
}
