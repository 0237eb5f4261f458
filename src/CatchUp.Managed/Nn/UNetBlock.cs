using CatchUp.Backends;
using CatchUp.Tensors;

namespace CatchUp.Nn;

/// <summary>
/// DDPM++ residual block (SPEC section 5):
/// h = conv0(silu(norm0(x))); h = silu(norm1(h + affine(emb))); h = conv1(dropout(h));
/// h = (h + skip(x)) * sqrt(1/2); optionally followed by one-head self-attention.
/// </summary>
public sealed class UNetBlock
{
    private const float Eps = 1e-6f;
    private static readonly float SkipScale = MathF.Sqrt(0.5f);
    private readonly IBackend _b;
    private readonly GroupNorm _norm0, _norm1;
    private readonly Conv2d _conv0, _conv1;
    private readonly Linear _affine;
    private readonly Conv2d? _skip;
    private readonly SelfAttention? _attention;
    private readonly float _dropout;
    private readonly ulong _dropoutStream;
    private Tensor? _h, _dh1, _dShift;

    public UNetBlock(ParameterSet ps, string name, int inChannels, int outChannels, int embChannels, float dropout,
        bool up = false, bool down = false, bool attention = false)
    {
        _b = ps.Backend;
        Name = name;
        In = inChannels; Out = outChannels;
        _dropout = dropout;
        _dropoutStream = CounterRng.StableHash(name);
        _norm0 = new GroupNorm(ps, name + ".norm0", inChannels, Eps);
        _conv0 = new Conv2d(ps, name + ".conv0", inChannels, outChannels, 3, 1f, up, down);
        _affine = new Linear(ps, name + ".affine", embChannels, outChannels, 1f);
        _norm1 = new GroupNorm(ps, name + ".norm1", outChannels, Eps);
        _conv1 = new Conv2d(ps, name + ".conv1", outChannels, outChannels, 3, 1e-5f);
        if (inChannels != outChannels || up || down)
            _skip = new Conv2d(ps, name + ".skip", inChannels, outChannels, 1, 1f, up, down);
        if (attention) _attention = new SelfAttention(ps, name, outChannels, Eps, SkipScale);
    }

    public string Name { get; }
    public int In { get; }
    public int Out { get; }
    public bool HasAttention => _attention is not null;

    public Tensor Forward(Tensor x, Tensor emb, ForwardMode mode)
    {
        var a0 = _norm0.Forward(x, null, silu: true, DropoutSpec.None);
        var h0 = _conv0.Forward(a0);
        var shift = _affine.Forward(emb);
        var dropout = mode.Dropout && _dropout > 0 ? new DropoutSpec(_dropout, CounterRng.Skip(CounterRng.Hash(mode.Seed, _dropoutStream), mode.SampleOffset * h0.SampleSize)) : DropoutSpec.None;
        var a1 = _norm1.Forward(h0, shift, silu: true, dropout);
        var h1 = _conv1.Forward(a1);
        var s = _skip?.Forward(x) ?? x;
        var h = _b.Ensure(ref _h, h1.Shape);
        _b.AddScale(h1, s, SkipScale, h);
        return _attention?.Forward(h, mode.SaveForBackward) ?? h;
    }

    /// <summary>Accumulates parameter gradients, adds this block's dL/demb into <paramref name="dEmb"/>, returns dL/dx (block-owned).</summary>
    public Tensor Backward(Tensor dy, Tensor dEmb)
    {
        var dh = _attention?.Backward(dy) ?? dy;
        var dh1 = _b.Ensure(ref _dh1, dh.Shape);
        _b.Axpby(SkipScale, dh, 0f, dh1);
        var da1 = _conv1.Backward(dh1)!;
        var dShift = _b.Ensure(ref _dShift, dy.N, Out);
        var dh0 = _norm1.Backward(da1, dShift);
        _b.Axpby(1f, _affine.Backward(dShift)!, 1f, dEmb);
        var da0 = _conv0.Backward(dh0)!;
        var dx = _norm0.Backward(da0);
        _b.Axpby(1f, _skip?.Backward(dh1) ?? dh1, 1f, dx);
        return dx;
    }
}
