using CatchUp.Backends;
using CatchUp.Nn;
using CatchUp.Tensors;

namespace CatchUp.Models;

/// <summary>
/// A velocity network v(x, t[, y]) with explicit forward and backward: what objectives, samplers, the trainer,
/// distillation and checkpoints work with. <see cref="SongUNet"/> and <see cref="Adm.AdmUNet"/> implement it.
/// </summary>
public interface IVelocityNetwork : IDisposable
{
    IVelocityModelConfig ModelConfig { get; }
    ParameterSet Parameters { get; }
    IBackend Backend { get; }
    int FeatureChannels { get; }
    int HeadCount { get; }

    /// <summary>Runs the network on x [N,C,H,W] at times t [N] with class labels (exactly when the model is
    /// class-conditional: <see cref="IVelocityModelConfig.ClassCount"/> &gt; 0). Heads run when <paramref name="computeHeads"/>.</summary>
    VelocityOutput Forward(Tensor x, Tensor t, int[]? labels, ForwardMode mode, bool computeHeads = true);

    /// <summary>Backpropagates dL/dv, dL/dhead_j (entries may be null) and dL/dfeatures (optional) through the last
    /// forward pass (run with SaveForBackward); parameter gradients accumulate. Returns dL/dx when asked.</summary>
    Tensor? Backward(Tensor dv, IReadOnlyList<Tensor?>? dHeads = null, Tensor? dFeatures = null, bool needInputGrad = false);
}
