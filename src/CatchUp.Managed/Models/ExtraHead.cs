using CatchUp.Backends;
using CatchUp.Nn;
using CatchUp.Tensors;

namespace CatchUp.Models;

/// <summary>An extra output head of CUD RK23/RK34: GroupNorm -> SiLU -> Conv3x3 on the decoder features
/// (keys <c>heads.{i}.block.0.*</c> and <c>heads.{i}.block.2.*</c>).</summary>
public sealed class ExtraHead
{
    private readonly GroupNorm _norm;
    private readonly Conv2d _conv;

    public ExtraHead(ParameterSet ps, int index, int featureChannels, int outChannels)
    {
        _norm = new GroupNorm(ps, $"heads.{index}.block.0", featureChannels, 1e-6f);
        _conv = new Conv2d(ps, $"heads.{index}.block.2", featureChannels, outChannels, 3, 1e-5f);
    }

    public Tensor Forward(Tensor features) => _conv.Forward(_norm.Forward(features, null, silu: true, DropoutSpec.None));

    /// <summary>Returns dL/dfeatures (head-owned).</summary>
    public Tensor Backward(Tensor dy) => _norm.Backward(_conv.Backward(dy)!);
}
