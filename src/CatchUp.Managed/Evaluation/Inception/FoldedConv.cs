namespace CatchUp.Evaluation.Inception;

/// <summary>
/// A BasicConv2d with its BatchNorm folded in: y = ReLU(W' * x + b') where W' = W gamma / sqrt(var + eps) per output
/// channel and b' = beta - mean gamma / sqrt(var + eps). Runs as im2col (skipped for 1x1 stride-1) plus <see cref="PackedGemm"/>.
/// </summary>
internal sealed unsafe class FoldedConv
{
    private readonly float[] _packedWeights;
    private readonly float[] _bias;

    public FoldedConv(ConvSpec spec, ReadOnlySpan<float> weights, ReadOnlySpan<float> bias)
    {
        if (bias.Length != spec.OutChannels) throw new ArgumentException($"{spec.Name}: {bias.Length} biases for {spec.OutChannels} channels", nameof(bias));
        Spec = spec;
        _packedWeights = PackedGemm.PackA(weights, spec.OutChannels, spec.Fan);
        _bias = GC.AllocateArray<float>(PackedGemm.PaddedRows(spec.OutChannels), pinned: true);
        bias.CopyTo(_bias);
    }

    /// <summary>Folds BatchNorm (inference statistics) into the convolution, in double precision.</summary>
    public static FoldedConv Fold(ConvSpec spec, ReadOnlySpan<float> weight, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> variance, double eps)
    {
        int fan = spec.Fan;
        var w = new float[spec.OutChannels * fan];
        var b = new float[spec.OutChannels];
        for (int o = 0; o < spec.OutChannels; o++)
        {
            double scale = gamma[o] / Math.Sqrt((double)variance[o] + eps);
            for (int i = 0; i < fan; i++) w[o * fan + i] = (float)(weight[o * fan + i] * scale);
            b[o] = (float)(beta[o] - mean[o] * scale);
        }
        return new FoldedConv(spec, w, b);
    }

    public ConvSpec Spec { get; }

    public bool IsPointwise => Spec is { KernelH: 1, KernelW: 1, Stride: 1, PadH: 0, PadW: 0 };

    /// <summary>im2col works on blocks of output positions whose columns fill about this many floats (L2-resident).</summary>
    private const int ColumnBlockFloats = 256 * 1024;

    /// <summary>Output positions unfolded per block: a multiple of the widest GEMM strip.</summary>
    public int ColumnBlock => Math.Max(2 * PackedGemm.MaxStripWidth, ColumnBlockFloats / Spec.Fan / PackedGemm.MaxStripWidth * PackedGemm.MaxStripWidth);

    /// <summary>Floats of im2col workspace a call needs (0 for pointwise).</summary>
    public long ColumnFloats => IsPointwise ? 0 : (long)Spec.Fan * ColumnBlock;

    public long FlopsPerImage(int height, int width) =>
        2L * Spec.OutChannels * Spec.Fan * Spec.OutputHeight(height) * Spec.OutputWidth(width);

    /// <summary>
    /// Convolves the CHW image <paramref name="x"/> and writes the OutChannels x Ho x Wo result at <paramref name="y"/>
    /// (a channel slice of a larger concatenated output is fine: planes are contiguous).
    /// </summary>
    public void Forward(InceptionWorkspace ws, float* x, int height, int width, float* y)
    {
        ConvSpec s = Spec;
        int outH = s.OutputHeight(height), outW = s.OutputWidth(width);
        int n = outH * outW;
        fixed (float* a = _packedWeights)
        fixed (float* bias = _bias)
        {
            if (IsPointwise)
            {
                PackedGemm.Multiply(ws.Path, a, bias, s.OutChannels, s.Fan, x, n, n, y, n, relu: true, ws.Strip);
                return;
            }
            float* columns = ws.Columns(ColumnFloats);
            for (int first = 0; first < n; first += ColumnBlock)
            {
                int count = Math.Min(ColumnBlock, n - first);
                Im2Col.Unfold(x, s.InChannels, height, width, s.KernelH, s.KernelW, s.Stride, s.PadH, s.PadW, outH, outW, first, count, columns);
                PackedGemm.Multiply(ws.Path, a, bias, s.OutChannels, s.Fan, columns, count, count, y + first, n, relu: true, ws.Strip);
            }
        }
    }
}
