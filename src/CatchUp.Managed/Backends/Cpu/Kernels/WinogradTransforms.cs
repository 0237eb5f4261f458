using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CatchUp.Backends.Cpu.Kernels;

/// <summary>
/// Winograd minimal filtering F(m x m, 3 x 3), m in {2, 4}, tile side a = m + 2 (Lavin and Gray, 2016):
/// y = A^T [ (G g G^T) .* (B^T d B) ] A for one a x a input tile d and one 3 x 3 filter g.
/// <para>The data transforms (B^T d B of input tiles, A^T M A of products, and the weight-gradient's A dy A^T) run on
/// 16 tiles at once, one Vector512 lane per tile, as unrolled 1-d transforms down the columns and then along the rows.
/// B^T and A^T are kept in the float64 tables for the tests and documentation; the unrolled code hard-codes them. The filter transforms (G g G^T, and G^T dU G for the weight gradient) are done once per call in
/// float64.</para>
/// </summary>
internal static unsafe class WinogradTransforms
{
    /// <summary>The matrices of one F(m, 3).</summary>
    internal sealed class Set
    {
        public readonly int M, A;
        /// <summary>B^T (a x a), G (a x 3), A^T (m x a), as row-major float64.</summary>
        public readonly double[] BT, G, AT;

        public Set(int m, double[] bt, double[] g, double[] at)
        {
            M = m; A = m + 2; BT = bt; G = g; AT = at;
        }
    }

    public static readonly Set F2 = new(2,
        [1, 0, -1, 0,
         0, 1, 1, 0,
         0, -1, 1, 0,
         0, 1, 0, -1],
        [1, 0, 0,
         0.5, 0.5, 0.5,
         0.5, -0.5, 0.5,
         0, 0, 1],
        [1, 1, 1, 0,
         0, 1, -1, -1]);

    public static readonly Set F4 = new(4,
        [4, 0, -5, 0, 1, 0,
         0, -4, -4, 1, 1, 0,
         0, 4, -4, -1, 1, 0,
         0, -2, -1, 2, 1, 0,
         0, 2, -1, -2, 1, 0,
         0, 4, 0, -5, 0, 1],
        [1.0 / 4, 0, 0,
         -1.0 / 6, -1.0 / 6, -1.0 / 6,
         -1.0 / 6, 1.0 / 6, -1.0 / 6,
         1.0 / 24, 1.0 / 12, 1.0 / 6,
         1.0 / 24, -1.0 / 12, 1.0 / 6,
         0, 0, 1],
        [1, 1, 1, 1, 1, 0,
         0, 1, -1, 2, -2, 0,
         0, 1, 1, 4, 4, 0,
         0, 1, -1, 8, -8, 1]);

    public static Set For(int m) => m == 2 ? F2 : m == 4 ? F4 : throw new ArgumentOutOfRangeException(nameof(m));

    // ---------------------------------------------------------------- unrolled 2-d transforms (16 lanes)
    // Each 1-d transform reads its n input vectors at s + k * ss and writes its outputs at d + k * ds (strides in
    // floats); the 2-d transform applies it down the columns into tmp, then along tmp's rows.

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> L(float* p) => Vector512.Load(p);

    /// <summary>B^T of F(4,3): 6 -> 6.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Bt4(float* s, long ss, float* d, long ds)
    {
        Vector512<float> d0 = L(s), d1 = L(s + ss), d2 = L(s + 2 * ss), d3 = L(s + 3 * ss), d4 = L(s + 4 * ss), d5 = L(s + 5 * ss);
        var four = Vector512.Create(4f);
        var t0 = Vector512.FusedMultiplyAdd(-four, d2, d4);
        var t1 = Vector512.FusedMultiplyAdd(-four, d1, d3);
        var t2 = d4 - d2;
        var t3 = (d3 - d1) * 2f;
        (Vector512.FusedMultiplyAdd(four, d0, Vector512.FusedMultiplyAdd(Vector512.Create(-5f), d2, d4))).Store(d);
        (t0 + t1).Store(d + ds);
        (t0 - t1).Store(d + 2 * ds);
        (t2 + t3).Store(d + 3 * ds);
        (t2 - t3).Store(d + 4 * ds);
        (Vector512.FusedMultiplyAdd(four, d1, Vector512.FusedMultiplyAdd(Vector512.Create(-5f), d3, d5))).Store(d + 5 * ds);
    }

