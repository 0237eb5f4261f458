namespace CatchUp.Objectives;

/// <summary>The named terms of one step's loss, in a fixed order (pre-sized, reused every step).</summary>
public sealed class LossTerms
{
    private readonly string[] _names;
    private readonly double[] _values;

    public LossTerms(params string[] names)
    {
        _names = names;
        _values = new double[names.Length];
    }

    public IReadOnlyList<string> Names => _names;
    public double this[int i] { get => _values[i]; set => _values[i] = value; }
    public double Total { get; set; }
    public int Count => _names.Length;

    public void Clear()
    {
        Array.Clear(_values);
        Total = 0;
    }
}
