using CatchUp.Evaluation;
using Xunit;

namespace CatchUp.Tests.Evaluation;

public class PrecisionRecallTests
{
    private static float[] Line(params float[] x) => x;

    [Fact]
    public void IdenticalSetsHaveFullPrecisionAndRecall()
    {
        var rng = new Random(1);
        var points = Enumerable.Range(0, 60 * 4).Select(_ => (float)rng.NextDouble()).ToArray();
        Assert.Equal((1.0, 1.0), PrecisionRecall.Compute(points, 60, (float[])points.Clone(), 60, 4, threads: 2));
    }

    [Fact]
    public void DisjointSetsHaveNeither()
    {
        float[] real = Line(0, 1, 2, 3, 4, 5), fake = Line(100, 101, 102, 103, 104, 105);
        Assert.Equal((0.0, 0.0), PrecisionRecall.Compute(real, 6, fake, 6, 1));
    }

    [Fact]
    public void MatchesAHandWorkedOneDimensionalCase()
    {
        // Real: 0..9 (k = 3 radii: 3 at the ends' first point, 2 inside). Fake: 0..4 and 1000..1004.
        // Precision: fakes 0..4 lie on real points, the far five do not -> 0.5.
        // Recall: fake radii are 3, 2, 2, 2, 3 (and far away); fake 4 with radius 3 reaches 7 -> reals 0..7 covered -> 0.8.
        float[] real = Enumerable.Range(0, 10).Select(i => (float)i).ToArray();
        float[] fake = [0, 1, 2, 3, 4, 1000, 1001, 1002, 1003, 1004];
        var (precision, recall) = PrecisionRecall.Compute(real, 10, fake, 10, 1, k: 3);
        Assert.Equal(0.5, precision, 1e-12);
        Assert.Equal(0.8, recall, 1e-12);
    }

    [Fact]
    public void ModeDroppingLowersRecallNotPrecision()
    {
        // Real: two well separated 2-d clusters; fake: only the first cluster, slightly jittered.
        var rng = new Random(4);
        var real = new List<float>();
        var fake = new List<float>();
        for (int i = 0; i < 100; i++)
        {
            float cx = i < 50 ? 0 : 50;
            real.Add(cx + (float)rng.NextDouble()); real.Add((float)rng.NextDouble());
        }
        for (int i = 0; i < 100; i++) { fake.Add(0.1f + 0.8f * (float)rng.NextDouble()); fake.Add(0.1f + 0.8f * (float)rng.NextDouble()); }
        var (precision, recall) = PrecisionRecall.Compute(real.ToArray(), 100, fake.ToArray(), 100, 2, threads: 2);
        Assert.True(precision > 0.95, $"precision {precision}");
        Assert.InRange(recall, 0.4, 0.5);
    }

    [Fact]
    public void NeedsMoreThanKPointsPerSet()
    {
        Assert.Throws<ArgumentException>(() => PrecisionRecall.Compute([0, 1, 2], 3, [0, 1, 2, 3], 4, 1));
    }
}
