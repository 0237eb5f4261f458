using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using static CatchUp.Backends.Cpu.Kernels.WinogradTiles;

namespace CatchUp.Backends.Cpu.Kernels;

/// <summary>
/// 3x3 stride-1 pad-1 convolutions by Winograd minimal filtering F(m x m, 3 x 3), m in {2, 4}, NCHW float32.
/// <para>Tiles: the output is cut into m x m tiles, numbered over (sample, tile row, tile column); tile t reads the
/// a x a input patch at (m*ty - 1, m*tx - 1) (a = m + 2, zeros outside the image). A <em>block</em> is
/// <see cref="Tb"/> = 48 consecutive tiles, one micro-kernel tile width.</para>
/// <para>Forward (and backward-data, the same convolution of dy with the flipped, transposed kernel), one block per
/// work item: gather each input channel's patches into [a*a][48] (scalar), transform them 16 tiles per vector
/// (B^T d B) into V[xi][c][48], run the a*a GEMMs M[xi] = U[xi] V[xi] with the forward micro-kernel
/// (<see cref="ConvMicroKernels.Tile"/>, U the packed filter transform), transform back (A^T M A) and scatter.</para>
/// <para>Backward-weight: with V as above for x and D = A dy A^T for dy (both [xi][channel][tiles]), the filter
/// transform's adjoint gives dW = G^T (sum over tiles D[xi] V[xi]^T) G. The tiles are split in fixed chunks (chosen
/// from the shape only); each chunk reduces its tiles with the weight micro-kernel (<see cref="ConvMicroKernels.Wgt"/>)
/// into its own dU partial, and the partials are summed in chunk order, so results are bit-identical for any thread
/// count. The bias gradient is summed per channel in sample order.</para>
/// </summary>
internal static unsafe class WinogradKernels
{
    /// <summary>Tiles per block (forward): the AVX-512 micro-kernel's tile width.</summary>
    private const int Tb = 48;
    /// <summary>Tiles per sub-block of the weight gradient: the reduction length of one micro-kernel call.</summary>
    private const int Sb = 256;
    /// <summary>Input channels per GEMM K chunk: a B panel of 64 x 48 floats (12 KB) stays in L1.</summary>
    private const int Kc = 64;
    private const int MaxChunks = 8;

    /// <summary>Lanes of slack after a block in the patch buffers (the vector gather writes 16 lanes at a time).</summary>
    private const int Slack = 16;