    /// <summary>A^T of F(4,3): 6 -> 4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void At4(float* s, long ss, float* d, long ds)
    {
        Vector512<float> m0 = L(s), m1 = L(s + ss), m2 = L(s + 2 * ss), m3 = L(s + 3 * ss), m4 = L(s + 4 * ss), m5 = L(s + 5 * ss);
        var s12 = m1 + m2; var d12 = m1 - m2; var s34 = m3 + m4; var d34 = m3 - m4;
        (m0 + s12 + s34).Store(d);
        Vector512.FusedMultiplyAdd(Vector512.Create(2f), d34, d12).Store(d + ds);
        Vector512.FusedMultiplyAdd(Vector512.Create(4f), s34, s12).Store(d + 2 * ds);
        Vector512.FusedMultiplyAdd(Vector512.Create(8f), d34, d12 + m5).Store(d + 3 * ds);
    }

    /// <summary>A of F(4,3) (the weight gradient's dy transform): 4 -> 6.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void A4(float* s, long ss, float* d, long ds)
    {
        Vector512<float> y0 = L(s), y1 = L(s + ss), y2 = L(s + 2 * ss), y3 = L(s + 3 * ss);
        var e = y0 + y2; var o = y1 + y3;
        var e4 = Vector512.FusedMultiplyAdd(Vector512.Create(4f), y2, y0);
        var o8 = Vector512.FusedMultiplyAdd(Vector512.Create(8f), y3, y1 * 2f);
        y0.Store(d);
        (e + o).Store(d + ds);
        (e - o).Store(d + 2 * ds);
        (e4 + o8).Store(d + 3 * ds);
        (e4 - o8).Store(d + 4 * ds);
        y3.Store(d + 5 * ds);
    }

    /// <summary>B^T of F(2,3): 4 -> 4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Bt2(float* s, long ss, float* d, long ds)
    {
        Vector512<float> d0 = L(s), d1 = L(s + ss), d2 = L(s + 2 * ss), d3 = L(s + 3 * ss);
        (d0 - d2).Store(d);
        (d1 + d2).Store(d + ds);
        (d2 - d1).Store(d + 2 * ds);
        (d1 - d3).Store(d + 3 * ds);
    }

    /// <summary>A^T of F(2,3): 4 -> 2.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void At2(float* s, long ss, float* d, long ds)
    {
        Vector512<float> m0 = L(s), m1 = L(s + ss), m2 = L(s + 2 * ss), m3 = L(s + 3 * ss);
        (m0 + m1 + m2).Store(d);
        (m1 - m2 - m3).Store(d + ds);
    }

    /// <summary>A of F(2,3): 2 -> 4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void A2(float* s, long ss, float* d, long ds)
    {
        Vector512<float> y0 = L(s), y1 = L(s + ss);
        y0.Store(d);
        (y0 + y1).Store(d + ds);
        (y0 - y1).Store(d + 2 * ds);
        (-y1).Store(d + 3 * ds);
    }

    /// <summary>The three data transforms.</summary>
    internal enum Kind { Input, Output, OutputGradient }

