using CatchUp.Backends;
using CatchUp.Nn;
using CatchUp.Tensors;

namespace CatchUp.Models;

/// <summary>An extra output head of CUD RK23/RK34: GroupNorm -> SiLU -> Conv3x3 on the decoder features
/// (SongUNet keys <c>heads.{i}.block.0.*</c> and <c>heads.{i}.block.2.*</c>; ADM: <c>generator_list.{i}.block.*</c>).</summary>
public sealed class ExtraHead
{
    private readonly GroupNorm _norm;
    private readonly Conv2d _conv;

    public ExtraHead(ParameterSet ps, int index, int featureChannels, int outChannels)
        : this(ps, $"heads.{index}.block", featureChannels, outChannels, 1e-6f, 0, 1e-5f)
    {
    }

    /// <summary>A head named <c>{prefix}.0</c> (GroupNorm) and <c>{prefix}.2</c> (conv), e.g. ADM's MetaGenerator
    /// <c>generator_list.{i}.block</c> with GroupNorm32 (eps 1e-5, 32 groups) and a zero-initialized conv.</summary>
    public ExtraHead(ParameterSet ps, string prefix, int featureChannels, int outChannels, float eps, int groups, float convInit)
    {
        _norm = new GroupNorm(ps, prefix + ".0", featureChannels, eps, groups);
        _conv = new Conv2d(ps, prefix + ".2", featureChannels, outChannels, 3, convInit);
    }

    public Tensor Forward(Tensor features) => _conv.Forward(_norm.Forward(features, null, silu: true, DropoutSpec.None));

    /// <summary>Returns dL/dfeatures (head-owned).</summary>
    public Tensor Backward(Tensor dy) => _norm.Backward(_conv.Backward(dy)!);
}
