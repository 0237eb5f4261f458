using CatchUp.Evaluation;
using Xunit;

namespace CatchUp.Tests.Evaluation;

public class FeatureStatisticsTests
{
    private static (double[] Mean, double[] Cov) TwoPass(double[] x, int d)
    {
        int n = x.Length / d;
        var mean = new double[d];
        for (int i = 0; i < n; i++) for (int j = 0; j < d; j++) mean[j] += x[i * d + j] / n;
        var cov = new double[d * d];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++)
                for (int k = 0; k < d; k++) cov[j * d + k] += (x[i * d + j] - mean[j]) * (x[i * d + k] - mean[k]) / (n - 1);
        return (mean, cov);
    }

    [Fact]
    public void StreamingInChunksMatchesTheTwoPassUnbiasedEstimate()
    {
        const int d = 5, n = 203;
        var rng = new Random(9);
        var x = Enumerable.Range(0, n * d).Select(_ => rng.NextDouble() * 3 - 1).ToArray();
        var s = new FeatureStatistics(d);
        s.Add(x.AsSpan(0, 7 * d));
        s.Add(x.AsSpan(7 * d, 100 * d));
        s.Add(x.AsSpan(107 * d));
        var (mean, cov) = TwoPass(x, d);
        Assert.Equal(n, s.Count);
        Assert.Equal(mean, s.Mean(), (a, b) => Math.Abs(a - b) < 1e-13);
        Assert.Equal(cov, s.Covariance(), (a, b) => Math.Abs(a - b) < 1e-13);
    }

    [Fact]
    public void ALargeCommonOffsetCostsNoPrecision()
    {
        const int d = 3, n = 1000;
        var rng = new Random(2);
        var x = Enumerable.Range(0, n * d).Select(_ => rng.NextDouble()).ToArray();
        var offset = x.Select(v => v + 1e8).ToArray();
        var a = FeatureStatistics.Of(x, d).Covariance();
        var b = FeatureStatistics.Of(offset, d).Covariance();
        // Variances of U(0,1) are ~0.083; the naive sum-of-squares formula would lose everything at 1e8.
        Assert.Equal(a, b, (p, q) => Math.Abs(p - q) < 1e-7);
    }

    [Fact]
    public void CovarianceNeedsTwoVectorsAndRowsMustBeWhole()
    {
        var s = FeatureStatistics.Of([1, 2], 2);
        Assert.Throws<InvalidOperationException>(() => s.Covariance());
        Assert.Throws<ArgumentException>(() => s.Add([1, 2, 3]));
    }
}
