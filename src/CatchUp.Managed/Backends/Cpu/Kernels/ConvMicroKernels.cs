using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CatchUp.Backends.Cpu.Kernels;

/// <summary>
/// Register-blocked micro-kernels of the convolution GEMMs.
/// <para><b>Tile</b> (forward and backward-data): C[r, q] = sum_k A[k, r] * B[offs[k] + q] for 8 rows r and
/// <c>width</c> consecutive columns q; A is packed [k][8] (broadcast operand), B is a padded "wide" image and offs[k]
/// is the start of the (channel, tap) row that k reads. C rows are <c>ldc</c> apart and are overwritten.</para>
/// <para><b>Wgt</b> (backward-weight): G[r, j] += sum_s sum_p D_r[s*dSample + p] * X[s*xSample + colOff[j] + p] for up
/// to 4 rows r (dy rows) and up to 6 columns j ((ci, tap) pairs), p in [0, len), len a multiple of 16, reducing over
/// positions in vector lanes and summing the lanes once per tile.</para>
/// </summary>
internal static unsafe class ConvMicroKernels
{
    /// <summary>Columns of one forward tile for the active SIMD path.</summary>
    public static int TileWidth(ConvSimd simd) => simd switch { ConvSimd.V512 => 48, ConvSimd.V256 => 24, _ => 16 };

    public const int Mr = 8;
    public const int WgtRows = 4;
    public const int WgtCols = 6;

    // ---------------------------------------------------------------- forward tile, AVX-512: 8 rows x 48 columns
    private struct W1 { }
    private struct W2 { }
    private struct W3 { }