    /// <summary>
    /// 2-d transform of 16 lanes: x holds nin x nin vectors (vector (i1, i2) at x + (i1 * nin + i2) * xStride), y gets
    /// nout x nout vectors at y + (o1 * nout + o2) * yStride. Input: B^T x B; Output: A^T x A; OutputGradient: A x A^T.
    /// tmp holds 36 vectors.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Transform(int m, Kind kind, float* x, long xStride, float* tmp, float* y, long yStride)
    {
        int a = m + 2;
        int nin = kind == Kind.OutputGradient ? m : a, nout = kind == Kind.Output ? m : a;
        // columns: tmp[o1][i2] = T(x[.][i2]); rows: y[o1][.] = T(tmp[o1][.])
        for (int i2 = 0; i2 < nin; i2++)
            One(m, kind, x + i2 * xStride, nin * xStride, tmp + i2 * 16, nin * 16);
        for (int o1 = 0; o1 < nout; o1++)
            One(m, kind, tmp + o1 * nin * 16, 16, y + o1 * nout * yStride, yStride);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void One(int m, Kind kind, float* s, long ss, float* d, long ds)
    {
        if (m == 4)
        {
            if (kind == Kind.Input) Bt4(s, ss, d, ds);
            else if (kind == Kind.Output) At4(s, ss, d, ds);
            else A4(s, ss, d, ds);
        }
        else
        {
            if (kind == Kind.Input) Bt2(s, ss, d, ds);
            else if (kind == Kind.Output) At2(s, ss, d, ds);
            else A2(s, ss, d, ds);
        }
    }

    /// <summary>Filter transform of w [cout][cin][3][3] (flipped and transposed to [cin][cout] when
    /// <paramref name="flipTranspose"/>: the data-gradient's kernel) into u packed for the GEMM micro-kernel:
    /// u[((xi * rowBlocks + blk) * cols + col) * 8 + r], rows r of block blk being output channels of the product.</summary>
    public static void PackFilter(Set s, float* w, int cout, int cin, bool flipTranspose, float* u)
    {
        int a = s.A, rows = flipTranspose ? cin : cout, cols = flipTranspose ? cout : cin;
        int blocks = (rows + 7) / 8, aa = a * a;
        Span<double> tmp = stackalloc double[a * 3];
        Span<double> res = stackalloc double[aa];
        for (int blk = 0; blk < blocks; blk++)
            for (int col = 0; col < cols; col++)
                for (int r = 0; r < 8; r++)
                {
                    int row = blk * 8 + r;
                    if (row >= rows)
                    {
                        for (int xi = 0; xi < aa; xi++) u[(((long)xi * blocks + blk) * cols + col) * 8 + r] = 0f;
                        continue;
                    }
                    // g[ky, kx] of the product's (row, col) kernel
                    float* g = flipTranspose ? w + ((long)col * cin + row) * 9 : w + ((long)row * cin + col) * 9;
                    for (int i = 0; i < a; i++)
                        for (int kx = 0; kx < 3; kx++)
                        {
                            double v = 0;
                            for (int ky = 0; ky < 3; ky++)
                                v += s.G[i * 3 + ky] * (flipTranspose ? g[(2 - ky) * 3 + 2 - kx] : g[ky * 3 + kx]);
                            tmp[i * 3 + kx] = v;
                        }
                    for (int i = 0; i < a; i++)
                        for (int j = 0; j < a; j++)
                        {
                            double v = 0;
                            for (int kx = 0; kx < 3; kx++) v += tmp[i * 3 + kx] * s.G[j * 3 + kx];
                            res[i * a + j] = v;
                        }
                    for (int xi = 0; xi < aa; xi++) u[(((long)xi * blocks + blk) * cols + col) * 8 + r] = (float)res[xi];
                }
    }

    /// <summary>dw[co, ci, ky, kx] += sum over (i, j) G[i, ky] G[j, kx] du[(i * a + j) * stride + co * cin + ci]: the
    /// adjoint of the filter transform.</summary>
    public static void AddFilterGradient(Set s, float* du, long stride, int cout, int cin, float* dw)
    {
        int a = s.A;
        Span<double> tmp = stackalloc double[3 * a];
        for (int co = 0; co < cout; co++)
            for (int ci = 0; ci < cin; ci++)
            {
                long at = (long)co * cin + ci;
                for (int ky = 0; ky < 3; ky++)
                    for (int j = 0; j < a; j++)
                    {
                        double v = 0;
                        for (int i = 0; i < a; i++) v += s.G[i * 3 + ky] * du[(i * a + j) * stride + at];
                        tmp[ky * a + j] = v;
                    }
                float* d = dw + at * 9;
                for (int ky = 0; ky < 3; ky++)
                    for (int kx = 0; kx < 3; kx++)
                    {
                        double v = 0;
                        for (int j = 0; j < a; j++) v += tmp[ky * a + j] * s.G[j * 3 + kx];
                        d[ky * 3 + kx] += (float)v;
                    }
            }
    }
}
