using CatchUp.Backends;
using CatchUp.Tensors;

namespace CatchUp.Nn;

/// <summary>The UNet block's one-head attention: h + proj(attend(qkv(norm2(h)))), both scaled by skip_scale.</summary>
public sealed class SelfAttention
{
    private readonly IBackend _b;
    private readonly FlopTally _flops;
    private readonly GroupNorm _norm2;
    private readonly Conv2d _qkv, _proj;
    private readonly float _skipScale;
    private Tensor? _h, _qkvOut, _att, _probs, _out, _dRes, _dqkv;

    public SelfAttention(ParameterSet ps, string prefix, int channels, float eps, float skipScale)
    {
        _b = ps.Backend;
        _flops = ps.Flops;
        _skipScale = skipScale;
        _norm2 = new GroupNorm(ps, prefix + ".norm2", channels, eps);
        _qkv = new Conv2d(ps, prefix + ".qkv", channels, channels * 3, 1, MathF.Sqrt(0.2f));
        _proj = new Conv2d(ps, prefix + ".proj", channels, channels, 1, 1e-5f);
    }

    public Tensor Forward(Tensor h, bool save)
    {
        _h = h;
        var normed = _norm2.Forward(h, null, silu: false, DropoutSpec.None);
        _qkvOut = _qkv.Forward(normed);
        var att = _b.Ensure(ref _att, h.Shape);
        var probs = save ? _b.Ensure(ref _probs, h.N, h.H * h.W, h.H * h.W) : null;
        _b.AttentionForward(_qkvOut, att, probs);
        _flops.Add(4L * h.C * h.H * h.W * h.H * h.W * h.N);
        var p = _proj.Forward(att);
        var y = _b.Ensure(ref _out, h.Shape);
        _b.AddScale(p, h, _skipScale, y);
        return y;
    }

    /// <summary>Returns dL/dh (owned by this layer).</summary>
    public Tensor Backward(Tensor dy)
    {
        var dRes = _b.Ensure(ref _dRes, dy.Shape);
        _b.Axpby(_skipScale, dy, 0f, dRes);
        var dAtt = _proj.Backward(dRes)!;
        var dqkv = _b.Ensure(ref _dqkv, _qkvOut!.Shape);
        _b.AttentionBackward(_qkvOut, _probs!, dAtt, dqkv);
        var dNormed = _qkv.Backward(dqkv)!;
        var dh = _norm2.Backward(dNormed);
        _b.Axpby(1f, dRes, 1f, dh);
        return dh;
    }
}
