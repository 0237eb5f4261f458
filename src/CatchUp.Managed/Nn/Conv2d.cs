using CatchUp.Backends;
using CatchUp.Tensors;

namespace CatchUp.Nn;

/// <summary>EDM Conv2d with the [1,1] resample filter: optional 2x down (average pool) or up (nearest) first, then a
/// k x k convolution (k in {1,3}, padding k/2) with bias. Kernel 0 means resample only.</summary>
public sealed class Conv2d
{
    private readonly IBackend _b;
    private readonly FlopTally _flops;
    private Tensor? _x, _input, _resampled, _y, _dInput, _dx;

    /// <param name="resampleFilterBuffer">Declare EDM's <c>{name}.resample_filter</c> state-dict buffer when resampling
    /// (ADM's networks have none).</param>
    public Conv2d(ParameterSet ps, string name, int inChannels, int outChannels, int kernel, float initWeight,
        bool up = false, bool down = false, bool resampleFilterBuffer = true)
    {
        if (up && down) throw new ArgumentException("a convolution cannot both up- and down-sample");
        _b = ps.Backend;
        _flops = ps.Flops;
        Name = name;
        In = inChannels; Out = outChannels; Kernel = kernel; Up = up; Down = down;
        if ((up || down) && resampleFilterBuffer) ps.DeclareResampleFilterBuffer(name + ".resample_filter");
        if (kernel > 0)
        {
            int fanIn = inChannels * kernel * kernel, fanOut = outChannels * kernel * kernel;
            Weight = ps.Declare(name + ".weight", new ParameterInit(fanIn, fanOut, initWeight), outChannels, inChannels, kernel, kernel);
            Bias = ps.Declare(name + ".bias", ParameterInit.Zeros, outChannels);
        }
    }

    public string Name { get; }
    public int In { get; }
    public int Out { get; }
    public int Kernel { get; }
    public bool Up { get; }
    public bool Down { get; }
    public Parameter? Weight { get; }
    public Parameter? Bias { get; }
    public bool Resamples => Up || Down;

    public Tensor Forward(Tensor x)
    {
        _x = x;
        Tensor input = x;
        if (Down)
        {
            _b.AvgPool2x(x, _b.Ensure(ref _resampled, x.N, x.C, x.H / 2, x.W / 2));
            input = _resampled!;
        }
        else if (Up)
        {
            _b.Upsample2x(x, _b.Ensure(ref _resampled, x.N, x.C, x.H * 2, x.W * 2));
            input = _resampled!;
        }
        _input = input;
        if (Kernel == 0) return input;
        var y = _b.Ensure(ref _y, x.N, Out, input.H, input.W);
        _b.Conv2dForward(input, Weight!.Value, Bias!.Value, y);
        _flops.Add(2L * Out * In * Kernel * Kernel * input.H * input.W * x.N);
        return y;
    }

    /// <summary>Accumulates weight and bias gradients; returns dL/dx (layer-owned) when <paramref name="needInputGrad"/>.</summary>
    public Tensor? Backward(Tensor dy, bool needInputGrad = true)
    {
        var input = _input ?? throw new InvalidOperationException("Conv2d.Backward before Forward");
        Tensor? dInput = dy;
        if (Kernel > 0)
        {
            dInput = needInputGrad ? _b.Ensure(ref _dInput, input.Shape) : null;
            _b.Conv2dBackward(input, Weight!.Value, dy, dInput, Weight.Grad, Bias!.Grad);
        }
        if (!needInputGrad) return null;
        if (!Resamples) return dInput;
        var dx = _b.Ensure(ref _dx, _x!.Shape);
        if (Down) _b.AvgPool2xBackward(dInput!, dx);
        else _b.Upsample2xBackward(dInput!, dx);
        return dx;
    }
}
