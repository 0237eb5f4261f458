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
/// The reference's Downsample with a convolution (<c>resblock_updown</c> false): 3x3, stride 2, padding 1
/// (<c>{name}.op</c>). <see cref="IBackend"/> has no strided convolution, so this runs the stride-1 convolution and keeps
/// its even rows and columns, which is the same sum. The sampling uses no new op: on row-major views, keeping the even
/// rows is the first half of each [row 2i, row 2i+1] pair and keeping the even columns the first of each pair of
/// elements, which <see cref="IBackend.ConcatScaledBackward"/> splits off (and <see cref="IBackend.ConcatScaled"/> with
/// zeros scatters back in the backward). It costs four times the convolution of a strided kernel.
/// </summary>
public sealed class AdmDownsample : IAdmLayer
{
    private readonly IBackend _b;
    private readonly Conv2d _conv;
    private Tensor? _evenRows, _oddRows, _y, _oddCols, _dEvenRows, _zeroCols, _dFull, _zeroRows;
    private Tensor? _vFull, _vEvenRows, _vY, _vDy, _vDEvenRows, _vDFull;

    public AdmDownsample(ParameterSet ps, string name, int channels)
    {
        _b = ps.Backend;
        _conv = new Conv2d(ps, name + ".op", channels, channels, 3, 1f);
    }

    public Tensor Forward(Tensor x, Tensor emb, ForwardMode mode)
    {
        if (x.H % 2 != 0 || x.W % 2 != 0) throw new ArgumentException($"Downsample needs an even size, got {x.ShapeString}");
        var full = _conv.Forward(x);
        int n = x.N, c = full.C, h = x.H, w = x.W, rowPairs = n * c * h / 2, colPairs = rowPairs * w / 2;
        var even = _b.Ensure(ref _evenRows, rowPairs, w);
        _b.ConcatScaledBackward(TensorExtensions.EnsureView(ref _vFull, full, rowPairs, 2 * w), null, null, even, _b.Ensure(ref _oddRows, rowPairs, w));
        var y = _b.Ensure(ref _y, n, c, h / 2, w / 2);
        _b.ConcatScaledBackward(TensorExtensions.EnsureView(ref _vEvenRows, even, colPairs, 2), null, null,
            TensorExtensions.EnsureView(ref _vY, y, colPairs, 1), _b.Ensure(ref _oddCols, colPairs, 1));
        return y;
    }

    public Tensor Backward(Tensor dy, Tensor dEmb)
    {
        int n = dy.N, c = dy.C, h = 2 * dy.H, w = 2 * dy.W, rowPairs = n * c * h / 2, colPairs = rowPairs * w / 2;
        var zeroCols = _b.Ensure(ref _zeroCols, colPairs, 1);
        _b.Fill(zeroCols, 0f);
        var dEven = _b.Ensure(ref _dEvenRows, rowPairs, w);
        _b.ConcatScaled(TensorExtensions.EnsureView(ref _vDy, dy, colPairs, 1), zeroCols, null, null,
            TensorExtensions.EnsureView(ref _vDEvenRows, dEven, colPairs, 2));
        var zeroRows = _b.Ensure(ref _zeroRows, rowPairs, w);
        _b.Fill(zeroRows, 0f);
        var dFull = _b.Ensure(ref _dFull, n, c, h, w);
        _b.ConcatScaled(dEven, zeroRows, null, null, TensorExtensions.EnsureView(ref _vDFull, dFull, rowPairs, 2 * w));
        return _conv.Backward(dFull)!;
    }
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
    private readonly OneHotLabels _oneHot;
    private Tensor? _rows, _y;

    public LabelEmbedding(ParameterSet ps, string name, int classes, int dim)
    {
        _b = ps.Backend;
        _flops = ps.Flops;
        _oneHot = new OneHotLabels(_b, classes);
        Classes = classes; Dim = dim;
        Weight = ps.Declare(name + ".weight", new ParameterInit(classes, dim, 1f), dim, classes);
        Weight.Layout = ReferenceLayout.Transpose(classes, dim);
    }

    public int Classes { get; }
    public int Dim { get; }
    public Parameter Weight { get; }

    public Tensor Forward(ReadOnlySpan<int> labels)
    {
        _rows = _oneHot.Encode(labels);
        var y = _b.Ensure(ref _y, labels.Length, Dim);
        _b.LinearForward(_rows, Weight.Value, null, y);
        _flops.Add(2L * Classes * Dim * labels.Length);
        return y;
    }

    public void Backward(Tensor dy) => _b.LinearBackward(_rows!, Weight.Value, dy, null, Weight.Grad, null);
}
