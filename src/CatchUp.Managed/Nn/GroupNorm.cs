using CatchUp.Backends;
using CatchUp.Tensors;

namespace CatchUp.Nn;

/// <summary>GroupNorm with groups = max(min(32, C/4), 1), fused with an optional per-(n,c) shift added before it
/// (the UNet block's embedding affine), SiLU and dropout after it.</summary>
public sealed class GroupNorm
{
    private readonly IBackend _b;
    private Tensor? _x, _shift, _y, _mean, _rstd, _dx;
    private bool _silu;
    private DropoutSpec _dropout;

    /// <param name="groups">Group count; 0 picks <see cref="GroupsFor"/> (EDM's rule). ADM's GroupNorm32 passes 32.</param>
    public GroupNorm(ParameterSet ps, string name, int channels, float eps, int groups = 0)
    {
        _b = ps.Backend;
        Channels = channels;
        Groups = groups > 0 ? groups : GroupsFor(channels);
        if (channels % Groups != 0) throw new ArgumentException($"GroupNorm {name}: {channels} channels not divisible into {Groups} groups");
        Eps = eps;
        Weight = ps.Declare(name + ".weight", ParameterInit.Ones, channels);
        Bias = ps.Declare(name + ".bias", ParameterInit.Zeros, channels);
    }

    public static int GroupsFor(int channels) => Math.Max(Math.Min(32, channels / 4), 1);

    public int Channels { get; }
    public int Groups { get; }
    public float Eps { get; }
    public Parameter Weight { get; }
    public Parameter Bias { get; }

    public Tensor Forward(Tensor x, Tensor? shift, bool silu, DropoutSpec dropout)
    {
        _x = x; _shift = shift; _silu = silu; _dropout = dropout;
        var y = _b.Ensure(ref _y, x.Shape);
        _b.GroupNormForward(x, shift, Weight.Value, Bias.Value, Groups, Eps, silu, dropout, y,
            _b.Ensure(ref _mean, x.N, Groups), _b.Ensure(ref _rstd, x.N, Groups));
        return y;
    }

    /// <summary>Returns dL/dx (layer-owned); writes dL/dshift into <paramref name="dshift"/> when the forward had a shift.</summary>
    public Tensor Backward(Tensor dy, Tensor? dshift = null)
    {
        var x = _x ?? throw new InvalidOperationException("GroupNorm.Backward before Forward");
        var dx = _b.Ensure(ref _dx, x.Shape);
        _b.GroupNormBackward(x, _shift, Weight.Value, Bias.Value, Groups, _silu, _dropout, _mean!, _rstd!, dy, dx,
            _shift is null ? null : dshift, Weight.Grad, Bias.Grad);
        return dx;
    }
}
