using CatchUp.Backends;
using CatchUp.Models;
using CatchUp.Nn;
using CatchUp.Tensors;

namespace CatchUp.Sampling;

/// <summary>A velocity network as a velocity field (inference mode, no dropout). Head 1 is the main output V; head j = 2, 3
/// is the extra head <c>heads.{j-2}</c> (SPEC section 5).</summary>
public sealed class NetworkVelocityField : IVelocityField
{
    private readonly IVelocityNetwork _net;

    /// <param name="labels">The batch's class labels for a class-conditional network (one per sample), else null.</param>
    public NetworkVelocityField(IVelocityNetwork net, int head = 1, int[]? labels = null)
    {
        if (head < 1 || head > net.HeadCount + 1)
            throw new ArgumentOutOfRangeException(nameof(head), head, $"the model has {HeadOptions(net)}");
        _net = net;
        Head = head;
        Labels = labels;
    }

    public int Head { get; }
    /// <summary>Class labels of the batch being integrated (class-conditional networks).</summary>
    public int[]? Labels { get; set; }
    public IBackend Backend => _net.Backend;

    /// <summary>"head 1 only" or "heads 1..k": the choices a model offers, for error messages.</summary>
    public static string HeadOptions(IVelocityNetwork net) => net.HeadCount == 0 ? "head 1 only (no extra heads)" : $"heads 1..{net.HeadCount + 1}";

    public void Evaluate(Tensor z, Tensor t, Tensor v)
    {
        var output = _net.Forward(z, t, Labels, ForwardMode.Inference, computeHeads: Head > 1);
        _net.Backend.Copy(Head == 1 ? output.V : output.Heads[Head - 2], v);
    }
}