    /// <summary>Computes an 8 x width tile; width in (0, TileWidth], rounded up to whole vectors (C must have room).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile(ConvSimd simd, float* a, float* b, int* offs, int kdim, float* c, int ldc, int width, bool accumulate)
    {
        switch (simd)
        {
            case ConvSimd.V512:
                if (width > 32) Tile512<W3>(a, b, offs, kdim, c, ldc, accumulate);
                else if (width > 16) Tile512<W2>(a, b, offs, kdim, c, ldc, accumulate);
                else Tile512<W1>(a, b, offs, kdim, c, ldc, accumulate);
                break;
            case ConvSimd.V256:
                if (width > 16) Tile256<W3>(a, b, offs, kdim, c, ldc, accumulate);
                else if (width > 8) Tile256<W2>(a, b, offs, kdim, c, ldc, accumulate);
                else Tile256<W1>(a, b, offs, kdim, c, ldc, accumulate);
                break;
            default:
                TileScalar(a, b, offs, kdim, c, ldc, width, accumulate);
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile512<TW>(float* a, float* b, int* offs, int kdim, float* c, int ldc, bool accumulate) where TW : struct
    {
        bool two = typeof(TW) != typeof(W1);
        bool three = typeof(TW) == typeof(W3);
        Vector512<float> c00 = default, c01 = default, c02 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default;
        Vector512<float> c30 = default, c31 = default, c32 = default;
        Vector512<float> c40 = default, c41 = default, c42 = default;
        Vector512<float> c50 = default, c51 = default, c52 = default;
        Vector512<float> c60 = default, c61 = default, c62 = default;
        Vector512<float> c70 = default, c71 = default, c72 = default;
        if (accumulate)
        {
            float* cc = c;
            c00 = Vector512.Load(cc); if (two) c01 = Vector512.Load(cc + 16); if (three) c02 = Vector512.Load(cc + 32); cc += ldc;
            c10 = Vector512.Load(cc); if (two) c11 = Vector512.Load(cc + 16); if (three) c12 = Vector512.Load(cc + 32); cc += ldc;
            c20 = Vector512.Load(cc); if (two) c21 = Vector512.Load(cc + 16); if (three) c22 = Vector512.Load(cc + 32); cc += ldc;
            c30 = Vector512.Load(cc); if (two) c31 = Vector512.Load(cc + 16); if (three) c32 = Vector512.Load(cc + 32); cc += ldc;
            c40 = Vector512.Load(cc); if (two) c41 = Vector512.Load(cc + 16); if (three) c42 = Vector512.Load(cc + 32); cc += ldc;
            c50 = Vector512.Load(cc); if (two) c51 = Vector512.Load(cc + 16); if (three) c52 = Vector512.Load(cc + 32); cc += ldc;
            c60 = Vector512.Load(cc); if (two) c61 = Vector512.Load(cc + 16); if (three) c62 = Vector512.Load(cc + 32); cc += ldc;
            c70 = Vector512.Load(cc); if (two) c71 = Vector512.Load(cc + 16); if (three) c72 = Vector512.Load(cc + 32); cc += ldc;
        }
        for (int k = 0; k < kdim; k++)
        {
            float* bp = b + offs[k];
            Vector512<float> b0 = Vector512.Load(bp);
            Vector512<float> b1 = two ? Vector512.Load(bp + 16) : default;
            Vector512<float> b2 = three ? Vector512.Load(bp + 32) : default;
            Vector512<float> av;
            av = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(av, b0, c00);
            if (two) c01 = Vector512.FusedMultiplyAdd(av, b1, c01);
            if (three) c02 = Vector512.FusedMultiplyAdd(av, b2, c02);
            av = Vector512.Create(a[1]);
            c10 = Vector512.FusedMultiplyAdd(av, b0, c10);
            if (two) c11 = Vector512.FusedMultiplyAdd(av, b1, c11);
            if (three) c12 = Vector512.FusedMultiplyAdd(av, b2, c12);
            av = Vector512.Create(a[2]);
            c20 = Vector512.FusedMultiplyAdd(av, b0, c20);
            if (two) c21 = Vector512.FusedMultiplyAdd(av, b1, c21);
            if (three) c22 = Vector512.FusedMultiplyAdd(av, b2, c22);
            av = Vector512.Create(a[3]);
            c30 = Vector512.FusedMultiplyAdd(av, b0, c30);
            if (two) c31 = Vector512.FusedMultiplyAdd(av, b1, c31);
            if (three) c32 = Vector512.FusedMultiplyAdd(av, b2, c32);
            av = Vector512.Create(a[4]);
            c40 = Vector512.FusedMultiplyAdd(av, b0, c40);
            if (two) c41 = Vector512.FusedMultiplyAdd(av, b1, c41);
            if (three) c42 = Vector512.FusedMultiplyAdd(av, b2, c42);
            av = Vector512.Create(a[5]);
            c50 = Vector512.FusedMultiplyAdd(av, b0, c50);
            if (two) c51 = Vector512.FusedMultiplyAdd(av, b1, c51);
            if (three) c52 = Vector512.FusedMultiplyAdd(av, b2, c52);
            av = Vector512.Create(a[6]);
            c60 = Vector512.FusedMultiplyAdd(av, b0, c60);
            if (two) c61 = Vector512.FusedMultiplyAdd(av, b1, c61);
            if (three) c62 = Vector512.FusedMultiplyAdd(av, b2, c62);
            av = Vector512.Create(a[7]);
            c70 = Vector512.FusedMultiplyAdd(av, b0, c70);
            if (two) c71 = Vector512.FusedMultiplyAdd(av, b1, c71);
            if (three) c72 = Vector512.FusedMultiplyAdd(av, b2, c72);
            a += Mr;
        }
        Store3(c, c00, c01, c02, two, three); c += ldc;
        Store3(c, c10, c11, c12, two, three); c += ldc;
        Store3(c, c20, c21, c22, two, three); c += ldc;
        Store3(c, c30, c31, c32, two, three); c += ldc;
        Store3(c, c40, c41, c42, two, three); c += ldc;
        Store3(c, c50, c51, c52, two, three); c += ldc;
        Store3(c, c60, c61, c62, two, three); c += ldc;
        Store3(c, c70, c71, c72, two, three);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store3(float* c, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, bool two, bool three)
    {
        v0.Store(c);
        if (two) v1.Store(c + 16);
        if (three) v2.Store(c + 32);
    }

    // ---------------------------------------------------------------- forward tile, AVX2: 8 rows x 24 columns
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile256<TW>(float* a, float* b, int* offs, int kdim, float* c, int ldc, bool accumulate) where TW : struct
    {
        bool two = typeof(TW) != typeof(W1);
        bool three = typeof(TW) == typeof(W3);
        Vector256<float> c00 = default, c01 = default, c02 = default;
        Vector256<float> c10 = default, c11 = default, c12 = default;
        Vector256<float> c20 = default, c21 = default, c22 = default;
        Vector256<float> c30 = default, c31 = default, c32 = default;
        Vector256<float> c40 = default, c41 = default, c42 = default;
        Vector256<float> c50 = default, c51 = default, c52 = default;
        Vector256<float> c60 = default, c61 = default, c62 = default;
        Vector256<float> c70 = default, c71 = default, c72 = default;
        if (accumulate)
        {
            float* cc = c;
            c00 = Vector256.Load(cc); if (two) c01 = Vector256.Load(cc + 8); if (three) c02 = Vector256.Load(cc + 16); cc += ldc;
            c10 = Vector256.Load(cc); if (two) c11 = Vector256.Load(cc + 8); if (three) c12 = Vector256.Load(cc + 16); cc += ldc;
            c20 = Vector256.Load(cc); if (two) c21 = Vector256.Load(cc + 8); if (three) c22 = Vector256.Load(cc + 16); cc += ldc;
            c30 = Vector256.Load(cc); if (two) c31 = Vector256.Load(cc + 8); if (three) c32 = Vector256.Load(cc + 16); cc += ldc;
            c40 = Vector256.Load(cc); if (two) c41 = Vector256.Load(cc + 8); if (three) c42 = Vector256.Load(cc + 16); cc += ldc;
            c50 = Vector256.Load(cc); if (two) c51 = Vector256.Load(cc + 8); if (three) c52 = Vector256.Load(cc + 16); cc += ldc;
            c60 = Vector256.Load(cc); if (two) c61 = Vector256.Load(cc + 8); if (three) c62 = Vector256.Load(cc + 16); cc += ldc;
            c70 = Vector256.Load(cc); if (two) c71 = Vector256.Load(cc + 8); if (three) c72 = Vector256.Load(cc + 16); cc += ldc;
        }
        for (int k = 0; k < kdim; k++)
        {
            float* bp = b + offs[k];
            Vector256<float> b0 = Vector256.Load(bp);
            Vector256<float> b1 = two ? Vector256.Load(bp + 8) : default;
            Vector256<float> b2 = three ? Vector256.Load(bp + 16) : default;
            Vector256<float> av;
            av = Vector256.Create(a[0]);
            c00 = Vector256.FusedMultiplyAdd(av, b0, c00);
            if (two) c01 = Vector256.FusedMultiplyAdd(av, b1, c01);
            if (three) c02 = Vector256.FusedMultiplyAdd(av, b2, c02);
            av = Vector256.Create(a[1]);
            c10 = Vector256.FusedMultiplyAdd(av, b0, c10);
            if (two) c11 = Vector256.FusedMultiplyAdd(av, b1, c11);
            if (three) c12 = Vector256.FusedMultiplyAdd(av, b2, c12);
            av = Vector256.Create(a[2]);
            c20 = Vector256.FusedMultiplyAdd(av, b0, c20);
            if (two) c21 = Vector256.FusedMultiplyAdd(av, b1, c21);
            if (three) c22 = Vector256.FusedMultiplyAdd(av, b2, c22);
            av = Vector256.Create(a[3]);
            c30 = Vector256.FusedMultiplyAdd(av, b0, c30);
            if (two) c31 = Vector256.FusedMultiplyAdd(av, b1, c31);
            if (three) c32 = Vector256.FusedMultiplyAdd(av, b2, c32);
            av = Vector256.Create(a[4]);
            c40 = Vector256.FusedMultiplyAdd(av, b0, c40);
            if (two) c41 = Vector256.FusedMultiplyAdd(av, b1, c41);
            if (three) c42 = Vector256.FusedMultiplyAdd(av, b2, c42);
            av = Vector256.Create(a[5]);
            c50 = Vector256.FusedMultiplyAdd(av, b0, c50);
            if (two) c51 = Vector256.FusedMultiplyAdd(av, b1, c51);
            if (three) c52 = Vector256.FusedMultiplyAdd(av, b2, c52);
            av = Vector256.Create(a[6]);
            c60 = Vector256.FusedMultiplyAdd(av, b0, c60);
            if (two) c61 = Vector256.FusedMultiplyAdd(av, b1, c61);
            if (three) c62 = Vector256.FusedMultiplyAdd(av, b2, c62);
            av = Vector256.Create(a[7]);
            c70 = Vector256.FusedMultiplyAdd(av, b0, c70);
            if (two) c71 = Vector256.FusedMultiplyAdd(av, b1, c71);
            if (three) c72 = Vector256.FusedMultiplyAdd(av, b2, c72);
            a += Mr;
        }
        Store3(c, c00, c01, c02, two, three); c += ldc;
        Store3(c, c10, c11, c12, two, three); c += ldc;
        Store3(c, c20, c21, c22, two, three); c += ldc;
        Store3(c, c30, c31, c32, two, three); c += ldc;
        Store3(c, c40, c41, c42, two, three); c += ldc;
        Store3(c, c50, c51, c52, two, three); c += ldc;
        Store3(c, c60, c61, c62, two, three); c += ldc;
        Store3(c, c70, c71, c72, two, three);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store3(float* c, Vector256<float> v0, Vector256<float> v1, Vector256<float> v2, bool two, bool three)
    {
        v0.Store(c);
        if (two) v1.Store(c + 8);
        if (three) v2.Store(c + 16);
    }

    // ---------------------------------------------------------------- forward tile, scalar
    private static void TileScalar(float* a, float* b, int* offs, int kdim, float* c, int ldc, int width, bool accumulate)
    {
        width = (width + 15) & ~15;
        for (int r = 0; r < Mr; r++)
        {
            float* cr = c + (long)r * ldc;
            if (!accumulate) for (int q = 0; q < width; q++) cr[q] = 0f;
            for (int k = 0; k < kdim; k++)
            {
                float av = a[k * Mr + r];
                if (av == 0f) continue;
                float* bp = b + offs[k];
                for (int q = 0; q < width; q++) cr[q] += av * bp[q];
            }
        }
    }

    // ---------------------------------------------------------------- backward-weight tile
    /// <summary>
    /// g[r * ldg + j] += sum over samples s &lt; samples and positions p &lt; len of
    /// d[r][s * dSample + p] * x[s * xSample + colOff[j] + p], for r &lt; rows (≤ 4), j &lt; cols (≤ 6). len % 16 == 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Wgt(ConvSimd simd, float* d, long dRow, long dSample, int rows, float* x, long xSample, int* colOff, int cols,
        int samples, int len, float* g, int ldg)
    {
        float* d0 = d, d1 = d + dRow * Math.Min(1, rows - 1), d2 = d + dRow * Math.Min(2, rows - 1), d3 = d + dRow * Math.Min(3, rows - 1);
        float* x0 = x + colOff[0];
        float* x1 = x + colOff[Math.Min(1, cols - 1)];
        float* x2 = x + colOff[Math.Min(2, cols - 1)];
        float* x3 = x + colOff[Math.Min(3, cols - 1)];
        float* x4 = x + colOff[Math.Min(4, cols - 1)];
        float* x5 = x + colOff[Math.Min(5, cols - 1)];
        float* r = stackalloc float[WgtRows * WgtCols];
        switch (simd)
        {
            case ConvSimd.V512: Wgt512(d0, d1, d2, d3, dSample, x0, x1, x2, x3, x4, x5, xSample, samples, len, r); break;
            case ConvSimd.V256: Wgt256(d0, d1, d2, d3, dSample, x0, x1, x2, x3, x4, x5, xSample, samples, len, r); break;
            default:
                {
                    float** dp = stackalloc float*[] { d0, d1, d2, d3 };
                    float** xp = stackalloc float*[] { x0, x1, x2, x3, x4, x5 };
                    for (int i = 0; i < WgtRows; i++)
                        for (int j = 0; j < WgtCols; j++)
                        {
                            float s = 0f;
                            for (int n = 0; n < samples; n++)
                            {
                                float* dd = dp[i] + n * dSample, xx = xp[j] + n * xSample;
                                for (int p = 0; p < len; p++) s += dd[p] * xx[p];
                            }
                            r[i * WgtCols + j] = s;
                        }
                    break;
                }
        }
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                g[i * ldg + j] += r[i * WgtCols + j];
    }

    /// <summary>AVX-512 backward-weight tile that keeps its 24 lane-partial vectors in memory (<paramref name="acc"/>,
    /// [4 rows][6 cols][16]) across calls instead of summing lanes per call; the caller sums the lanes once per chunk.</summary>
    public static void WgtVec(float* d, long dRow, long dSample, int rows, float* x, long xSample, int* colOff, int cols,
        int samples, int len, float* acc)
    {
        float* d0 = d, d1 = d + dRow * Math.Min(1, rows - 1), d2 = d + dRow * Math.Min(2, rows - 1), d3 = d + dRow * Math.Min(3, rows - 1);
        Wgt512(d0, d1, d2, d3, dSample, x + colOff[0], x + colOff[Math.Min(1, cols - 1)], x + colOff[Math.Min(2, cols - 1)],
            x + colOff[Math.Min(3, cols - 1)], x + colOff[Math.Min(4, cols - 1)], x + colOff[Math.Min(5, cols - 1)], xSample, samples, len, null, acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Wgt512(float* d0, float* d1, float* d2, float* d3, long dSample,
        float* x0, float* x1, float* x2, float* x3, float* x4, float* x5, long xSample, int samples, int len, float* r, float* vacc = null)
    {
        Vector512<float> g00 = default, g01 = default, g02 = default, g03 = default, g04 = default, g05 = default;
        Vector512<float> g10 = default, g11 = default, g12 = default, g13 = default, g14 = default, g15 = default;
        Vector512<float> g20 = default, g21 = default, g22 = default, g23 = default, g24 = default, g25 = default;
        Vector512<float> g30 = default, g31 = default, g32 = default, g33 = default, g34 = default, g35 = default;
        if (vacc != null)
        {
            g00 = Vector512.Load(vacc); g01 = Vector512.Load(vacc + 16); g02 = Vector512.Load(vacc + 32);
            g03 = Vector512.Load(vacc + 48); g04 = Vector512.Load(vacc + 64); g05 = Vector512.Load(vacc + 80);
            g10 = Vector512.Load(vacc + 96); g11 = Vector512.Load(vacc + 112); g12 = Vector512.Load(vacc + 128);
            g13 = Vector512.Load(vacc + 144); g14 = Vector512.Load(vacc + 160); g15 = Vector512.Load(vacc + 176);
            g20 = Vector512.Load(vacc + 192); g21 = Vector512.Load(vacc + 208); g22 = Vector512.Load(vacc + 224);
            g23 = Vector512.Load(vacc + 240); g24 = Vector512.Load(vacc + 256); g25 = Vector512.Load(vacc + 272);
            g30 = Vector512.Load(vacc + 288); g31 = Vector512.Load(vacc + 304); g32 = Vector512.Load(vacc + 320);
            g33 = Vector512.Load(vacc + 336); g34 = Vector512.Load(vacc + 352); g35 = Vector512.Load(vacc + 368);
        }
        for (int s = 0; s < samples; s++)
        {
            for (int p = 0; p < len; p += 16)
            {
                Vector512<float> a0 = Vector512.Load(d0 + p), a1 = Vector512.Load(d1 + p);
                Vector512<float> a2 = Vector512.Load(d2 + p), a3 = Vector512.Load(d3 + p);
                Vector512<float> b;
                b = Vector512.Load(x0 + p);
                g00 = Vector512.FusedMultiplyAdd(a0, b, g00); g10 = Vector512.FusedMultiplyAdd(a1, b, g10);
                g20 = Vector512.FusedMultiplyAdd(a2, b, g20); g30 = Vector512.FusedMultiplyAdd(a3, b, g30);
                b = Vector512.Load(x1 + p);
                g01 = Vector512.FusedMultiplyAdd(a0, b, g01); g11 = Vector512.FusedMultiplyAdd(a1, b, g11);
                g21 = Vector512.FusedMultiplyAdd(a2, b, g21); g31 = Vector512.FusedMultiplyAdd(a3, b, g31);
                b = Vector512.Load(x2 + p);
                g02 = Vector512.FusedMultiplyAdd(a0, b, g02); g12 = Vector512.FusedMultiplyAdd(a1, b, g12);
                g22 = Vector512.FusedMultiplyAdd(a2, b, g22); g32 = Vector512.FusedMultiplyAdd(a3, b, g32);
                b = Vector512.Load(x3 + p);
                g03 = Vector512.FusedMultiplyAdd(a0, b, g03); g13 = Vector512.FusedMultiplyAdd(a1, b, g13);
                g23 = Vector512.FusedMultiplyAdd(a2, b, g23); g33 = Vector512.FusedMultiplyAdd(a3, b, g33);
                b = Vector512.Load(x4 + p);
                g04 = Vector512.FusedMultiplyAdd(a0, b, g04); g14 = Vector512.FusedMultiplyAdd(a1, b, g14);
                g24 = Vector512.FusedMultiplyAdd(a2, b, g24); g34 = Vector512.FusedMultiplyAdd(a3, b, g34);
                b = Vector512.Load(x5 + p);
                g05 = Vector512.FusedMultiplyAdd(a0, b, g05); g15 = Vector512.FusedMultiplyAdd(a1, b, g15);
                g25 = Vector512.FusedMultiplyAdd(a2, b, g25); g35 = Vector512.FusedMultiplyAdd(a3, b, g35);
            }
            d0 += dSample; d1 += dSample; d2 += dSample; d3 += dSample;
            x0 += xSample; x1 += xSample; x2 += xSample; x3 += xSample; x4 += xSample; x5 += xSample;
        }
        if (vacc != null)
        {
            g00.Store(vacc); g01.Store(vacc + 16); g02.Store(vacc + 32); g03.Store(vacc + 48); g04.Store(vacc + 64); g05.Store(vacc + 80);
            g10.Store(vacc + 96); g11.Store(vacc + 112); g12.Store(vacc + 128); g13.Store(vacc + 144); g14.Store(vacc + 160); g15.Store(vacc + 176);
            g20.Store(vacc + 192); g21.Store(vacc + 208); g22.Store(vacc + 224); g23.Store(vacc + 240); g24.Store(vacc + 256); g25.Store(vacc + 272);
            g30.Store(vacc + 288); g31.Store(vacc + 304); g32.Store(vacc + 320); g33.Store(vacc + 336); g34.Store(vacc + 352); g35.Store(vacc + 368);
            return;
        }
        r[0] = Vector512.Sum(g00); r[1] = Vector512.Sum(g01); r[2] = Vector512.Sum(g02);
        r[3] = Vector512.Sum(g03); r[4] = Vector512.Sum(g04); r[5] = Vector512.Sum(g05);
        r[6] = Vector512.Sum(g10); r[7] = Vector512.Sum(g11); r[8] = Vector512.Sum(g12);
        r[9] = Vector512.Sum(g13); r[10] = Vector512.Sum(g14); r[11] = Vector512.Sum(g15);
        r[12] = Vector512.Sum(g20); r[13] = Vector512.Sum(g21); r[14] = Vector512.Sum(g22);
        r[15] = Vector512.Sum(g23); r[16] = Vector512.Sum(g24); r[17] = Vector512.Sum(g25);
        r[18] = Vector512.Sum(g30); r[19] = Vector512.Sum(g31); r[20] = Vector512.Sum(g32);
        r[21] = Vector512.Sum(g33); r[22] = Vector512.Sum(g34); r[23] = Vector512.Sum(g35);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Wgt256(float* d0, float* d1, float* d2, float* d3, long dSample,
        float* x0, float* x1, float* x2, float* x3, float* x4, float* x5, long xSample, int samples, int len, float* r)
    {
        Vector256<float> g00 = default, g01 = default, g02 = default, g03 = default, g04 = default, g05 = default;
        Vector256<float> g10 = default, g11 = default, g12 = default, g13 = default, g14 = default, g15 = default;
        Vector256<float> g20 = default, g21 = default, g22 = default, g23 = default, g24 = default, g25 = default;
        Vector256<float> g30 = default, g31 = default, g32 = default, g33 = default, g34 = default, g35 = default;
        for (int s = 0; s < samples; s++)
        {
            for (int p = 0; p < len; p += 8)
            {
                Vector256<float> a0 = Vector256.Load(d0 + p), a1 = Vector256.Load(d1 + p);
                Vector256<float> a2 = Vector256.Load(d2 + p), a3 = Vector256.Load(d3 + p);
                Vector256<float> b;
                b = Vector256.Load(x0 + p);
                g00 = Vector256.FusedMultiplyAdd(a0, b, g00); g10 = Vector256.FusedMultiplyAdd(a1, b, g10);
                g20 = Vector256.FusedMultiplyAdd(a2, b, g20); g30 = Vector256.FusedMultiplyAdd(a3, b, g30);
                b = Vector256.Load(x1 + p);
                g01 = Vector256.FusedMultiplyAdd(a0, b, g01); g11 = Vector256.FusedMultiplyAdd(a1, b, g11);
                g21 = Vector256.FusedMultiplyAdd(a2, b, g21); g31 = Vector256.FusedMultiplyAdd(a3, b, g31);
                b = Vector256.Load(x2 + p);
                g02 = Vector256.FusedMultiplyAdd(a0, b, g02); g12 = Vector256.FusedMultiplyAdd(a1, b, g12);
                g22 = Vector256.FusedMultiplyAdd(a2, b, g22); g32 = Vector256.FusedMultiplyAdd(a3, b, g32);
                b = Vector256.Load(x3 + p);
                g03 = Vector256.FusedMultiplyAdd(a0, b, g03); g13 = Vector256.FusedMultiplyAdd(a1, b, g13);
                g23 = Vector256.FusedMultiplyAdd(a2, b, g23); g33 = Vector256.FusedMultiplyAdd(a3, b, g33);
                b = Vector256.Load(x4 + p);
                g04 = Vector256.FusedMultiplyAdd(a0, b, g04); g14 = Vector256.FusedMultiplyAdd(a1, b, g14);
                g24 = Vector256.FusedMultiplyAdd(a2, b, g24); g34 = Vector256.FusedMultiplyAdd(a3, b, g34);
                b = Vector256.Load(x5 + p);
                g05 = Vector256.FusedMultiplyAdd(a0, b, g05); g15 = Vector256.FusedMultiplyAdd(a1, b, g15);
                g25 = Vector256.FusedMultiplyAdd(a2, b, g25); g35 = Vector256.FusedMultiplyAdd(a3, b, g35);
            }
            d0 += dSample; d1 += dSample; d2 += dSample; d3 += dSample;
            x0 += xSample; x1 += xSample; x2 += xSample; x3 += xSample; x4 += xSample; x5 += xSample;
        }
        r[0] = Vector256.Sum(g00); r[1] = Vector256.Sum(g01); r[2] = Vector256.Sum(g02);
        r[3] = Vector256.Sum(g03); r[4] = Vector256.Sum(g04); r[5] = Vector256.Sum(g05);
        r[6] = Vector256.Sum(g10); r[7] = Vector256.Sum(g11); r[8] = Vector256.Sum(g12);
        r[9] = Vector256.Sum(g13); r[10] = Vector256.Sum(g14); r[11] = Vector256.Sum(g15);
        r[12] = Vector256.Sum(g20); r[13] = Vector256.Sum(g21); r[14] = Vector256.Sum(g22);
        r[15] = Vector256.Sum(g23); r[16] = Vector256.Sum(g24); r[17] = Vector256.Sum(g25);
        r[18] = Vector256.Sum(g30); r[19] = Vector256.Sum(g31); r[20] = Vector256.Sum(g32);
        r[21] = Vector256.Sum(g33); r[22] = Vector256.Sum(g34); r[23] = Vector256.Sum(g35);
    }
}

internal enum ConvSimd { Scalar, V256, V512 }
