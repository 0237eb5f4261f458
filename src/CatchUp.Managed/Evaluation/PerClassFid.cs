namespace CatchUp.Evaluation;

/// <summary>
/// The FID of one class: the generated samples labelled <see cref="Class"/> against the real test images of that class,
/// in the same feature space as the overall FID. <see cref="Fid"/> is NaN when the class was skipped: a covariance needs
/// at least <see cref="PerClassFid.MinimumCount"/> samples on each side.
/// </summary>
public sealed record ClassFid(int Class, int Count, double Fid)
{
    public bool Scored => !double.IsNaN(Fid);
}

/// <summary>
/// Per-class FIDs of a labelled sample set: one entry for every class present among the generated samples (ascending),
/// over a label space of <see cref="Classes"/> classes (the data set's). With few samples per class (e.g. 2,000 samples
/// over 10 classes: 200 each) every per-class FID is biased upward relative to the overall one.
/// </summary>
public sealed record PerClassFid(int Classes, IReadOnlyList<ClassFid> Present)
{
    /// <summary>Samples a class needs, generated and real, to get a FID.</summary>
    public const int MinimumCount = 2;

    public IEnumerable<ClassFid> Scored => Present.Where(c => c.Scored);
    public IEnumerable<ClassFid> Skipped => Present.Where(c => !c.Scored);

    /// <summary>The mean FID over the scored classes; NaN when none was scored.</summary>
    public double MeanFid => Scored.Select(c => c.Fid).DefaultIfEmpty(double.NaN).Average();

    /// <summary>The FID of every class 0..Classes-1, NaN where none was computed.</summary>
    public double[] FidByClass() => ByClass(c => c.Fid, double.NaN);

    /// <summary>The generated samples of every class 0..Classes-1.</summary>
    public int[] CountByClass() => ByClass(c => c.Count, 0);

    private T[] ByClass<T>(Func<ClassFid, T> value, T absent)
    {
        var result = Enumerable.Repeat(absent, Classes).ToArray();
        foreach (var c in Present) result[c.Class] = value(c);
        return result;
    }

    /// <summary>The inverse of <see cref="FidByClass"/> and <see cref="CountByClass"/>: the classes with a count are present.</summary>
    public static PerClassFid FromArrays(IReadOnlyList<double> fid, IReadOnlyList<int> count)
    {
        if (fid.Count != count.Count) throw new FormatException($"{fid.Count} per-class FIDs but {count.Count} per-class counts");
        var present = Enumerable.Range(0, count.Count).Where(k => count[k] > 0).Select(k => new ClassFid(k, count[k], fid[k])).ToList();
        return new PerClassFid(count.Count, present);
    }
}
