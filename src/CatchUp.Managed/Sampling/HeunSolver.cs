using CatchUp.Tensors;

namespace CatchUp.Sampling;

/// <summary>
/// Heun (explicit trapezoid) with NFE = N odd: M = (N+1)/2 uniform steps of size 1/M; for i = M..1: v = v(z, i/M); if
/// i > 1, v = (v + v(z - v/M, (i-1)/M)) / 2; z -= v/M. The last step is Euler, so the NFE is 2M - 1. Global order 2.
/// The step is 1/M (the reference's catch-up class uses 1/NFE and stops short of t = 0; SPEC section 7).
/// </summary>
public sealed class HeunSolver : OdeSolver
{
    public HeunSolver(int nfe)
    {
        if (nfe < 1 || nfe % 2 == 0) throw new ArgumentOutOfRangeException(nameof(nfe), nfe, "Heun needs an odd NFE (M = (NFE+1)/2 steps)");
        Steps = (nfe + 1) / 2;
    }

    /// <summary>M = (NFE + 1) / 2.</summary>
    public int Steps { get; }
    public override string Name => "heun";

    protected override void Integrate(Tensor z, TrajectoryRecorder? recorder)
    {
        var v = Scratch(0, z);
        var predicted = Scratch(1, z);
        var vEnd = Scratch(2, z);
        int m = Steps;
        float h = 1f / m;
        for (int i = m; i >= 1; i--)
        {
            float t = i / (float)m;
            Evaluate(z, t, v);
            recorder?.Step(z, t, v);
            if (i > 1)
            {
                Backend.Copy(z, predicted);
                Backend.Axpby(-h, v, 1f, predicted);
                Evaluate(predicted, (i - 1) / (float)m, vEnd);
                Backend.AddScale(v, vEnd, 0.5f, v);
            }
            Backend.Axpby(-h, v, 1f, z);
        }
    }
}
