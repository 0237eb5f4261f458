using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using CatchUp.Tensors;
using static CatchUp.Backends.Cpu.Kernels.SimdMath;

namespace CatchUp.Backends.Cpu.Kernels;

/// <summary>
/// One-head self-attention on interleaved qkv [N,3C,H,W], one parallel item per sample. Each sample's q, k, v (and dy)
/// are copied into per-worker scratch as [C, Pp] matrices (Pp = P rounded up to 16, zero padded), so every product is
/// a small dense GEMM on padded rows (<see cref="Gemm"/>) with no tail handling; results are copied back out.
/// Forward: S = Q^T K / sqrt(C); W = softmax rows; Y = V W^T.
/// Backward: dV = dY W; dW = dY^T V; dS = W * (dW - rowsum(W * dW)); dK = Q dS / sqrt(C); dQ = K dS^T / sqrt(C).
/// </summary>
internal static unsafe class AttentionKernels
{
    private const int WorkSlot = 2;

    private struct Job : IParallelJob
    {
        public float* Qkv, Y, Probs, Dy, Dqkv, Work;
        public long WorkStride;
        public int C, P, Pp;
        public bool Backward;

        public void Execute(int index, int worker)
        {
            int c = C, p = P, pp = Pp;
            long mat = (long)c * pp, sq = (long)pp * pp;
            float* w0 = Work + worker * WorkStride;
            float* q = w0, k = q + mat, v = k + mat, a = v + mat, b = a + mat, s = b + mat, t = s + sq, u = t + sq;
            float* src = Qkv + (long)index * 3 * c * p;
            for (int ch = 0; ch < c; ch++)
            {
                CopyPad(src + (3L * ch + 0) * p, q + ch * pp, p, pp);
                CopyPad(src + (3L * ch + 1) * p, k + ch * pp, p, pp);
                CopyPad(src + (3L * ch + 2) * p, v + ch * pp, p, pp);
            }
            float scale = 1f / MathF.Sqrt(c);
            if (!Backward)
            {
                // S[p, s] = scale * sum_c Q[c, p] K[c, s]; W = softmax over s < P (s holds W afterwards)
                Gemm(true, q, pp, k, pp, s, pp, p, pp, c, scale);
                for (int i = 0; i < p; i++) SoftmaxRow(s + (long)i * pp, p, pp);
                if (Probs != null)
                {
                    float* pr = Probs + (long)index * p * p;
                    for (int i = 0; i < p; i++) new ReadOnlySpan<float>(s + (long)i * pp, p).CopyTo(new Span<float>(pr + (long)i * p, p));
                }
                // Y[c, p] = sum_s V[c, s] W^T[s, p]
                Transpose(s, t, p, pp);
                Gemm(false, v, pp, t, pp, a, pp, c, pp, p, 1f);
                float* y = Y + (long)index * c * p;
                for (int ch = 0; ch < c; ch++) new ReadOnlySpan<float>(a + ch * pp, p).CopyTo(new Span<float>(y + (long)ch * p, p));
                return;
            }

            float* dy = Dy + (long)index * c * p;
            float* pr0 = Probs + (long)index * p * p;
            for (int ch = 0; ch < c; ch++) CopyPad(dy + (long)ch * p, a + ch * pp, p, pp);   // a = dY
            for (int i = 0; i < p; i++) CopyPad(pr0 + (long)i * p, s + (long)i * pp, p, pp); // s = W
            float* dst = Dqkv + (long)index * 3 * c * p;
            // dV[c, s] = sum_p dY[c, p] W[p, s]
            Gemm(false, a, pp, s, pp, b, pp, c, pp, p, 1f);
            for (int ch = 0; ch < c; ch++) new ReadOnlySpan<float>(b + ch * pp, p).CopyTo(new Span<float>(dst + (3L * ch + 2) * p, p));
            // dW[p, s] = sum_c dY[c, p] V[c, s]  (into t)
            Gemm(true, a, pp, v, pp, t, pp, p, pp, c, 1f);
            // dS = W * (dW - sum_s W dW)  (into t)
            for (int i = 0; i < p; i++) SoftmaxBackwardRow(s + (long)i * pp, t + (long)i * pp, pp);
            // dK[c, s] = scale * sum_p Q[c, p] dS[p, s]
            Gemm(false, q, pp, t, pp, b, pp, c, pp, p, scale);
            for (int ch = 0; ch < c; ch++) new ReadOnlySpan<float>(b + ch * pp, p).CopyTo(new Span<float>(dst + (3L * ch + 1) * p, p));
            // dQ[c, p] = scale * sum_s K[c, s] dS^T[s, p]
            Transpose(t, u, p, pp);
            Gemm(false, k, pp, u, pp, b, pp, c, pp, p, scale);
            for (int ch = 0; ch < c; ch++) new ReadOnlySpan<float>(b + ch * pp, p).CopyTo(new Span<float>(dst + (3L * ch + 0) * p, p));
        }
    }

