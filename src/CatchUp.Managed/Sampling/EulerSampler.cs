using CatchUp.Backends;
using CatchUp.Models;
using CatchUp.Nn;
using CatchUp.Tensors;

namespace CatchUp.Sampling;

/// <summary>Euler on dz/dt = v(z, t) from t = 1 to 0 in N uniform steps: z -= v(z, i/N) / N for i = N..1 (SPEC section 7).</summary>
public sealed class EulerSampler(SongUNet net)
{
    private Tensor? _z, _t;

    /// <summary>Integrates from noise <paramref name="z1"/>; returns x0 (sampler-owned). Head j = 1 is the main output.</summary>
    public Tensor Sample(Tensor z1, int steps, int head = 1)
    {
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), "at least one step");
        IBackend b = net.Backend;
        var z = b.Ensure(ref _z, z1.Shape);
        b.Copy(z1, z);
        var t = b.Ensure(ref _t, z1.N);
        for (int i = steps; i >= 1; i--)
        {
            b.Fill(t, i / (float)steps);
            var o = net.Forward(z, t, ForwardMode.Inference, computeHeads: head > 1);
            b.Axpby(-1f / steps, head == 1 ? o.V : o.Heads[head - 2], 1f, z);
        }
        return z;
    }
}
