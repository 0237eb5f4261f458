using CatchUp.Backends;
using CatchUp.Nn;
using CatchUp.Tensors;

namespace CatchUp.Models.Adm;

/// <summary>
/// ADM AttentionBlock with the reference's default flash attention: y = x + proj_out(attend(qkv(norm(x)))), where the
/// 1x1 qkv convolution's 3C output channels split as <c>(three h d)</c> (q, k, v outermost, then heads, then the
/// d = C/heads channels of a head), softmax scale 1/sqrt(d), output channels <c>(h d)</c>. use_new_attention_order does
/// not change this (the reference ignores it for flash attention). Computed in float32 (the reference rounds q, k, v
/// to fp16 for flash-attn on GPUs).
/// <para>
/// Internally the qkv convolution's output channels are stored per head and interleaved, channel h*3d + 3c + j
/// (j = q, k, v), so [N, 3C, H, W] viewed as [N*heads, 3d, H, W] is exactly the one-head layout of
/// <see cref="IBackend.AttentionForward"/> (whose scale 1/sqrt(d) is the reference's). The reference order is restored
/// at the state-dict boundary (<see cref="ReferenceLayout.PermuteRows"/> on qkv.weight and qkv.bias).
/// </para>
/// </summary>
public sealed class AttentionBlock : IAdmLayer
{
    private readonly IBackend _b;
    private readonly FlopTally _flops;
    private readonly GroupNorm _norm;
    private readonly Conv2d _qkv, _proj;
    private Tensor? _qkvOut, _att, _probs, _y, _dqkv, _qkvView, _attView, _dAttView, _dqkvView;

    public AttentionBlock(ParameterSet ps, string name, int channels, int heads)
    {
        if (heads <= 0 || channels % heads != 0) throw new ArgumentException($"{name}: {channels} channels cannot be split into {heads} heads");
        _b = ps.Backend;
        _flops = ps.Flops;
        Channels = channels; Heads = heads;
        _norm = new GroupNorm(ps, name + ".norm", channels, 1e-5f, 32);
        _qkv = new Conv2d(ps, name + ".qkv", channels, 3 * channels, 1, 1f);
        var rowOf = QkvReferenceRows(channels, heads);
        _qkv.Weight!.Layout = ReferenceLayout.PermuteRows([3 * channels, channels, 1, 1], rowOf);
        _qkv.Bias!.Layout = ReferenceLayout.PermuteRows([3 * channels], rowOf);
        _proj = new Conv2d(ps, name + ".proj_out", channels, channels, 1, 0f); // zero_module
    }

    public int Channels { get; }
    public int Heads { get; }
    public int HeadChannels => Channels / Heads;

    /// <summary>Internal qkv channel h*3d + 3c + j holds the reference's channel j*C + h*d + c.</summary>
    public static int[] QkvReferenceRows(int channels, int heads)
    {
        int d = channels / heads;
        var rowOf = new int[3 * channels];
        for (int h = 0; h < heads; h++)
            for (int c = 0; c < d; c++)
                for (int j = 0; j < 3; j++) rowOf[h * 3 * d + 3 * c + j] = j * channels + h * d + c;
        return rowOf;
    }

    public Tensor Forward(Tensor x, Tensor emb, ForwardMode mode)
    {
        int n = x.N, d = HeadChannels, hh = x.H, ww = x.W;
        _qkvOut = _qkv.Forward(_norm.Forward(x, null, silu: false, DropoutSpec.None));
        var att = _b.Ensure(ref _att, x.Shape);
        var probs = mode.SaveForBackward ? _b.Ensure(ref _probs, n * Heads, hh * ww, hh * ww) : null;
        _b.AttentionForward(TensorExtensions.EnsureView(ref _qkvView, _qkvOut, n * Heads, 3 * d, hh, ww),
            TensorExtensions.EnsureView(ref _attView, att, n * Heads, d, hh, ww), probs);
        _flops.Add(4L * x.C * hh * ww * hh * ww * n);
        var p = _proj.Forward(att);
        var y = _b.Ensure(ref _y, x.Shape);
        _b.AddScale(p, x, 1f, y);
        return y;
    }

    public Tensor Backward(Tensor dy, Tensor dEmb)
    {
        int n = dy.N, d = HeadChannels, hh = dy.H, ww = dy.W;
        var dAtt = _proj.Backward(dy)!;
        var dqkv = _b.Ensure(ref _dqkv, _qkvOut!.Shape);
        _b.AttentionBackward(_qkvView!, _probs ?? throw new InvalidOperationException("Backward needs a forward pass run with SaveForBackward"),
            TensorExtensions.EnsureView(ref _dAttView, dAtt, n * Heads, d, hh, ww),
            TensorExtensions.EnsureView(ref _dqkvView, dqkv, n * Heads, 3 * d, hh, ww));
        var dx = _norm.Backward(_qkv.Backward(dqkv)!);
        _b.Axpby(1f, dy, 1f, dx);
        return dx;
    }
}