    private static void CopyPad(float* src, float* dst, int p, int pp)
    {
        new ReadOnlySpan<float>(src, p).CopyTo(new Span<float>(dst, p));
        new Span<float>(dst + p, pp - p).Clear();
    }

    /// <summary>dst[j, i] = src[i, j] for i, j &lt; p (row stride pp); padded columns of dst are zeroed.</summary>
    private static void Transpose(float* src, float* dst, int p, int pp)
    {
        const int B = 8;
        for (int i0 = 0; i0 < p; i0 += B)
            for (int j0 = 0; j0 < p; j0 += B)
            {
                int i1 = Math.Min(p, i0 + B), j1 = Math.Min(p, j0 + B);
                for (int i = i0; i < i1; i++)
                    for (int j = j0; j < j1; j++) dst[(long)j * pp + i] = src[(long)i * pp + j];
            }
        for (int j = 0; j < p; j++) new Span<float>(dst + (long)j * pp + p, pp - p).Clear();
    }

    /// <summary>In-place softmax over the first p entries of a padded row; padded entries become 0.</summary>
    private static void SoftmaxRow(float* row, int p, int pp)
    {
        var negInf = Vector512.Create(float.NegativeInfinity);
        var mx = negInf;
        for (int j = 0; j < pp; j += Lanes)
        {
            var x = Vector512.Load(row + j);
            if (j + Lanes > p) x = Vector512.ConditionalSelect(TailMask(p - j), x, negInf);
            mx = Vector512.Max(mx, x);
        }
        float m = MaxAcross(mx);
        var vm = Vector512.Create(m);
        Vector512<float> sum = default;
        for (int j = 0; j < pp; j += Lanes)
        {
            var e = Exp(Vector512.Load(row + j) - vm);
            if (j + Lanes > p) e &= TailMask(p - j);
            e.Store(row + j);
            sum += e;
        }
        var inv = Vector512.Create(1f / Vector512.Sum(sum));
        for (int j = 0; j < pp; j += Lanes) (Vector512.Load(row + j) * inv).Store(row + j);
    }

    /// <summary>g = w * (g - sum(w * g)) over a padded row (w is zero in the padding).</summary>
    private static void SoftmaxBackwardRow(float* w, float* g, int pp)
    {
        Vector512<float> dot = default;
        for (int j = 0; j < pp; j += Lanes) dot = Vector512.FusedMultiplyAdd(Vector512.Load(w + j), Vector512.Load(g + j), dot);
        var d = Vector512.Create(Vector512.Sum(dot));
        for (int j = 0; j < pp; j += Lanes) (Vector512.Load(w + j) * (Vector512.Load(g + j) - d)).Store(g + j);
    }

    private static float MaxAcross(Vector512<float> v)
    {
        var h = Vector256.Max(v.GetLower(), v.GetUpper());
        var q = Vector128.Max(h.GetLower(), h.GetUpper());
        float m = q[0];
        for (int i = 1; i < 4; i++) m = MathF.Max(m, q[i]);
        return m;
    }

