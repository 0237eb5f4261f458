using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

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

    private struct TileInfo
    {
        public long Base;      // offset of the patch origin (may lie outside the image) in the sample-0, channel-0 plane
        public int Ky0, Ky1, Kx0, Kx1; // valid patch rows/columns [Ky0, Ky1) x [Kx0, Kx1); empty for padding tiles
    }

    private readonly struct Tiling
    {
        public readonly int M, A, H, W, TilesH, TilesW, PerSample, Total;

        public Tiling(int m, int n, int h, int w)
        {
            M = m; A = m + 2; H = h; W = w;
            TilesH = (h + m - 1) / m; TilesW = (w + m - 1) / m;
            PerSample = TilesH * TilesW; Total = n * PerSample;
        }

        /// <summary>Tile geometry for tiles [t0, t0 + count) (tiles at or past <paramref name="limit"/> are empty) with
        /// patches of side <paramref name="side"/> starting <paramref name="off"/> before the tile.</summary>
        public void Describe(TileInfo* info, int t0, int count, int limit, long sampleStride, int side, int off)
        {
            for (int l = 0; l < count; l++)
            {
                int t = t0 + l;
                ref var ti = ref info[l];
                if (t >= limit) { ti = default; continue; }
                int n = t / PerSample, r = t % PerSample, ty = r / TilesW, tx = r % TilesW;
                int y0 = ty * M - off, x0 = tx * M - off;
                ti.Base = n * sampleStride + (long)y0 * W + x0;
                ti.Ky0 = Math.Max(0, -y0); ti.Ky1 = Math.Min(side, H - y0);
                ti.Kx0 = Math.Max(0, -x0); ti.Kx1 = Math.Min(side, W - x0);
            }
        }
    }

    /// <summary>patch[(ky * side + kx) * stride + l] = plane[info[l].Base + ky * W + kx], or 0 outside the image.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Gather(TileInfo* info, int lanes, float* plane, int w, int side, float* patch, int stride)
    {
        for (int l = 0; l < lanes; l++)
        {
            ref var ti = ref info[l];
            float* src = plane + ti.Base;
            float* dst = patch + l;
            if (ti.Ky0 == 0 && ti.Kx0 == 0 && ti.Ky1 == side && ti.Kx1 == side)
            {
                for (int ky = 0; ky < side; ky++, src += w)
                    for (int kx = 0; kx < side; kx++, dst += stride) *dst = src[kx];
                continue;
            }
            for (int ky = 0; ky < side; ky++, src += w)
                for (int kx = 0; kx < side; kx++, dst += stride)
                    *dst = ky >= ti.Ky0 && ky < ti.Ky1 && kx >= ti.Kx0 && kx < ti.Kx1 ? src[kx] : 0f;
        }
    }

    /// <summary>plane[info[l].Base + i * W + j] = tile[(i * m + j) * stride + l] + add over the valid part of each tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Scatter(TileInfo* info, int lanes, float* plane, int w, int m, float* tile, int stride, float add)
    {
        for (int l = 0; l < lanes; l++)
        {
            ref var ti = ref info[l];
            float* dst = plane + ti.Base;
            for (int i = 0; i < ti.Ky1; i++, dst += w)
                for (int j = 0; j < ti.Kx1; j++) dst[j] = tile[(i * m + j) * stride + l] + add;
        }
    }

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
            TileInfo* info = stackalloc TileInfo[Tb];
            Vector512<float>* tmp = stackalloc Vector512<float>[36];
            int t0 = block * Tb, lanes = Math.Min(Tb, tl.Total - t0);

            tl.Describe(info, t0, Tb, tl.Total, (long)Cin * hw, a, 1);
            for (int c = 0; c < Cin; c++)
            {
                Gather(info, Tb, Src + (long)c * hw, W, a, patch, Tb);
                for (int g = 0; g < Tb; g += 16)
                    WinogradTransforms.Apply(s.BTTerms, a, a, patch + g, Tb, tmp, v + (long)c * Tb + g, (long)Cin * Tb);
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

            tl.Describe(info, t0, lanes, tl.Total, (long)Cout * hw, M, 0);
            for (int co = 0; co < Cout; co++)
            {
                for (int g = 0; g < lanes; g += 16)
                    WinogradTransforms.Apply(s.ATTerms, a, M, mb + (long)co * Tb + g, (long)rowsR * Tb, tmp, patch + g, Tb);
                Scatter(info, lanes, Dst + (long)co * hw, W, M, patch, Tb, Bias != null ? Bias[co] : 0f);
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
            scratch[t * 3 + 2] = pool.Scratch(t, 2, (long)aa * Tb);
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
            TileInfo* info = stackalloc TileInfo[16];
            Vector512<float>* tmp = stackalloc Vector512<float>[36];
            int c0 = (int)((long)chunk * tl.Total / Chunks), c1 = (int)((long)(chunk + 1) * tl.Total / Chunks);
            for (int sb = c0; sb < c1; sb += Sb)
            {
                int len = (Math.Min(Sb, c1 - sb) + 15) & ~15;
                for (int g = 0; g < len; g += 16)
                {
                    tl.Describe(info, sb + g, 16, c1, (long)Cin * hw, a, 1);
                    for (int c = 0; c < Cin; c++)
                    {
                        Gather(info, 16, X + (long)c * hw, W, a, patch, 16);
                        WinogradTransforms.Apply(s.BTTerms, a, a, patch, 16, tmp, v + (long)c * Sb + g, (long)Cin * Sb);
                    }
                    tl.Describe(info, sb + g, 16, c1, (long)Cout * hw, M, 0);
                    for (int c = 0; c < Cout; c++)
                    {
                        Gather(info, 16, Dy + (long)c * hw, W, M, patch, 16);
                        WinogradTransforms.Apply(s.ATermsT, M, a, patch, 16, tmp, d + (long)c * Sb + g, (long)Cout * Sb);
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
            scratch[t * 3 + 2] = pool.Scratch(t, 2, (long)aa * 16);
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
