using CatchUp.Backends.Cpu;

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

    /// <summary>im2col works on blocks of output positions whose columns fill about this many floats (the size of L2).</summary>
    private const int ColumnBlockFloats = 512 * 1024;

    /// <summary>Output positions unfolded per block: a multiple of the widest GEMM strip.</summary>
    public int ColumnBlock => Math.Max(2 * PackedGemm.MaxStripWidth, ColumnBlockFloats / Spec.Fan / PackedGemm.MaxStripWidth * PackedGemm.MaxStripWidth);

    public long FlopsPerImage(int height, int width) =>
        2L * Spec.OutChannels * Spec.Fan * Spec.OutputHeight(height) * Spec.OutputWidth(width);

    /// <summary>
    /// Convolves the CHW image <paramref name="x"/> and writes the OutChannels x Ho x Wo result at <paramref name="y"/>
    /// (a channel slice of a larger concatenated output is fine: planes are contiguous). With a worker pool in the
    /// workspace, blocks of output positions run in parallel.
    /// </summary>
    public void Forward(InceptionWorkspace ws, float* x, int height, int width, float* y)
    {
        ConvSpec s = Spec;
        int outH = s.OutputHeight(height), outW = s.OutputWidth(width), n = outH * outW;
        WorkerPool? pool = ws.Pool;
        int workers = pool?.Threads ?? 1;
        int block = IsPointwise ? n : ColumnBlock;
        if (workers > 1)
        {
            int blocks = Math.Max((n + block - 1) / block, workers);
            int stripWidth = PackedGemm.MaxStripWidth;
            block = ((n + blocks - 1) / blocks + stripWidth - 1) / stripWidth * stripWidth;
        }
        float** columns = stackalloc float*[workers];
        float** strips = stackalloc float*[workers];
        if (pool is null)
        {
            columns[0] = IsPointwise ? null : ws.Columns((long)s.Fan * block);
            strips[0] = ws.Strip;
        }
        else
        {
            for (int w = 0; w < workers; w++)
            {
                columns[w] = IsPointwise ? null : pool.Scratch(w, 0, (long)s.Fan * block);
                strips[w] = pool.Scratch(w, 1, PackedGemm.StripBufferFloats);
            }
        }
        fixed (float* a = _packedWeights)
        fixed (float* bias = _bias)
        {
            var job = new ConvBlocksJob
            {
                X = x, Y = y, PackedWeights = a, Bias = bias, Columns = columns, Strips = strips,
                InChannels = s.InChannels, Height = height, Width = width, KernelH = s.KernelH, KernelW = s.KernelW,
                Stride = s.Stride, PadH = s.PadH, PadW = s.PadW, OutChannels = s.OutChannels, Fan = s.Fan,
                OutH = outH, OutW = outW, Block = block, Pointwise = IsPointwise, Path = ws.Path,
            };
            if (pool is null)
                for (int i = 0; i < job.BlockCount; i++) job.Execute(i, 0);
            else
                pool.For(job.BlockCount, ref job);
        }
    }
}
