using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CatchUp.Backends.Cpu.Kernels;

/// <summary>
/// Winograd minimal filtering F(m x m, 3 x 3), m in {2, 4}, tile side a = m + 2 (Lavin and Gray, 2016):
/// y = A^T [ (G g G^T) .* (B^T d B) ] A for one a x a input tile d and one 3 x 3 filter g.
/// <para>The data transforms (B^T d B of input tiles, A^T M A of products, and the weight-gradient's A dy A^T) run on
/// 16 tiles at once, one Vector512 lane per tile, as two passes of sparse coefficient terms
/// (out = L X L^T). The filter transforms (G g G^T, and G^T dU G for the weight gradient) are done once per call in
/// float64.</para>
/// </summary>
internal static unsafe class WinogradTransforms
{
    /// <summary>One non-zero coefficient c = L[o, i] of a transform matrix.</summary>
    internal readonly struct Term(int o, int i, float c)
    {
        public readonly int O = o, I = i;
        public readonly float C = c;
    }

    /// <summary>The matrices of one F(m, 3).</summary>
    internal sealed class Set
    {
        public readonly int M, A;
        /// <summary>B^T (a x a), G (a x 3), A^T (m x a), as row-major float64.</summary>
        public readonly double[] BT, G, AT;
        /// <summary>Sparse terms of B^T (a x a), A^T (m x a) and A = (A^T)^T (a x m).</summary>
        public readonly Term[] BTTerms, ATTerms, ATermsT;

        public Set(int m, double[] bt, double[] g, double[] at)
        {
            M = m; A = m + 2; BT = bt; G = g; AT = at;
            BTTerms = Terms(bt, A, A);
            ATTerms = Terms(at, M, A);
            var a = new double[A * M];
            for (int i = 0; i < M; i++)
                for (int j = 0; j < A; j++) a[j * M + i] = at[i * A + j];
            ATermsT = Terms(a, A, M);
        }

        private static Term[] Terms(double[] l, int rows, int cols)
        {
            var list = new List<Term>();
            for (int o = 0; o < rows; o++)
                for (int i = 0; i < cols; i++)
                    if (l[o * cols + i] != 0) list.Add(new Term(o, i, (float)l[o * cols + i]));
            return list.ToArray();
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

    /// <summary>
    /// y[o1, o2] = sum L[o1, i1] L[o2, i2] x[i1, i2] on 16 lanes: x is nin x nin vectors (row-major, rows
    /// <paramref name="xStride"/> floats apart: vector (i1, i2) at x + (i1 * nin + i2) * xStride), y is nout x nout
    /// vectors at y + (o1 * nout + o2) * yStride; tmp holds nout * nin vectors.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Apply(Term[] terms, int nin, int nout, float* x, long xStride, Vector512<float>* tmp, float* y, long yStride)
    {
        int tn = nout * nin;
        for (int i = 0; i < tn; i++) tmp[i] = Vector512<float>.Zero;
        fixed (Term* tp = terms)
        {
            int count = terms.Length;
            // rows: tmp[o1, i2] = sum_i1 L[o1, i1] x[i1, i2]
            for (int t = 0; t < count; t++)
            {
                var c = Vector512.Create(tp[t].C);
                Vector512<float>* dst = tmp + tp[t].O * nin;
                float* src = x + (long)tp[t].I * nin * xStride;
                for (int i2 = 0; i2 < nin; i2++)
                    dst[i2] = Vector512.FusedMultiplyAdd(c, Vector512.Load(src + i2 * xStride), dst[i2]);
            }
            // columns: y[o1, o2] = sum_i2 L[o2, i2] tmp[o1, i2]; the first term of each o2 stores, the rest accumulate
            for (int o1 = 0; o1 < nout; o1++)
            {
                Vector512<float>* row = tmp + o1 * nin;
                float* yr = y + (long)o1 * nout * yStride;
                int prev = -1;
                Vector512<float> acc = default;
                for (int t = 0; t < count; t++)
                {
                    int o2 = tp[t].O;
                    if (o2 != prev)
                    {
                        if (prev >= 0) acc.Store(yr + prev * yStride);
                        acc = Vector512<float>.Zero;
                        prev = o2;
                    }
                    acc = Vector512.FusedMultiplyAdd(Vector512.Create(tp[t].C), row[tp[t].I], acc);
                }
                if (prev >= 0) acc.Store(yr + prev * yStride);
            }
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
