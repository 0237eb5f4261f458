using CatchUp.Backends;
using CatchUp.Tensors;

namespace CatchUp.Sampling;

/// <summary>The right-hand side of dz/dt = v(z, t): what every ODE solver integrates.</summary>
public interface IVelocityField
{
    /// <summary>The backend that owns every tensor passed to <see cref="Evaluate"/>.</summary>
    IBackend Backend { get; }

    /// <summary>Writes v(z, t) into <paramref name="v"/> (same shape as <paramref name="z"/>); t is [N], one time per sample.</summary>
    void Evaluate(Tensor z, Tensor t, Tensor v);
}
