using CatchUp.Backends;
using CatchUp.Nn;
using CatchUp.Tensors;

namespace CatchUp.Evaluation;

/// <summary>
/// The evaluation classifier (<see cref="ClassifierConfig"/>) with an explicit forward and backward. Global average
/// pooling runs on the host: it touches one small tensor per pass, far less work than any convolution.
/// Parameter names: <c>convs.{i}.weight/bias</c>, <c>norms.{i}.weight/bias</c>, <c>head.weight/bias</c>.
/// </summary>
public sealed class ClassifierNetwork : IDisposable
{
    private const float GroupNormEps = 1e-5f;
    private readonly IBackend _b;
    private readonly Conv2d[] _convs;
    private readonly GroupNorm[] _norms;
    private readonly Linear _head;
    private Tensor? _pooled, _dLast;
    private float[] _lastHost = [], _pooledHost = [];
    private int _batch;

    public ClassifierNetwork(ClassifierConfig config, IBackend backend)
    {
        config.Validate();
        Config = config;
        _b = backend;
        Parameters = new ParameterSet(backend);
        var convs = new List<Conv2d>();
        int[] w = config.Widths;
        convs.Add(new Conv2d(Parameters, "convs.0", config.InChannels, w[0], 3, 1f));
        for (int s = 1; s < w.Length; s++)
        {
            convs.Add(new Conv2d(Parameters, $"convs.{convs.Count}", w[s - 1], w[s], 3, 1f, down: true));
            convs.Add(new Conv2d(Parameters, $"convs.{convs.Count}", w[s], w[s], 3, 1f));
        }
        _convs = convs.ToArray();
        _norms = _convs.Select((c, i) => new GroupNorm(Parameters, $"norms.{i}", c.Out, GroupNormEps)).ToArray();
        _head = new Linear(Parameters, "head", config.FeatureDim, config.Classes, 1f);
    }

    public ClassifierConfig Config { get; }
    public ParameterSet Parameters { get; }

    /// <summary>The pooled features [N, FeatureDim] of the last <see cref="Forward"/>.</summary>
    public Tensor Features => _pooled ?? throw new InvalidOperationException("Features before Forward");

    /// <summary>x [N, InChannels, Resolution, Resolution] -> logits [N, Classes] (layer-owned). Keeps what Backward needs.</summary>
    public Tensor Forward(Tensor x)
    {
        if (x.Rank != 4 || x.C != Config.InChannels || x.H != Config.Resolution || x.W != Config.Resolution)
            throw new ArgumentException($"classifier input must be [N, {Config.InChannels}, {Config.Resolution}, {Config.Resolution}], got {x.ShapeString}");
        _batch = x.N;
        Tensor h = x;
        for (int i = 0; i < _convs.Length; i++)
            h = _norms[i].Forward(_convs[i].Forward(h), null, silu: true, DropoutSpec.None);
        GlobalAveragePool(h);
        return _head.Forward(_pooled!);
    }

    /// <summary>Accumulates every parameter gradient from dL/dlogits.</summary>
    public void Backward(Tensor dLogits)
    {
        var dPooled = _head.Backward(dLogits)!;
        int n = _batch, c = Config.FeatureDim, area = Config.FinalResolution * Config.FinalResolution;
        var dLast = _b.Ensure(ref _dLast, n, c, Config.FinalResolution, Config.FinalResolution);
        _b.Download(dPooled, _pooledHost);
        float inv = 1f / area;
        for (int i = 0; i < n * c; i++) _lastHost.AsSpan(i * area, area).Fill(_pooledHost[i] * inv);
        _b.Upload(_lastHost, dLast);
        Tensor dh = dLast;
        for (int i = _convs.Length - 1; i >= 0; i--)
            dh = _convs[i].Backward(_norms[i].Backward(dh), needInputGrad: i > 0)!;
    }

    private void GlobalAveragePool(Tensor h)
    {
        int n = h.N, c = h.C, area = h.H * h.W;
        var pooled = _b.Ensure(ref _pooled, n, c);
        if (_lastHost.Length != h.Length) _lastHost = new float[h.Length];
        if (_pooledHost.Length != n * c) _pooledHost = new float[n * c];
        _b.Download(h, _lastHost);
        for (int i = 0; i < n * c; i++)
        {
            double sum = 0;
            foreach (float v in _lastHost.AsSpan(i * area, area)) sum += v;
            _pooledHost[i] = (float)(sum / area);
        }
        _b.Upload(_pooledHost, pooled);
    }

    public void Dispose()
    {
        _pooled?.Dispose();
        _dLast?.Dispose();
        Parameters.Dispose();
    }
}
