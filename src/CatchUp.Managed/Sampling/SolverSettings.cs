namespace CatchUp.Sampling;

/// <summary>Settings of the adaptive solver (rk45); the fixed-step solvers ignore them.</summary>
public sealed record SolverSettings
{
    /// <summary>Relative tolerance (SPEC section 7: 1e-5).</summary>
    public double RelativeTolerance { get; init; } = 1e-5;
    /// <summary>Absolute tolerance (SPEC section 7: 1e-5).</summary>
    public double AbsoluteTolerance { get; init; } = 1e-5;
    /// <summary>Where the adaptive integration stops (SPEC: 1e-3); one Euler step with the velocity already evaluated
    /// there (first-same-as-last, no extra NFE) then reaches t = 0.</summary>
    public double EndTime { get; init; } = 1e-3;
    /// <summary>A guard against a field the tolerances cannot be met on: more NFE than this is an error.</summary>
    public int MaxNfe { get; init; } = 100_000;

    public static SolverSettings Default { get; } = new();

    public void Validate()
    {
        if (!(RelativeTolerance > 0) || !(AbsoluteTolerance > 0)) throw new ArgumentException($"rtol and atol must be positive (got {RelativeTolerance}, {AbsoluteTolerance})");
        if (!(EndTime >= 0 && EndTime < 1)) throw new ArgumentException($"the end time must lie in [0, 1) (got {EndTime})");
        if (MaxNfe < 1) throw new ArgumentException($"MaxNfe must be positive (got {MaxNfe})");
    }
}
