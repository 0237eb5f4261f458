using System.Numerics.Tensors;

namespace CatchUp.Evaluation;

/// <summary>
/// Streaming mean and covariance of feature vectors in double precision. Sums are taken about the first vector seen
/// (the covariance does not depend on the shift), so a large common offset costs no precision to cancellation.
/// The covariance is the unbiased one (divided by n - 1), as numpy's <c>np.cov</c> in the reference FID code.
/// </summary>
public sealed class FeatureStatistics
{
    private readonly double[] _shift, _sum, _outer, _centred;

    public FeatureStatistics(int dim)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dim);
        Dim = dim;
        _shift = new double[dim];
        _sum = new double[dim];
        _outer = new double[dim * dim];
        _centred = new double[dim];
    }

    public int Dim { get; }
    public long Count { get; private set; }

    public static FeatureStatistics Of(ReadOnlySpan<double> features, int dim)
    {
        var s = new FeatureStatistics(dim);
        s.Add(features);
        return s;
    }

    /// <summary>Adds vectors laid out as [count, Dim].</summary>
    public void Add(ReadOnlySpan<double> features)
    {
        if (features.Length % Dim != 0) throw new ArgumentException($"{features.Length} values are not whole vectors of {Dim}", nameof(features));
        int d = Dim;
        for (int start = 0; start < features.Length; start += d)
        {
            ReadOnlySpan<double> x = features.Slice(start, d);
            if (Count == 0) x.CopyTo(_shift);
            TensorPrimitives.Subtract(x, _shift, _centred);
            TensorPrimitives.Add(_sum, _centred, _sum);
            // Upper triangle only; Covariance mirrors it.
            for (int i = 0; i < d; i++)
            {
                Span<double> row = _outer.AsSpan(i * d + i, d - i);
                TensorPrimitives.MultiplyAdd(_centred.AsSpan(i), _centred[i], row, row);
            }
            Count++;
        }
    }

    public double[] Mean()
    {
        if (Count == 0) throw new InvalidOperationException("no features were added");
        var mean = new double[Dim];
        for (int i = 0; i < Dim; i++) mean[i] = _shift[i] + _sum[i] / Count;
        return mean;
    }

    /// <summary>Row-major [Dim, Dim], symmetric; needs at least two vectors.</summary>
    public double[] Covariance()
    {
        if (Count < 2) throw new InvalidOperationException($"a covariance needs at least 2 feature vectors, got {Count}");
        int d = Dim;
        var cov = new double[d * d];
        double n = Count;
        for (int i = 0; i < d; i++)
        {
            double mi = _sum[i] / n;
            for (int j = i; j < d; j++)
            {
                double c = (_outer[i * d + j] - n * mi * (_sum[j] / n)) / (n - 1);
                cov[i * d + j] = c;
                cov[j * d + i] = c;
            }
        }
        return cov;
    }
}
