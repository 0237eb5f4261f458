using CatchUp.Evaluation;
using Xunit;

namespace CatchUp.Tests.Evaluation;

public class InceptionScoreTests
{
    [Fact]
    public void UniformPredictionsScoreOne()
    {
        const int n = 100, k = 10;
        var probs = Enumerable.Repeat(1.0 / k, n * k).ToArray();
        var (mean, std) = InceptionScore.Compute(probs, n, k);
        Assert.Equal(1, mean, 1e-12);
        Assert.Equal(0, std, 1e-12);
    }

    [Fact]
    public void ConfidentBalancedPredictionsScoreTheNumberOfClasses()
    {
        const int n = 200, k = 10;
        var probs = new double[n * k];
        for (int i = 0; i < n; i++) probs[i * k + i % k] = 1;
        var (mean, std) = InceptionScore.Compute(probs, n, k);
        Assert.Equal(k, mean, 1e-9);
        Assert.Equal(0, std, 1e-9);
    }

    [Fact]
    public void ConfidentPredictionsOfOneClassScoreOne()
    {
        const int n = 50, k = 4;
        var probs = new double[n * k];
        for (int i = 0; i < n; i++) probs[i * k + 2] = 1;
        Assert.Equal(1, InceptionScore.Compute(probs, n, k).Mean, 1e-12);
    }

    [Fact]
    public void MatchesAHandComputedTwoClassSplit()
    {
        // One split of two samples: p = [0.9, 0.1] and [0.2, 0.8]; marginal [0.55, 0.45].
        double[] probs = [0.9, 0.1, 0.2, 0.8];
        double kl1 = 0.9 * Math.Log(0.9 / 0.55) + 0.1 * Math.Log(0.1 / 0.45);
        double kl2 = 0.2 * Math.Log(0.2 / 0.55) + 0.8 * Math.Log(0.8 / 0.45);
        var (mean, std) = InceptionScore.Compute(probs, 2, 2, splits: 1);
        Assert.Equal(Math.Exp((kl1 + kl2) / 2), mean, 1e-12);
        Assert.Equal(0, std);
    }

    [Fact]
    public void StdIsTheSpreadOfConsecutiveSplits()
    {
        // First half: confident over 2 classes (IS 2); second half: uniform (IS 1). Two splits: mean 1.5, std 0.5.
        const int k = 2;
        double[] probs = [1, 0, 0, 1, 0.5, 0.5, 0.5, 0.5];
        var (mean, std) = InceptionScore.Compute(probs, 4, k, splits: 2);
        Assert.Equal(1.5, mean, 1e-12);
        Assert.Equal(0.5, std, 1e-12);
    }
}
