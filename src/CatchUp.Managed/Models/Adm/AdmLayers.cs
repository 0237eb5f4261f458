using CatchUp.Backends;
using CatchUp.Nn;
using CatchUp.Tensors;

namespace CatchUp.Models.Adm;

/// <summary>A module of a TimestepEmbedSequential: forward with the (SiLU'd) embedding, backward that accumulates
/// dL/d(embedding) into <c>dEmb</c> and returns dL/dx (layer-owned).</summary>
public interface IAdmLayer
{
    Tensor Forward(Tensor x, Tensor emb, ForwardMode mode);
    Tensor Backward(Tensor dy, Tensor dEmb);
}

/// <summary>A TimestepEmbedSequential: its layers in order (names <c>{prefix}.{index}</c>). Loops index an array, so a
/// pass allocates no enumerator.</summary>
public sealed class AdmSequence(IAdmLayer[] layers)
{
    private readonly IAdmLayer[] _layers = layers;

    public IReadOnlyList<IAdmLayer> Layers => _layers;

    public Tensor Forward(Tensor x, Tensor emb, ForwardMode mode)
    {
        for (int i = 0; i < _layers.Length; i++) x = _layers[i].Forward(x, emb, mode);
        return x;
    }

    public Tensor Backward(Tensor dy, Tensor dEmb)
    {
        for (int i = _layers.Length - 1; i >= 0; i--) dy = _layers[i].Backward(dy, dEmb);
        return dy;
    }
}

/// <summary>The reference's Upsample with a convolution (nearest 2x, then 3x3): <c>{name}.conv</c>.</summary>
public sealed class AdmUpsample(ParameterSet ps, string name, int channels) : IAdmLayer
{
    private readonly Conv2d _conv = new(ps, name + ".conv", channels, channels, 3, 1f, up: true, resampleFilterBuffer: false);

    public Tensor Forward(Tensor x, Tensor emb, ForwardMode mode) => _conv.Forward(x);
    public Tensor Backward(Tensor dy, Tensor dEmb) => _conv.Backward(dy)!;
}

/// <summary>
/// nn.Embedding(num_classes, dim) as a bias-free Linear on one-hot rows: the weight is kept as [dim, num_classes]
/// (the reference's transpose, mapped by <see cref="ReferenceLayout.Transpose"/>), so y = onehot W^T is a row gather
/// and the backward accumulates dW by the same product. Labels come from the host.
/// </summary>
public sealed class LabelEmbedding
{
    private readonly IBackend _b;
    private readonly FlopTally _flops;
    private float[] _host = [];
    private Tensor? _oneHot, _y;

    public LabelEmbedding(ParameterSet ps, string name, int classes, int dim)
    {
        _b = ps.Backend;
        _flops = ps.Flops;
        Classes = classes; Dim = dim;
        Weight = ps.Declare(name + ".weight", new ParameterInit(classes, dim, 1f), dim, classes);
        Weight.Layout = ReferenceLayout.Transpose(classes, dim);
    }

    public int Classes { get; }
    public int Dim { get; }
    public Parameter Weight { get; }

    public Tensor Forward(ReadOnlySpan<int> labels)
    {
        int n = labels.Length;
        if (_host.Length != n * Classes) _host = new float[n * Classes];
        else Array.Clear(_host);
        for (int i = 0; i < n; i++)
        {
            if ((uint)labels[i] >= (uint)Classes) throw new ArgumentException($"class label {labels[i]} of sample {i} is outside [0, {Classes})");
            _host[i * Classes + labels[i]] = 1f;
        }
        var oneHot = _b.Ensure(ref _oneHot, n, Classes);
        _b.Upload(_host, oneHot);
        var y = _b.Ensure(ref _y, n, Dim);
        _b.LinearForward(oneHot, Weight.Value, null, y);
        _flops.Add(2L * Classes * Dim * n);
        return y;
    }

    public void Backward(Tensor dy) => _b.LinearBackward(_oneHot!, Weight.Value, dy, null, Weight.Grad, null);
}
