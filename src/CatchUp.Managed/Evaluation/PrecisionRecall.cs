using System.Numerics.Tensors;

namespace CatchUp.Evaluation;

/// <summary>
/// Improved precision and recall (Kynkaanniemi et al. 2019). Each set's manifold is the union of balls around its
/// points whose radius is the distance to the point's k-th nearest neighbour in the same set (itself excluded).
/// Precision is the fraction of generated points inside the real manifold; recall the fraction of real points inside
/// the generated manifold. Distances are Euclidean in the feature space, in float32 as in the reference code.
/// </summary>
public static class PrecisionRecall
{
    public const int DefaultK = 3;

    /// <summary>real: [realCount, dim], fake: [fakeCount, dim], row-major. Each set needs more than k points.</summary>
    public static (double Precision, double Recall) Compute(float[] real, int realCount, float[] fake, int fakeCount, int dim,
        int k = DefaultK, int threads = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dim);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        if (real.Length != realCount * dim) throw new ArgumentException($"real: expected {realCount}x{dim} values, got {real.Length}", nameof(real));
        if (fake.Length != fakeCount * dim) throw new ArgumentException($"fake: expected {fakeCount}x{dim} values, got {fake.Length}", nameof(fake));
        if (realCount <= k || fakeCount <= k) throw new ArgumentException($"precision/recall with k = {k} needs more than {k} points in each set (real {realCount}, generated {fakeCount})");
        var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(threads, 1) };
        float[] realNorms = SquaredNorms(real, realCount, dim), fakeNorms = SquaredNorms(fake, fakeCount, dim);
        float[] realRadii = KthNeighbourSquaredDistances(real, realNorms, realCount, dim, k, options);
        float[] fakeRadii = KthNeighbourSquaredDistances(fake, fakeNorms, fakeCount, dim, k, options);

        var fakeCovered = new bool[fakeCount];
        var realCovered = new bool[realCount];
        Parallel.For(0, fakeCount, options, j =>
        {
            ReadOnlySpan<float> f = fake.AsSpan(j * dim, dim);
            bool covered = false;
            for (int i = 0; i < realCount; i++)
            {
                float d2 = SquaredDistance(f, fakeNorms[j], real.AsSpan(i * dim, dim), realNorms[i]);
                if (d2 <= realRadii[i]) covered = true;
                // Idempotent flag: concurrent writers only ever store true.
                if (d2 <= fakeRadii[j]) realCovered[i] = true;
            }
            fakeCovered[j] = covered;
        });
        return (fakeCovered.Count(c => c) / (double)fakeCount, realCovered.Count(c => c) / (double)realCount);
    }

    private static float[] SquaredNorms(float[] points, int count, int dim)
    {
        var norms = new float[count];
        for (int i = 0; i < count; i++)
        {
            ReadOnlySpan<float> p = points.AsSpan(i * dim, dim);
            norms[i] = TensorPrimitives.Dot(p, p);
        }
        return norms;
    }

    private static float SquaredDistance(ReadOnlySpan<float> a, float normA, ReadOnlySpan<float> b, float normB) =>
        Math.Max(normA + normB - 2 * TensorPrimitives.Dot(a, b), 0f);

    private static float[] KthNeighbourSquaredDistances(float[] points, float[] norms, int count, int dim, int k, ParallelOptions options)
    {
        var radii = new float[count];
        Parallel.For(0, count, options, () => new float[k], (i, _, nearest) =>
        {
            Array.Fill(nearest, float.PositiveInfinity);
            ReadOnlySpan<float> p = points.AsSpan(i * dim, dim);
            for (int j = 0; j < count; j++)
            {
                if (j == i) continue;
                float d2 = SquaredDistance(p, norms[i], points.AsSpan(j * dim, dim), norms[j]);
                if (d2 >= nearest[k - 1]) continue;
                int at = k - 1;
                while (at > 0 && nearest[at - 1] > d2)
                {
                    nearest[at] = nearest[at - 1];
                    at--;
                }
                nearest[at] = d2;
            }
            radii[i] = nearest[k - 1];
            return nearest;
        }, _ => { });
        return radii;
    }
}
