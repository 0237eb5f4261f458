using CatchUp.Tensors;

namespace CatchUp.Sampling;

/// <summary>
/// Multistep integration by polynomial extrapolation of past velocities on the uniform grid t_k = (N-k)/N, h = 1/N,
/// one NFE per step (NFE = N). Step k integrates the Lagrange polynomial through the last q velocities exactly over
/// [t_{k+1}, t_k] (Adams-Bashforth, the "Lagrange integration" of DEIS / multistep DPM-Solver on a straight-line ODE):
/// <code>
/// q = 1: z -= h v_k
/// q = 2: z -= h (3 v_k - v_{k-1}) / 2
/// q = 3: z -= h (23 v_k - 16 v_{k-1} + 5 v_{k-2}) / 12
/// </code>
/// with q = min(order, k + 1): the first steps have fewer past velocities (warm-up).
/// </summary>
public abstract class AdamsBashforthSolver : OdeSolver
{
    private static readonly float[][] Coefficients = [[1f], [1.5f, -0.5f], [23f / 12, -16f / 12, 5f / 12]];
    private readonly int _order;
    private readonly bool _correctStart;

    /// <param name="correctStart">After v_1 is known, replace the Euler warm-up step by the trapezoid
    /// z_1 = z_0 - h (v_0 + v_1) / 2 (v_1 stays the value at the Euler point). This costs no NFE and lifts the
    /// warm-up's local error from O(h^2) to O(h^3), which an order-3 method needs to be order 3 globally.</param>
    protected AdamsBashforthSolver(int steps, int order, bool correctStart)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        Steps = steps;
        _order = order;
        _correctStart = correctStart;
    }

    public int Steps { get; }

    protected override void Integrate(Tensor z, TrajectoryRecorder? recorder)
    {
        Span<Tensor> history = [Scratch(0, z), Scratch(1, z), Scratch(2, z)]; // history[j] = v_{k-j}
        float h = 1f / Steps;
        for (int k = 0; k < Steps; k++)
        {
            var reused = history[^1];                                       // the oldest velocity's slot takes the new one
            for (int j = history.Length - 1; j > 0; j--) history[j] = history[j - 1];
            history[0] = reused;
            float t = (Steps - k) / (float)Steps;
            Evaluate(z, t, history[0]);
            if (k == 1 && _correctStart)
            {
                Backend.Axpby(0.5f * h, history[1], 1f, z);                  // z_0 - h v_0 + h (v_0 - v_1) / 2
                Backend.Axpby(-0.5f * h, history[0], 1f, z);
            }
            recorder?.Step(z, t, history[0]);
            var c = Coefficients[Math.Min(_order, k + 1) - 1];
            for (int j = 0; j < c.Length; j++) Backend.Axpby(-h * c[j], history[j], 1f, z);
        }
    }
}