    // ------------------------------------------------------------------------------------------------ forward / data
    private struct FwdJob : IParallelJob
    {
        public ConvSimd Simd;
        public float* Src, Dst, U, Bias;
        public int* Offs;
        public float** Scratch; // per worker: [V, M, patch]
        public int M, N, Cin, Cout, H, W, RowBlocks;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int block, int worker)
        {
            var s = WinogradTransforms.For(M);
            var tl = new Tiling(M, N, H, W);
            int a = s.A, aa = a * a, hw = H * W, rowsR = RowBlocks * 8;
            float* v = Scratch[worker * 3], mb = Scratch[worker * 3 + 1], patch = Scratch[worker * 3 + 2];
            Piece* pieces = stackalloc Piece[Tb];
            float* tmp = stackalloc float[36 * 16 + 16];
            tmp = (float*)(((nint)tmp + 63) & ~(nint)63);
            int t0 = block * Tb, lanes = Math.Min(Tb, tl.Total - t0);

            int np = tl.Cut(pieces, t0, lanes, (long)Cin * hw, Tb);
            int vl = (lanes + 15) & ~15, ps = Tb + Slack;
            for (int c = 0; c < Cin; c++)
            {
                Gather(tl, pieces, np, Src + (long)c * hw, a, 1, patch, ps);
                for (int g = 0; g < vl; g += 16)
                    WinogradTransforms.Transform(M, WinogradTransforms.Kind.Input, patch + g, ps, tmp, v + (long)c * Tb + g, (long)Cin * Tb);
            }

            int tw = ConvMicroKernels.TileWidth(Simd);
            for (int xi = 0; xi < aa; xi++)
            {
                float* vb = v + (long)xi * Cin * Tb;
                for (int c0 = 0; c0 < Cin; c0 += Kc)
                {
                    int kn = Math.Min(Kc, Cin - c0);
                    for (int blk = 0; blk < RowBlocks; blk++)
                    {
                        float* ua = U + (((long)xi * RowBlocks + blk) * Cin + c0) * 8;
                        float* cb = mb + ((long)xi * rowsR + blk * 8) * Tb;
                        for (int p0 = 0; p0 < lanes; p0 += tw)
                            ConvMicroKernels.Tile(Simd, ua, vb + (long)c0 * Tb + p0, Offs, kn, cb + p0, Tb, Math.Min(tw, lanes - p0), c0 > 0);
                    }
                }
            }

            np = tl.Cut(pieces, t0, lanes, (long)Cout * hw, Tb);
            for (int co = 0; co < Cout; co++)
            {
                for (int g = 0; g < vl; g += 16)
                    WinogradTransforms.Transform(M, WinogradTransforms.Kind.Output, mb + (long)co * Tb + g, (long)rowsR * Tb, tmp, patch + g, ps);
                Scatter(tl, pieces, np, Dst + (long)co * hw, patch, ps, Bias != null ? Bias[co] : 0f);
            }
        }
    }

    /// <summary>y = conv3x3(x, w) + bias (or, with <paramref name="flipTranspose"/>, dx = conv3x3 of dy with the
    /// flipped, transposed kernel: then x is dy [N, Cout] and y is dx [N, Cin], w still [Cout, Cin, 3, 3]).</summary>
    private static void Convolve(WorkerPool pool, int m, float* src, int n, int cin, int cout, int h, int w, float* weights,
        int wOut, int wIn, bool flipTranspose, float* bias, float* dst)
    {
        var s = WinogradTransforms.For(m);
        int a = s.A, aa = a * a, rowBlocks = (cout + 7) / 8;
        var tl = new Tiling(m, n, h, w);
        long uLen = (long)aa * rowBlocks * cin * 8;
        float* u = pool.Scratch(0, 3, uLen + Kc);
        int* offs = (int*)(u + uLen);
        for (int k = 0; k < Kc; k++) offs[k] = k * Tb;
        WinogradTransforms.PackFilter(s, weights, wOut, wIn, flipTranspose, u);

        int threads = pool.Threads;
        float** scratch = stackalloc float*[threads * 3];
        for (int t = 0; t < threads; t++)
        {
            scratch[t * 3] = pool.Scratch(t, 0, (long)aa * cin * Tb);
            scratch[t * 3 + 1] = pool.Scratch(t, 1, (long)aa * rowBlocks * 8 * Tb);
            scratch[t * 3 + 2] = pool.Scratch(t, 2, (long)aa * (Tb + Slack) + Slack);
        }
        var job = new FwdJob
        {
            Simd = Conv2dKernels.Simd, Src = src, Dst = dst, U = u, Bias = bias, Offs = offs, Scratch = scratch,
            M = m, N = n, Cin = cin, Cout = cout, H = h, W = w, RowBlocks = rowBlocks,
        };
        pool.For((tl.Total + Tb - 1) / Tb, ref job);
    }

    /// <summary>Forward; shapes already validated by <see cref="Conv2dKernels.Forward"/> (3x3, Cin, Cout, N, H, W &gt; 0).</summary>
    public static void Forward(WorkerPool pool, int m, float* x, float* w, float* bias, float* y, int n, int cin, int cout, int h, int wd)
        => Convolve(pool, m, x, n, cin, cout, h, wd, w, cout, cin, false, bias, y);

    // ------------------------------------------------------------------------------------------------ weight gradient
    private struct WgtJob : IParallelJob
    {
        public ConvSimd Simd;
        public float* X, Dy, Partials;
        public int* ColOff;
        public float** Scratch; // per worker: [V, D, patch]
        public long PartialStride;
        public int M, N, Cin, Cout, H, W, Chunks;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int chunk, int worker)
        {
            var s = WinogradTransforms.For(M);
            var tl = new Tiling(M, N, H, W);
            int a = s.A, aa = a * a, hw = H * W;
            float* v = Scratch[worker * 3], d = Scratch[worker * 3 + 1], patch = Scratch[worker * 3 + 2];
            float* part = Partials + chunk * PartialStride;
            NativeMemory.Clear(part, (nuint)((long)aa * Cout * Cin * 4));
            Piece* pieces = stackalloc Piece[16];
            float* tmp = stackalloc float[36 * 16 + 16];
            tmp = (float*)(((nint)tmp + 63) & ~(nint)63);
            int c0 = (int)((long)chunk * tl.Total / Chunks), c1 = (int)((long)(chunk + 1) * tl.Total / Chunks);
            for (int sb = c0; sb < c1; sb += Sb)
            {
                int len = (Math.Min(Sb, c1 - sb) + 15) & ~15;
                for (int g = 0; g < len; g += 16)
                {
                    int cnt = Math.Min(16, c1 - sb - g);
                    int np = tl.Cut(pieces, sb + g, cnt, (long)Cin * hw, 16);
                    for (int c = 0; c < Cin; c++)
                    {
                        Gather(tl, pieces, np, X + (long)c * hw, a, 1, patch, 32);
                        if (cnt < 16) ClearLanes(patch, aa, 32, cnt);
                        WinogradTransforms.Transform(M, WinogradTransforms.Kind.Input, patch, 32, tmp, v + (long)c * Sb + g, (long)Cin * Sb);
                    }
                    np = tl.Cut(pieces, sb + g, cnt, (long)Cout * hw, 16);
                    for (int c = 0; c < Cout; c++)
                    {
                        Gather(tl, pieces, np, Dy + (long)c * hw, M, 0, patch, 32);
                        if (cnt < 16) ClearLanes(patch, M * M, 32, cnt);
                        WinogradTransforms.Transform(M, WinogradTransforms.Kind.OutputGradient, patch, 32, tmp, d + (long)c * Sb + g, (long)Cout * Sb);
                    }
                }
                for (int xi = 0; xi < aa; xi++)
                {
                    float* vx = v + (long)xi * Cin * Sb, dx = d + (long)xi * Cout * Sb, px = part + (long)xi * Cout * Cin;
                    for (int co = 0; co < Cout; co += ConvMicroKernels.WgtRows)
                    {
                        int rows = Math.Min(ConvMicroKernels.WgtRows, Cout - co);
                        for (int ci = 0; ci < Cin; ci += ConvMicroKernels.WgtCols)
                            ConvMicroKernels.Wgt(Simd, dx + (long)co * Sb, Sb, 0, rows, vx, 0, ColOff + ci,
                                Math.Min(ConvMicroKernels.WgtCols, Cin - ci), 1, len, px + (long)co * Cin + ci, Cin);
                    }
                }
            }
        }
    }

    /// <summary>Zeroes lanes [from, 16) of each of <paramref name="rows"/> rows: tiles past a chunk's end add nothing.</summary>
    private static void ClearLanes(float* patch, int rows, int stride, int from)
    {
        for (int r = 0; r < rows; r++)
            new Span<float>(patch + r * stride + from, 16 - from).Clear();
    }

    private struct BiasJob : IParallelJob
    {
        public float* Dy, Db;
        public int N, Cout, Hw;

        public void Execute(int co, int worker)
        {
            float sum = 0f;
            for (int n = 0; n < N; n++) sum += TensorPrimitives.Sum(new ReadOnlySpan<float>(Dy + ((long)n * Cout + co) * Hw, Hw));
            Db[co] += sum;
        }
    }

    /// <summary>Backward; shapes already validated by <see cref="Conv2dKernels.Backward"/>. dx is overwritten, dw and
    /// dbias accumulated; <paramref name="weights"/> false computes dx only.</summary>
    public static void Backward(WorkerPool pool, int m, float* x, float* w, float* dy, float* dx, float* dw, float* dbias,
        int n, int cin, int cout, int h, int wd, bool weights = true)
    {
        if (dx != null) Convolve(pool, m, dy, n, cout, cin, h, wd, w, cout, cin, true, null, dx);
        if (!weights) return;
        if (dbias != null)
        {
            var bj = new BiasJob { Dy = dy, Db = dbias, N = n, Cout = cout, Hw = h * wd };
            pool.For(cout, ref bj);
        }

        var s = WinogradTransforms.For(m);
        int aa = s.A * s.A;
        var tl = new Tiling(m, n, h, wd);
        int chunks = Math.Clamp((tl.Total + 31) / 32, 1, MaxChunks);
        long partialStride = ((long)aa * cout * cin + 15) & ~15L;
        int colLen = (cin + 31) & ~15;
        float* shared = pool.Scratch(0, 3, colLen + chunks * partialStride);
        int* colOff = (int*)shared;
        for (int c = 0; c < cin; c++) colOff[c] = c * Sb;
        float* partials = shared + colLen;

        int threads = pool.Threads;
        float** scratch = stackalloc float*[threads * 3];
        for (int t = 0; t < threads; t++)
        {
            scratch[t * 3] = pool.Scratch(t, 0, (long)aa * cin * Sb);
            scratch[t * 3 + 1] = pool.Scratch(t, 1, (long)aa * cout * Sb);
            scratch[t * 3 + 2] = pool.Scratch(t, 2, (long)aa * 32 + Slack);
        }
        var job = new WgtJob
        {
            Simd = Conv2dKernels.Simd, X = x, Dy = dy, Partials = partials, ColOff = colOff, Scratch = scratch,
            PartialStride = partialStride, M = m, N = n, Cin = cin, Cout = cout, H = h, W = wd, Chunks = chunks,
        };
        pool.For(chunks, ref job);

        int len = (int)((long)aa * cout * cin);
        for (int c = 1; c < chunks; c++)
            TensorPrimitives.Add(new ReadOnlySpan<float>(partials, len), new ReadOnlySpan<float>(partials + c * partialStride, len),
                new Span<float>(partials, len));
        WinogradTransforms.AddFilterGradient(s, partials, (long)cout * cin, cout, cin, dw);
    }
}
