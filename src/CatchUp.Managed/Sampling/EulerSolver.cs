using CatchUp.Tensors;

namespace CatchUp.Sampling;

/// <summary>Euler, N uniform steps: for i = N..1, z -= v(z, i/N) / N. NFE = N; global order 1.</summary>
public sealed class EulerSolver : OdeSolver
{
    public EulerSolver(int steps)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        Steps = steps;
    }

    public int Steps { get; }
    public override string Name => "euler";

    protected override void Integrate(Tensor z, TrajectoryRecorder? recorder)
    {
        var v = Scratch(0, z);
        for (int i = Steps; i >= 1; i--)
        {
            float t = i / (float)Steps;
            Evaluate(z, t, v);
            recorder?.Step(z, t, v);
            Backend.Axpby(-1f / Steps, v, 1f, z);
        }
    }
}
