using System.Numerics.Tensors;

namespace CatchUp.Evaluation;

/// <summary>
/// Eigen-decomposition of a real symmetric matrix, A = V diag(values) V^T, by Householder tridiagonalization
/// and the implicit QL algorithm (tred2/tql2 of EISPACK, as in JAMA), in double precision.
/// Matrices are row-major n x n arrays.
/// </summary>
public sealed class SymmetricEigen
{
    private SymmetricEigen(double[] values, double[] vectors, int n)
    {
        Values = values;
        Vectors = vectors;
        N = n;
    }

    public int N { get; }
    /// <summary>Eigenvalues in ascending order.</summary>
    public double[] Values { get; }
    /// <summary>Row-major n x n; column j is the unit eigenvector of <see cref="Values"/>[j].</summary>
    public double[] Vectors { get; }

    public static SymmetricEigen Decompose(ReadOnlySpan<double> matrix, int n)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n));
        if (matrix.Length != n * n) throw new ArgumentException($"a {n}x{n} matrix needs {n * n} values, got {matrix.Length}", nameof(matrix));
        foreach (double v in matrix)
            if (!double.IsFinite(v)) throw new ArgumentException("the matrix holds a non-finite value", nameof(matrix));

        var v2 = new double[n * n];
        // Symmetrize: rounding in the caller's products can leave A slightly asymmetric.
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                v2[i * n + j] = 0.5 * (matrix[i * n + j] + matrix[j * n + i]);
        var d = new double[n];
        var e = new double[n];
        // Both stages work on W = V^T: the columns of V they walk are then contiguous rows.
        var w = v2;
        Tridiagonalize(w, d, e, n);
        DiagonalizeTridiagonal(w, d, e, n);
        SortAscending(w, d, n);
        return new SymmetricEigen(d, Transpose(w, n), n);
    }

    /// <summary>The symmetric square root of a positive semi-definite matrix; eigenvalues below zero (rounding) count as zero.</summary>
    public static double[] SqrtPsd(ReadOnlySpan<double> matrix, int n) => Decompose(matrix, n).Reconstruct(l => Math.Sqrt(Math.Max(l, 0)));

    /// <summary>V diag(f(values)) V^T.</summary>
    public double[] Reconstruct(Func<double, double> f)
    {
        int n = N;
        var fl = new double[n];
        for (int j = 0; j < n; j++) fl[j] = f(Values[j]);
        var result = new double[n * n];
        var scaled = new double[n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++) scaled[j] = Vectors[i * n + j] * fl[j];
            for (int k = i; k < n; k++)
            {
                double s = TensorPrimitives.Dot(scaled, Vectors.AsSpan(k * n, n));
                result[i * n + k] = s;
                result[k * n + i] = s;
            }
        }
        return result;
    }

    private static double[] Transpose(double[] a, int n)
    {
        var t = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                t[j * n + i] = a[i * n + j];
        return t;
    }

    /// <summary>Householder reduction to tridiagonal form (tred2), on W = V^T so that the inner loops, which walk
    /// columns of V, run along contiguous rows: on exit W holds the transposed orthogonal transform, d the diagonal
    /// and e[1..n-1] the sub-diagonal. On entry W = A^T = A.</summary>
    private static void Tridiagonalize(double[] W, double[] d, double[] e, int n)
    {
        for (int j = 0; j < n; j++) d[j] = W[j * n + (n - 1)];
        for (int i = n - 1; i > 0; i--)
        {
            double scale = 0, h = 0;
            for (int k = 0; k < i; k++) scale += Math.Abs(d[k]);
            if (scale == 0)
            {
                e[i] = d[i - 1];
                for (int j = 0; j < i; j++)
                {
                    d[j] = W[j * n + (i - 1)];
                    W[j * n + i] = 0;
                    W[i * n + j] = 0;
                }
            }
            else
            {
                for (int k = 0; k < i; k++)
                {
                    d[k] /= scale;
                    h += d[k] * d[k];
                }
                double f = d[i - 1];
                double g = Math.Sqrt(h);
                if (f > 0) g = -g;
                e[i] = scale * g;
                h -= f * g;
                d[i - 1] = f - g;
                for (int j = 0; j < i; j++) e[j] = 0;
                for (int j = 0; j < i; j++)
                {
                    f = d[j];
                    W[i * n + j] = f;
                    g = e[j] + W[j * n + j] * f;
                    ReadOnlySpan<double> row = W.AsSpan(j * n + j + 1, i - 1 - j);
                    g += TensorPrimitives.Dot(row, d.AsSpan(j + 1, row.Length));
                    Span<double> eTail = e.AsSpan(j + 1, row.Length);
                    TensorPrimitives.MultiplyAdd(row, f, eTail, eTail);
                    e[j] = g;
                }
                f = 0;
                for (int j = 0; j < i; j++)
                {
                    e[j] /= h;
                    f += e[j] * d[j];
                }
                double hh = f / (h + h);
                for (int j = 0; j < i; j++) e[j] -= hh * d[j];
                for (int j = 0; j < i; j++)
                {
                    f = d[j];
                    g = e[j];
                    Span<double> row = W.AsSpan(j * n + j, i - j);
                    TensorPrimitives.MultiplyAdd(e.AsSpan(j, i - j), -f, row, row);
                    TensorPrimitives.MultiplyAdd(d.AsSpan(j, i - j), -g, row, row);
                    d[j] = W[j * n + (i - 1)];
                    W[j * n + i] = 0;
                }
            }
            d[i] = h;
        }
        for (int i = 0; i < n - 1; i++)
        {
            W[i * n + (n - 1)] = W[i * n + i];
            W[i * n + i] = 1;
            double h = d[i + 1];
            if (h != 0)
            {
                for (int k = 0; k <= i; k++) d[k] = W[(i + 1) * n + k] / h;
                ReadOnlySpan<double> pivot = W.AsSpan((i + 1) * n, i + 1), dHead = d.AsSpan(0, i + 1);
                for (int j = 0; j <= i; j++)
                {
                    Span<double> row = W.AsSpan(j * n, i + 1);
                    TensorPrimitives.MultiplyAdd(dHead, -TensorPrimitives.Dot(pivot, row), row, row);
                }
            }
            for (int k = 0; k <= i; k++) W[(i + 1) * n + k] = 0;
        }
        for (int j = 0; j < n; j++)
        {
            d[j] = W[j * n + (n - 1)];
            W[j * n + (n - 1)] = 0;
        }
        W[(n - 1) * n + (n - 1)] = 1;
        e[0] = 0;
    }

    /// <summary>Implicit QL iterations on the tridiagonal matrix (tql2), applied to W = V^T (row i of W is column i of V).</summary>
    private static void DiagonalizeTridiagonal(double[] W, double[] d, double[] e, int n)
    {
        for (int i = 1; i < n; i++) e[i - 1] = e[i];
        e[n - 1] = 0;
        double f = 0, tst1 = 0;
        const double eps = 2.220446049250313e-16;
        int maxIterations = 64 * n;
        var scratch = new double[n];
        for (int l = 0; l < n; l++)
        {
            tst1 = Math.Max(tst1, Math.Abs(d[l]) + Math.Abs(e[l]));
            int m = l;
            while (m < n - 1 && Math.Abs(e[m]) > eps * tst1) m++;
            if (m > l)
            {
                int iterations = 0;
                do
                {
                    if (++iterations > maxIterations) throw new ArithmeticException("symmetric eigen-decomposition did not converge");
                    double g = d[l];
                    double p = (d[l + 1] - g) / (2 * e[l]);
                    double r = double.Hypot(p, 1);
                    if (p < 0) r = -r;
                    d[l] = e[l] / (p + r);
                    d[l + 1] = e[l] * (p + r);
                    double dl1 = d[l + 1];
                    double h = g - d[l];
                    for (int i = l + 2; i < n; i++) d[i] -= h;
                    f += h;
                    p = d[m];
                    double c = 1, c2 = 1, c3 = 1, s = 0, s2 = 0;
                    double el1 = e[l + 1];
                    for (int i = m - 1; i >= l; i--)
                    {
                        c3 = c2;
                        c2 = c;
                        s2 = s;
                        g = c * e[i];
                        h = c * p;
                        r = double.Hypot(p, e[i]);
                        e[i + 1] = s * r;
                        s = e[i] / r;
                        c = p / r;
                        p = c * d[i] - s * g;
                        d[i + 1] = h + s * (c * g + s * d[i]);
                        // (w_i, w_i+1) <- (c w_i - s w_i+1, s w_i + c w_i+1)
                        Span<double> wi = W.AsSpan(i * n, n), wi1 = W.AsSpan((i + 1) * n, n);
                        wi1.CopyTo(scratch);
                        TensorPrimitives.Multiply(wi1, c, wi1);
                        TensorPrimitives.MultiplyAdd(wi, s, wi1, wi1);
                        TensorPrimitives.Multiply(wi, c, wi);
                        TensorPrimitives.MultiplyAdd(scratch, -s, wi, wi);
                    }
                    p = -s * s2 * c3 * el1 * e[l] / dl1;
                    e[l] = s * p;
                    d[l] = c * p;
                } while (Math.Abs(e[l]) > eps * tst1);
            }
            d[l] += f;
            e[l] = 0;
        }
    }

    private static void SortAscending(double[] W, double[] d, int n)
    {
        var row = new double[n];
        for (int i = 0; i < n - 1; i++)
        {
            int k = i;
            for (int j = i + 1; j < n; j++)
                if (d[j] < d[k]) k = j;
            if (k == i) continue;
            (d[k], d[i]) = (d[i], d[k]);
            W.AsSpan(i * n, n).CopyTo(row);
            W.AsSpan(k * n, n).CopyTo(W.AsSpan(i * n, n));
            row.CopyTo(W.AsSpan(k * n, n));
        }
    }
}
