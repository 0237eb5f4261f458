using CatchUp.Backends;
using CatchUp.Nn;
using CatchUp.Tensors;

namespace CatchUp.Training;

/// <summary>Adam / AdamW over a list of parameters, with first and second moments kept on the device.</summary>
public sealed class AdamOptimizer : IDisposable
{
    private readonly IBackend _b;
    private readonly IReadOnlyList<Parameter> _params;
    private readonly Tensor[] _m, _v;

    public AdamOptimizer(IBackend backend, IReadOnlyList<Parameter> parameters, float beta1 = 0.9f, float beta2 = 0.999f,
        float epsilon = 1e-8f, float weightDecay = 0f, bool decoupled = false)
    {
        _b = backend;
        _params = parameters;
        _m = parameters.Select(p => backend.Allocate(p.Shape)).ToArray();
        _v = parameters.Select(p => backend.Allocate(p.Shape)).ToArray();
        Beta1 = beta1; Beta2 = beta2; Epsilon = epsilon; WeightDecay = weightDecay; Decoupled = decoupled;
    }

    public float Beta1 { get; }
    public float Beta2 { get; }
    public float Epsilon { get; }
    public float WeightDecay { get; }
    public bool Decoupled { get; }
    /// <summary>Updates taken so far (Adam's bias-correction step count).</summary>
    public long Steps { get; set; }
    public IReadOnlyList<Parameter> Parameters => _params;
    public Tensor FirstMoment(int i) => _m[i];
    public Tensor SecondMoment(int i) => _v[i];

    public void Step(float learningRate)
    {
        Steps++;
        var spec = new AdamSpec(learningRate, Beta1, Beta2, Epsilon, WeightDecay, Decoupled, Steps);
        for (int i = 0; i < _params.Count; i++) _b.AdamStep(_params[i].Value, _params[i].Grad, _m[i], _v[i], spec);
    }

    public void Dispose()
    {
        foreach (var t in _m) t.Dispose();
        foreach (var t in _v) t.Dispose();
    }
}
