using CatchUp.Backends;
using CatchUp.Nn;
using CatchUp.Tensors;

namespace CatchUp.Models.Adm;

/// <summary>
/// ADM ResBlock (cm/unet.py), names as its state_dict:
/// h = in_layers.2(upd(silu(in_layers.0(x))));  e = emb_layers.1(silu(emb));
/// scale-shift: h = out_layers.0(h) * (1 + e[:, :C]) + e[:, C:], else h = out_layers.0(h + e);
/// h = out_layers.3(dropout(silu(h)));  y = skip_connection(upd(x)) + h.
/// upd is nearest 2x (up) or 2x2 average pooling (down) or nothing. GroupNorm32: 32 groups, eps 1e-5.
/// The caller passes silu(emb) (shared by every block); the embedding gradient is w.r.t. that.
/// </summary>
public sealed class ResBlock : IAdmLayer
{
    private const float Eps = 1e-5f;
    private const int Groups = 32;
    private readonly IBackend _b;
    private readonly GroupNorm _inNorm, _outNorm;
    private readonly Conv2d _inConv, _outConv;
    private readonly Conv2d? _skip, _xUpd;
    private readonly Linear _emb;
    private readonly bool _scaleShift;
    private readonly float _dropout;
    private readonly ulong _dropoutStream;
    private DropoutSpec _drop;
    private Tensor? _e, _normed, _modulated, _y, _dEmbOut, _dNormed;

    public ResBlock(ParameterSet ps, string name, int channels, int outChannels, int embChannels, float dropout,
        bool scaleShift, bool up = false, bool down = false)
    {
        _b = ps.Backend;
        Name = name;
        In = channels; Out = outChannels;
        _scaleShift = scaleShift;
        _dropout = dropout;
        _dropoutStream = CounterRng.StableHash(name);
        _inNorm = new GroupNorm(ps, name + ".in_layers.0", channels, Eps, Groups);
        _inConv = new Conv2d(ps, name + ".in_layers.2", channels, outChannels, 3, 1f, up, down, resampleFilterBuffer: false);
        _emb = new Linear(ps, name + ".emb_layers.1", embChannels, scaleShift ? 2 * outChannels : outChannels, 1f);
        _outNorm = new GroupNorm(ps, name + ".out_layers.0", outChannels, Eps, Groups);
        _outConv = new Conv2d(ps, name + ".out_layers.3", outChannels, outChannels, 3, 0f); // zero_module
        if (outChannels != channels)
            _skip = new Conv2d(ps, name + ".skip_connection", channels, outChannels, 1, 1f, up, down, resampleFilterBuffer: false);
        else if (up || down)
            _xUpd = new Conv2d(ps, name + ".x_upd", channels, channels, 0, 1f, up, down, resampleFilterBuffer: false);
    }

    public string Name { get; }
    public int In { get; }
    public int Out { get; }

    public Tensor Forward(Tensor x, Tensor emb, ForwardMode mode)
    {
        var h0 = _inConv.Forward(_inNorm.Forward(x, null, silu: true, DropoutSpec.None));
        var e = _e = _emb.Forward(emb);
        _drop = mode.Dropout && _dropout > 0
            ? new DropoutSpec(_dropout, CounterRng.Skip(CounterRng.Hash(mode.Seed, _dropoutStream), mode.SampleOffset * h0.SampleSize))
            : DropoutSpec.None;
        Tensor a1;
        if (_scaleShift)
        {
            _normed = _outNorm.Forward(h0, null, silu: false, DropoutSpec.None);
            a1 = _b.Ensure(ref _modulated, h0.Shape);
            _b.ScaleShiftForward(_normed, e, silu: true, _drop, a1);
        }
        else a1 = _outNorm.Forward(h0, e, silu: true, _drop);
        var h1 = _outConv.Forward(a1);
        var s = _skip?.Forward(x) ?? _xUpd?.Forward(x) ?? x;
        var y = _b.Ensure(ref _y, h1.Shape);
        _b.AddScale(h1, s, 1f, y);
        return y;
    }

    public Tensor Backward(Tensor dy, Tensor dEmb)
    {
        var da1 = _outConv.Backward(dy)!;
        var dEmbOut = _b.Ensure(ref _dEmbOut, dy.N, _emb.Out);
        Tensor dh0;
        if (_scaleShift)
        {
            var dNormed = _b.Ensure(ref _dNormed, _normed!.Shape);
            _b.ScaleShiftBackward(_normed, _e!, silu: true, _drop, da1, dNormed, dEmbOut);
            dh0 = _outNorm.Backward(dNormed);
        }
        else dh0 = _outNorm.Backward(da1, dEmbOut);
        _b.Axpby(1f, _emb.Backward(dEmbOut)!, 1f, dEmb);
        var dx = _inNorm.Backward(_inConv.Backward(dh0)!);
        _b.Axpby(1f, _skip?.Backward(dy) ?? _xUpd?.Backward(dy) ?? dy, 1f, dx);
        return dx;
    }
}