    /// <summary>
    /// out[m, n] = alpha * sum_{k &lt; K} A(m, k) B[k, n] for m &lt; M, n &lt; N (N a multiple of 16), where
    /// A(m, k) = a[k*lda + m] when <paramref name="transA"/>, else a[m*lda + k]. Register-blocked 4 x 32.
    /// </summary>
    internal static void Gemm(bool transA, float* a, int lda, float* b, int ldb, float* o, int ldo, int M, int N, int K, float alpha)
    {
        long sm = transA ? 1 : lda, sk = transA ? lda : 1;
        var va = Vector512.Create(alpha);
        int m = 0;
        for (; m + 4 <= M; m += 4)
        {
            float* a0 = a + m * sm;
            int n = 0;
            for (; n + 32 <= N; n += 32) Kernel4x32(a0, sm, sk, b + n, ldb, o + (long)m * ldo + n, ldo, K, va);
            for (; n < N; n += 16) Kernel4x16(a0, sm, sk, b + n, ldb, o + (long)m * ldo + n, ldo, K, va);
        }
        for (; m < M; m++)
        {
            float* a0 = a + m * sm;
            for (int n = 0; n < N; n += 16)
            {
                Vector512<float> acc = default;
                float* bp = b + n;
                for (int kk = 0; kk < K; kk++) acc = Vector512.FusedMultiplyAdd(Vector512.Create(a0[kk * sk]), Vector512.Load(bp + (long)kk * ldb), acc);
                (acc * va).Store(o + (long)m * ldo + n);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Kernel4x32(float* a, long sm, long sk, float* b, int ldb, float* o, int ldo, int K, Vector512<float> alpha)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        for (int k = 0; k < K; k++)
        {
            float* bp = b + (long)k * ldb;
            var b0 = Vector512.Load(bp);
            var b1 = Vector512.Load(bp + 16);
            float* ap = a + k * sk;
            var x = Vector512.Create(ap[0]);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(ap[sm]);
            c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(ap[2 * sm]);
            c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(ap[3 * sm]);
            c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
        }
        (c00 * alpha).Store(o); (c01 * alpha).Store(o + 16);
        (c10 * alpha).Store(o + ldo); (c11 * alpha).Store(o + ldo + 16);
        (c20 * alpha).Store(o + 2 * ldo); (c21 * alpha).Store(o + 2 * ldo + 16);
        (c30 * alpha).Store(o + 3 * ldo); (c31 * alpha).Store(o + 3 * ldo + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Kernel4x16(float* a, long sm, long sk, float* b, int ldb, float* o, int ldo, int K, Vector512<float> alpha)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        for (int k = 0; k < K; k++)
        {
            var b0 = Vector512.Load(b + (long)k * ldb);
            float* ap = a + k * sk;
            c0 = Vector512.FusedMultiplyAdd(Vector512.Create(ap[0]), b0, c0);
            c1 = Vector512.FusedMultiplyAdd(Vector512.Create(ap[sm]), b0, c1);
            c2 = Vector512.FusedMultiplyAdd(Vector512.Create(ap[2 * sm]), b0, c2);
            c3 = Vector512.FusedMultiplyAdd(Vector512.Create(ap[3 * sm]), b0, c3);
        }
        (c0 * alpha).Store(o); (c1 * alpha).Store(o + ldo); (c2 * alpha).Store(o + 2 * ldo); (c3 * alpha).Store(o + 3 * ldo);
    }

    private static void Run(WorkerPool pool, Tensor qkv, float* y, float* probs, float* dy, float* dqkv, bool backward)
    {
        if (qkv.Rank != 4 || qkv.C % 3 != 0) throw new ArgumentException($"attention: qkv {qkv.ShapeString} must be [N, 3C, H, W]");
        int c = qkv.C / 3, p = qkv.H * qkv.W, pp = RoundUp(p, Lanes);
        long stride = 5L * c * pp + 3L * pp * pp;
        float* work = pool.Scratch(0, WorkSlot, stride * pool.Threads);
        var job = new Job
        {
            Qkv = qkv.Ptr, Y = y, Probs = probs, Dy = dy, Dqkv = dqkv, Work = work, WorkStride = stride,
            C = c, P = p, Pp = pp, Backward = backward,
        };
        pool.For(qkv.N, ref job);
    }

    public static void Forward(WorkerPool pool, Tensor qkv, Tensor y, Tensor? probs)
    {
        int p = qkv.H * qkv.W;
        if (y.Length * 3 != qkv.Length) throw new ArgumentException($"attention: y {y.ShapeString} vs qkv {qkv.ShapeString}");
        if (probs != null && probs.Length != (long)qkv.N * p * p) throw new ArgumentException("attention: probs must be [N, P, P]");
        Run(pool, qkv, y.Ptr, probs != null ? probs.Ptr : null, null, null, backward: false);
    }

    public static void Backward(WorkerPool pool, Tensor qkv, Tensor probs, Tensor dy, Tensor dqkv)
    {
        int p = qkv.H * qkv.W;
        if (dy.Length * 3 != qkv.Length || dqkv.Length != qkv.Length) throw new ArgumentException("attention: dy/dqkv shape mismatch");
        if (probs.Length != (long)qkv.N * p * p) throw new ArgumentException("attention: probs must be [N, P, P]");
        Run(pool, qkv, null, probs.Ptr, dy.Ptr, dqkv.Ptr, backward: true);
    }
}
