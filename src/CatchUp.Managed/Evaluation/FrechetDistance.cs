using System.Numerics.Tensors;

namespace CatchUp.Evaluation;

/// <summary>
/// The Frechet distance between Gaussians fitted to two feature sets (FID when the features are Inception's):
/// |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr sqrtm(S1 S2). The last trace is taken as tr sqrtm(S1^1/2 S2 S1^1/2), a
/// symmetric positive semi-definite matrix with the same eigenvalues as S1 S2, so it needs only symmetric
/// eigen-decompositions and no complex arithmetic; eigenvalues that rounding pushes below zero count as zero.
/// </summary>
public static class FrechetDistance
{
    public static double Compute(FeatureStatistics a, FeatureStatistics b)
    {
        if (a.Dim != b.Dim) throw new ArgumentException($"feature dimensions differ: {a.Dim} vs {b.Dim}");
        return Compute(a.Mean(), a.Covariance(), b.Mean(), b.Covariance(), a.Dim);
    }

    public static double Compute(ReadOnlySpan<double> mu1, ReadOnlySpan<double> cov1, ReadOnlySpan<double> mu2, ReadOnlySpan<double> cov2, int dim)
    {
        if (mu1.Length != dim || mu2.Length != dim || cov1.Length != dim * dim || cov2.Length != dim * dim)
            throw new ArgumentException($"means must have {dim} values and covariances {dim}x{dim}");
        double meanTerm = TensorPrimitives.Dot(mu1, mu1) + TensorPrimitives.Dot(mu2, mu2) - 2 * TensorPrimitives.Dot(mu1, mu2);
        double trace1 = 0, trace2 = 0;
        for (int i = 0; i < dim; i++)
        {
            trace1 += cov1[i * dim + i];
            trace2 += cov2[i * dim + i];
        }
        double[] root1 = SymmetricEigen.SqrtPsd(cov1, dim);
        double[] product = Multiply(Multiply(root1, cov2, dim), root1, dim);
        double traceSqrt = 0;
        foreach (double l in SymmetricEigen.Decompose(product, dim).Values) traceSqrt += Math.Sqrt(Math.Max(l, 0));
        // The squared mean difference is computed from dot products, which can round a hair below zero.
        return Math.Max(meanTerm, 0) + trace1 + trace2 - 2 * traceSqrt;
    }

    /// <summary>Row-major C = A B for n x n matrices.</summary>
    internal static double[] Multiply(ReadOnlySpan<double> a, ReadOnlySpan<double> b, int n)
    {
        var c = new double[n * n];
        for (int i = 0; i < n; i++)
        {
            Span<double> row = c.AsSpan(i * n, n);
            for (int k = 0; k < n; k++)
                TensorPrimitives.MultiplyAdd(b.Slice(k * n, n), a[i * n + k], row, row);
        }
        return c;
    }
}
