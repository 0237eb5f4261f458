namespace CatchUp.Evaluation;

/// <summary>
/// Inception Score exp(E_x KL(p(y|x) || p(y))) of class probabilities, as the standard tool computes it: the samples
/// are cut into consecutive splits (10 by default), p(y) is the mean prediction within a split, and the result is the
/// mean and the (population) standard deviation of the per-split scores. Terms with p(y|x) = 0 contribute 0.
/// </summary>
public static class InceptionScore
{
    public const int DefaultSplits = 10;

    /// <summary>probs: [count, classes], each row a probability distribution. With fewer samples than splits, one split per sample is used.</summary>
    public static (double Mean, double Std) Compute(ReadOnlySpan<double> probs, int count, int classes, int splits = DefaultSplits)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(splits);
        if (probs.Length != count * classes) throw new ArgumentException($"expected {count}x{classes} probabilities, got {probs.Length}", nameof(probs));
        splits = Math.Min(splits, count);
        var scores = new double[splits];
        var marginal = new double[classes];
        for (int s = 0; s < splits; s++)
        {
            int begin = (int)((long)s * count / splits), end = (int)((long)(s + 1) * count / splits);
            Array.Clear(marginal);
            for (int i = begin; i < end; i++)
                for (int c = 0; c < classes; c++) marginal[c] += probs[i * classes + c];
            for (int c = 0; c < classes; c++) marginal[c] /= end - begin;
            double kl = 0;
            for (int i = begin; i < end; i++)
            {
                for (int c = 0; c < classes; c++)
                {
                    double p = probs[i * classes + c];
                    if (p > 0) kl += p * (Math.Log(p) - Math.Log(marginal[c]));
                }
            }
            scores[s] = Math.Exp(kl / (end - begin));
        }
        double mean = scores.Average();
        double variance = scores.Sum(x => (x - mean) * (x - mean)) / splits;
        return (mean, Math.Sqrt(variance));
    }
}
