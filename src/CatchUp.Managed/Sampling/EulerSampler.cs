using CatchUp.Models;
using CatchUp.Tensors;

namespace CatchUp.Sampling;

/// <summary>Euler on dz/dt = v(z, t) from t = 1 to 0 in N uniform steps: z -= v(z, i/N) / N for i = N..1 (SPEC section 7),
/// on a network and a tensor that stays with the caller's backend (trainer sample grids).</summary>
public sealed class EulerSampler(IVelocityNetwork net)
{
    private Tensor? _z;

    /// <summary>Integrates from noise <paramref name="z1"/>; returns x0 (sampler-owned). Head j = 1 is the main output.</summary>
    public Tensor Sample(Tensor z1, int steps, int head = 1, int[]? labels = null)
    {
        var z = net.Backend.Ensure(ref _z, z1.Shape);
        net.Backend.Copy(z1, z);
        using var solver = new EulerSolver(steps);
        solver.Solve(new NetworkVelocityField(net, head, labels), z);
        return z;
    }
}
