using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CatchUp.Backends.Cpu.Kernels;

/// <summary>
/// Moving Winograd tiles between NCHW planes and the lane-major buffers the transforms read ([element][lane], one lane
/// per tile). Tiles are numbered over (sample, tile row, tile column); a run of lanes is cut into <em>pieces</em> of
/// consecutive tiles of one tile row. With AVX-512 a piece's patch row is read with masked loads (zeros outside the
/// image, nothing read outside it) and dealt out to the lanes with two-source permutes; the output goes back the same
/// way with masked stores. Without AVX-512 the same is done element by element.
/// </summary>
internal static unsafe class WinogradTiles
{
    /// <summary>Lanes that a piece may span (its patch row must fit in the 64 floats of four vectors).</summary>
    private static int MaxPiece(int m) => m == 4 ? 14 : 16;

    internal struct Piece
    {
        public long Sample;  // n * sampleStride
        public int Ty, Tx0, Count, Lane;
    }

    internal readonly struct Tiling
    {
        public readonly int M, A, H, W, TilesH, TilesW, PerSample, Total;

        public Tiling(int m, int n, int h, int w)
        {
            M = m; A = m + 2; H = h; W = w;
            TilesH = (h + m - 1) / m; TilesW = (w + m - 1) / m;
            PerSample = TilesH * TilesW; Total = n * PerSample;
        }

        /// <summary>Cuts tiles [t0, t0 + count) into pieces (none crossing a multiple of <paramref name="group"/> lanes);
        /// returns how many. <paramref name="pieces"/> must hold count pieces.</summary>
        public int Cut(Piece* pieces, int t0, int count, long sampleStride, int group)
        {
            int np = 0, max = MaxPiece(M);
            for (int l = 0; l < count;)
            {
                int t = t0 + l, n = t / PerSample, r = t % PerSample, ty = r / TilesW, tx = r % TilesW;
                int len = Math.Min(Math.Min(max, TilesW - tx), Math.Min(count - l, group - l % group));
                pieces[np++] = new Piece { Sample = n * sampleStride, Ty = ty, Tx0 = tx, Count = len, Lane = l };
                l += len;
            }
            return np;
        }
    }

