namespace CatchUp.Sampling;

/// <summary>DPM-Solver-2, multistep form of SPEC section 7: Euler from t = 1, then for i = N-1..1
/// z = z - v_i/N - D/(2N^2) with D = (v_i - v_prev) N, which is the two-step Adams-Bashforth
/// z -= h (3 v_i - v_prev) / 2. NFE = N; global order 2.</summary>
public sealed class DpmSolver2(int steps) : AdamsBashforthSolver(steps, order: 2, correctStart: false)
{
    public override string Name => "dpm2";
}
