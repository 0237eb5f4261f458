namespace CatchUp.Sampling;

/// <summary>DPM-Solver-3, multistep: the three-step Adams-Bashforth z -= h (23 v_k - 16 v_{k-1} + 5 v_{k-2}) / 12
/// (exact integral of the quadratic through the last three velocities) after a trapezoid-corrected warm-up (Euler
/// step, corrected for free once v_1 is known; then one two-step step). NFE = N; global order 3.</summary>
public sealed class DpmSolver3(int steps) : AdamsBashforthSolver(steps, order: 3, correctStart: true)
{
    public override string Name => "dpm3";
}
