using CatchUp.Evaluation;
using Xunit;
using static CatchUp.Tests.Evaluation.MatrixTestKit;

namespace CatchUp.Tests.Evaluation;

public class FrechetDistanceTests
{
    [Fact]
    public void DiagonalCovariancesMatchTheClosedForm()
    {
        double[] mu1 = [0, 1, -2], mu2 = [0.5, 1, 0];
        double[] s1 = [1, 4, 0.25], s2 = [2, 1, 0.25];
        double expected = 0.25 + 0 + 4;
        for (int i = 0; i < 3; i++) expected += s1[i] + s2[i] - 2 * Math.Sqrt(s1[i] * s2[i]);
        Assert.Equal(expected, FrechetDistance.Compute(mu1, Diagonal(s1), mu2, Diagonal(s2), 3), 1e-12);
    }

    [Theory]
    [InlineData(0.3)]
    [InlineData(1.2)]
    public void RotatedCovariancesMatchTheTwoByTwoClosedForm(double angle)
    {
        // S1 S2 is not symmetric here; for a 2x2 M with positive eigenvalues, tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)).
        int n = 2;
        double[] s1 = Diagonal(3, 0.5);
        var r = Rotation(n, 0, 1, angle);
        double[] s2 = Multiply(Multiply(r, Diagonal(2, 0.1), n), Transpose(r, n), n);
        double[] m = Multiply(s1, s2, n);
        double det = m[0] * m[3] - m[1] * m[2];
        double traceSqrt = Math.Sqrt(m[0] + m[3] + 2 * Math.Sqrt(det));
        double[] mu1 = [1, 2], mu2 = [-1, 2.5];
        double expected = 4 + 0.25 + (3 + 0.5) + (2 + 0.1) - 2 * traceSqrt;
        Assert.Equal(expected, FrechetDistance.Compute(mu1, s1, mu2, s2, n), 1e-10);
    }

    [Fact]
    public void BlockRotatedHighDimensionalCovariancesAddUpBlockByBlock()
    {
        // 16 independent 2x2 blocks: the distance is the sum of the 2x2 closed forms.
        const int blocks = 16, n = 2 * blocks;
        var s1 = new double[n * n];
        var s2 = new double[n * n];
        double expected = 0;
        for (int b = 0; b < blocks; b++)
        {
            double a1 = 0.5 + b * 0.1, a2 = 1.5 - b * 0.05, angle = 0.2 * b;
            double c = Math.Cos(angle), s = Math.Sin(angle);
            // Block of S1 = diag(a1, a2); block of S2 = R diag(a2, a1) R^T.
            double p = a2 * c * c + a1 * s * s, q = (a2 - a1) * c * s, rr = a2 * s * s + a1 * c * c;
            int i = 2 * b;
            s1[i * n + i] = a1; s1[(i + 1) * n + i + 1] = a2;
            s2[i * n + i] = p; s2[i * n + i + 1] = q; s2[(i + 1) * n + i] = q; s2[(i + 1) * n + i + 1] = rr;
            double m00 = a1 * p, m11 = a2 * rr, det = a1 * a2 * (p * rr - q * q);
            expected += a1 + a2 + p + rr - 2 * Math.Sqrt(m00 + m11 + 2 * Math.Sqrt(det));
        }
        var zero = new double[n];
        Assert.Equal(expected, FrechetDistance.Compute(zero, s1, zero, s2, n), 1e-9);
    }

    [Fact]
    public void IdenticalStatisticsGiveZeroAndShiftedMeansGiveTheSquaredShift()
    {
        int n = 48;
        double[] s = RandomSpd(n, 11);
        double[] mu = Enumerable.Range(0, n).Select(i => Math.Sin(i)).ToArray();
        Assert.Equal(0, FrechetDistance.Compute(mu, s, mu, s, n), 1e-9);
        double[] shifted = mu.Select((v, i) => v + (i == 3 ? 2.0 : 0)).ToArray();
        Assert.Equal(4, FrechetDistance.Compute(mu, s, shifted, s, n), 1e-9);
    }

    [Fact]
    public void SampledGaussiansApproachTheDistanceOfTheirPopulations()
    {
        // N(0, I) vs N(m, 4 I) in 4-d: FID = |m|^2 + 4 * (1 + 4 - 2 * 2) = |m|^2 + 4.
        const int d = 4, count = 40000;
        var rng = new Random(3);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        double[] m = [1, 0, -1, 0.5];
        var a = new FeatureStatistics(d);
        var b = new FeatureStatistics(d);
        var row = new double[d];
        for (int i = 0; i < count; i++)
        {
            for (int j = 0; j < d; j++) row[j] = Normal();
            a.Add(row);
            for (int j = 0; j < d; j++) row[j] = m[j] + 2 * Normal();
            b.Add(row);
        }
        Assert.Equal(2.25 + 4, FrechetDistance.Compute(a, b), 0.1);
    }

    [Fact]
    public void IdenticalFeatureSetsGiveZero()
    {
        var rng = new Random(8);
        var features = Enumerable.Range(0, 500 * 8).Select(i => rng.NextDouble() + (i % 8) * 0.1).ToArray();
        Assert.Equal(0, FrechetDistance.Compute(FeatureStatistics.Of(features, 8), FeatureStatistics.Of(features, 8)), 1e-9);
    }

    [Fact]
    public void IdenticalRankDeficientSetsGiveZeroUpToSquareRootRounding()
    {
        // sin((8r + j) 0.37) spans a 2-d subspace of the 8-d space: six eigenvalues are zero up to rounding (~1e-16),
        // and their square roots (~1e-8) bound how close to zero the distance can come.
        var features = Enumerable.Range(0, 500 * 8).Select(i => Math.Sin(i * 0.37) + (i % 8) * 0.1).ToArray();
        double fid = FrechetDistance.Compute(FeatureStatistics.Of(features, 8), FeatureStatistics.Of(features, 8));
        Assert.InRange(fid, -1e-6, 1e-6);
    }
}
