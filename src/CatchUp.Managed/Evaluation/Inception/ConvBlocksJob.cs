using CatchUp.Backends.Cpu;

namespace CatchUp.Evaluation.Inception;

/// <summary>
/// One block of output positions of a folded convolution: unfold that block (unless pointwise) and multiply it by the
/// packed weights into the matching columns of every output plane. Blocks are independent, so a worker pool can run them
/// in parallel, each worker with its own columns and strip buffers.
/// </summary>
internal unsafe struct ConvBlocksJob : IParallelJob
{
    public float* X, Y, PackedWeights, Bias;
    /// <summary>Per worker: im2col space and the GEMM's B strip.</summary>
    public float** Columns, Strips;
    public int InChannels, Height, Width, KernelH, KernelW, Stride, PadH, PadW;
    public int OutChannels, Fan, OutH, OutW, Block;
    public bool Pointwise;
    public GemmPath Path;

    public int Positions => OutH * OutW;
    public int BlockCount => (Positions + Block - 1) / Block;

    public void Execute(int index, int worker)
    {
        int n = Positions, first = index * Block, count = Math.Min(Block, n - first);
        float* b = X + first;
        int ldb = n;
        if (!Pointwise)
        {
            b = Columns[worker];
            ldb = count;
            Im2Col.Unfold(X, InChannels, Height, Width, KernelH, KernelW, Stride, PadH, PadW, OutH, OutW, first, count, b);
        }
        PackedGemm.Multiply(Path, PackedWeights, Bias, OutChannels, Fan, b, ldb, count, Y + first, n, relu: true, Strips[worker]);
    }
}
