namespace CatchUp.Sampling;

/// <summary>DEIS-2 (tAB-DEIS with a degree-2 polynomial, as DEIS counts it): the same three-point Lagrange
/// integration as <see cref="DpmSolver3"/>, z -= h (23 v_k - 16 v_{k-1} + 5 v_{k-2}) / 12, but with DEIS's plain
/// lower-order warm-up (an Euler step, then a two-step step). NFE = N. The uncorrected Euler warm-up's O(h^2) local
/// error bounds the global order at 2 as h -> 0, although at practical N its error is far below dpm2's.</summary>
public sealed class Deis2Solver(int steps) : AdamsBashforthSolver(steps, order: 3, correctStart: false)
{
    public override string Name => "deis2";
}