    /// <summary>patch[(ky * side + kx) * stride + lane + i] = plane[(Ty*m - off + ky) * W + (Tx0 + i)*m - off + kx] for
    /// each piece (zero outside the image). Lanes are written 16 at a time: stride must leave 16 lanes of slack after the
    /// last piece, and pieces must come in lane order (a piece's spill is overwritten by the next).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Gather(in Tiling tl, Piece* pieces, int np, float* plane, int side, int off, float* patch, int stride)
    {
        int m = tl.M, w = tl.W;
        if (!Avx512F.IsSupported || Conv2dKernels.Simd != ConvSimd.V512)
        {
            GatherScalar(tl, pieces, np, plane, side, off, patch, stride);
            return;
        }
        var iota = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        var zero = Vector512<float>.Zero;
        var wv = Vector512.Create(w);
        var thirtyTwo = Vector512.Create(32);
        for (int p = 0; p < np; p++)
        {
            ref var pc = ref pieces[p];
            int c0 = pc.Tx0 * m - off;
            var col = iota + Vector512.Create(c0);
            var k0 = Valid(col, wv); var k1 = Valid(col + Vector512.Create(16), wv);
            var k2 = Valid(col + thirtyTwo, wv); var k3 = Valid(col + Vector512.Create(48), wv);
            float* dst = patch + pc.Lane;
            for (int ky = 0; ky < side; ky++)
            {
                int y = pc.Ty * m - off + ky;
                if ((uint)y >= (uint)tl.H)
                {
                    for (int kx = 0; kx < side; kx++) zero.Store(dst + (ky * side + kx) * stride);
                    continue;
                }
                float* row = plane + pc.Sample + (long)y * w + c0;
                var v0 = Avx512F.MaskLoad(row, k0, zero);
                var v1 = Avx512F.MaskLoad(row + 16, k1, zero);
                var v2 = Avx512F.MaskLoad(row + 32, k2, zero);
                var v3 = Avx512F.MaskLoad(row + 48, k3, zero);
                for (int kx = 0; kx < side; kx++)
                {
                    var idx = iota * m + Vector512.Create(kx);
                    var lo = Avx512F.PermuteVar16x32x2(v0, idx, v1);
                    var hi = Avx512F.PermuteVar16x32x2(v2, idx - thirtyTwo, v3);
                    Vector512.ConditionalSelect(Vector512.LessThan(idx, thirtyTwo).AsSingle(), lo, hi).Store(dst + (ky * side + kx) * stride);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Valid(Vector512<int> col, Vector512<int> w)
        => (Vector512.GreaterThanOrEqual(col, Vector512<int>.Zero) & Vector512.LessThan(col, w)).AsSingle();

    private static void GatherScalar(in Tiling tl, Piece* pieces, int np, float* plane, int side, int off, float* patch, int stride)
    {
        for (int p = 0; p < np; p++)
        {
            ref var pc = ref pieces[p];
            for (int i = 0; i < pc.Count; i++)
            {
                int x0 = (pc.Tx0 + i) * tl.M - off, y0 = pc.Ty * tl.M - off;
                float* dst = patch + pc.Lane + i;
                for (int ky = 0; ky < side; ky++)
                    for (int kx = 0; kx < side; kx++)
                    {
                        int y = y0 + ky, x = x0 + kx;
                        dst[(ky * side + kx) * stride] = (uint)y < (uint)tl.H && (uint)x < (uint)tl.W ? plane[pc.Sample + (long)y * tl.W + x] : 0f;
                    }
            }
        }
    }

    /// <summary>plane[(Ty*m + i) * W + (Tx0 + l)*m + j] = tile[(i * m + j) * stride + lane + l] + add, inside the image.
    /// Reads 16 lanes from each piece's first lane (stride must leave 16 lanes of slack).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Scatter(in Tiling tl, Piece* pieces, int np, float* plane, float* tile, int stride, float add)
    {
        int m = tl.M, w = tl.W;
        if (!Avx512F.IsSupported || Conv2dKernels.Simd != ConvSimd.V512)
        {
            ScatterScalar(tl, pieces, np, plane, tile, stride, add);
            return;
        }
        var iota = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        var av = Vector512.Create(add);
        int shift = m == 4 ? 2 : 1;
        for (int p = 0; p < np; p++)
        {
            ref var pc = ref pieces[p];
            int x0 = pc.Tx0 * m, width = Math.Min(w - x0, pc.Count * m), rows = Math.Min(m, tl.H - pc.Ty * m);
            var limit = Vector512.Create(width);
            for (int i = 0; i < rows; i++)
            {
                float* src = tile + i * m * stride + pc.Lane;
                float* row = plane + pc.Sample + (long)(pc.Ty * m + i) * w + x0;
                var s0 = Vector512.Load(src);
                var s1 = Vector512.Load(src + stride);
                Vector512<float> s2 = default, s3 = default;
                if (m == 4) { s2 = Vector512.Load(src + 2 * stride); s3 = Vector512.Load(src + 3 * stride); }
                for (int q = 0; q * 16 < width; q++)
                {
                    var xr = iota + Vector512.Create(q * 16);
                    var t = Vector512.ShiftRightLogical(xr, shift);
                    var j = xr & Vector512.Create(m - 1);
                    Vector512<float> v;
                    if (m == 4)
                    {
                        var idx = t + ((j & Vector512<int>.One) << 4);
                        var lo = Avx512F.PermuteVar16x32x2(s0, idx, s1);
                        var hi = Avx512F.PermuteVar16x32x2(s2, idx, s3);
                        v = Vector512.ConditionalSelect(Vector512.LessThan(j, Vector512.Create(2)).AsSingle(), lo, hi);
                    }
                    else v = Avx512F.PermuteVar16x32x2(s0, t + (j << 4), s1);
                    Avx512F.MaskStore(row + q * 16, Vector512.LessThan(xr, limit).AsSingle(), v + av);
                }
            }
        }
    }

    private static void ScatterScalar(in Tiling tl, Piece* pieces, int np, float* plane, float* tile, int stride, float add)
    {
        int m = tl.M;
        for (int p = 0; p < np; p++)
        {
            ref var pc = ref pieces[p];
            for (int l = 0; l < pc.Count; l++)
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < m; j++)
                    {
                        int y = pc.Ty * m + i, x = (pc.Tx0 + l) * m + j;
                        if (y < tl.H && x < tl.W) plane[pc.Sample + (long)y * tl.W + x] = tile[(i * m + j) * stride + pc.Lane + l] + add;
                    }
        }
    }
}
