using CatchUp.Tensors;

namespace CatchUp.Sampling;

/// <summary>Host copies of a solve's trajectory: z at the start of every step and at the end (<see cref="Z"/>,
/// steps + 1 entries), the x0 estimate x0_hat = z - t v at the start of every step (<see cref="X0Hat"/>), and the
/// times (<see cref="Times"/>, steps + 1 entries, from 1 down to 0).</summary>
public sealed class TrajectoryRecorder
{
    public List<float[]> Z { get; } = [];
    public List<float[]> X0Hat { get; } = [];
    public List<double> Times { get; } = [];

    public int Steps => X0Hat.Count;

    /// <summary>The start of a step at time t, where the velocity is v.</summary>
    public void Step(Tensor z, double t, Tensor v)
    {
        var zHost = z.ToArray();
        var x0 = v.ToArray();
        for (int i = 0; i < x0.Length; i++) x0[i] = (float)(zHost[i] - t * x0[i]);
        Z.Add(zHost);
        X0Hat.Add(x0);
        Times.Add(t);
    }

    public void Finish(Tensor z, double t)
    {
        Z.Add(z.ToArray());
        Times.Add(t);
    }

    public void Clear()
    {
        Z.Clear();
        X0Hat.Clear();
        Times.Clear();
    }
}
