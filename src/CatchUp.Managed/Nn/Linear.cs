using CatchUp.Backends;
using CatchUp.Tensors;

namespace CatchUp.Nn;

/// <summary>y = x W^T + b with W [out, in].</summary>
public sealed class Linear
{
    private readonly IBackend _b;
    private readonly FlopTally _flops;
    private Tensor? _x, _y, _dx;

    public Linear(ParameterSet ps, string name, int inFeatures, int outFeatures, float initWeight)
    {
        _b = ps.Backend;
        _flops = ps.Flops;
        In = inFeatures; Out = outFeatures;
        Weight = ps.Declare(name + ".weight", new ParameterInit(inFeatures, outFeatures, initWeight), outFeatures, inFeatures);
        Bias = ps.Declare(name + ".bias", ParameterInit.Zeros, outFeatures);
    }

    public int In { get; }
    public int Out { get; }
    public Parameter Weight { get; }
    public Parameter Bias { get; }

    public Tensor Forward(Tensor x)
    {
        _x = x;
        var y = _b.Ensure(ref _y, x.N, Out);
        _b.LinearForward(x, Weight.Value, Bias.Value, y);
        _flops.Add(2L * In * Out * x.N);
        return y;
    }

    public Tensor? Backward(Tensor dy, bool needInputGrad = true)
    {
        var x = _x ?? throw new InvalidOperationException("Linear.Backward before Forward");
        var dx = needInputGrad ? _b.Ensure(ref _dx, x.Shape) : null;
        _b.LinearBackward(x, Weight.Value, dy, dx, Weight.Grad, Bias.Grad);
        return dx;
    }
}
