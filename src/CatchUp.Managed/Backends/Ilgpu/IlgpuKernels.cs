using System.Reflection;
using CatchUp.Backends.Ilgpu.Kernels;
using ILGPU.Runtime;
using KC = ILGPU.KernelConfig;
using S = ILGPU.Runtime.AcceleratorStream;
using V = ILGPU.ArrayView<float>;
using VD = ILGPU.ArrayView<double>;

namespace CatchUp.Backends.Ilgpu;

/// <summary>
/// The compiled kernels of one accelerator, each compiled on first use (an OpenCL or PTX compile per kernel costs
/// tenths of a second, and a command rarely needs them all). Launchers take the stream and the launch shape first.
/// </summary>
internal sealed class IlgpuKernels(Accelerator accelerator)
{
    /// <summary>Every kernel entry point, closed over the operand types the backend uses: what the PTX test compiles.</summary>
    public static IReadOnlyList<MethodInfo> EntryPoints { get; } = new Delegate[]
    {
        ElementwiseKernels.Fill, ElementwiseKernels.Copy, ElementwiseKernels.Axpby, ElementwiseKernels.AddScale,
        ElementwiseKernels.Silu, ElementwiseKernels.SiluBackward,
        ResampleKernels.Reduce, ResampleKernels.Expand,
        GroupNormKernels.Forward, GroupNormKernels.Backward,
        GemmKernels.Tiled<StridedMatrix, StridedMatrix>, GemmKernels.Tiled<StridedMatrix, ConvPatches>,
        GemmKernels.Tiled<FilterByInput, ConvPatches>, GemmKernels.Tiled<ChannelRows, PatchRows>,
        AttentionKernels.SoftmaxRows, AttentionKernels.SoftmaxBackwardRows,
        ConcatKernels.Forward, ConcatKernels.Backward,
        PerSampleKernels.ScaleAdd, PerSampleKernels.Select, PerSampleKernels.Reparameterize, PerSampleKernels.ReparameterizeBackward,
        CatchUpKernels.Point, OptimizerKernels.Adam, OptimizerKernels.Ema, EmbeddingKernels.Positional,
        ReductionKernels.SumRowsAccumulate, ReductionKernels.ChannelSumAccumulate, ReductionKernels.AddChannelBias,
        ReductionKernels.AddRowBias, ReductionKernels.SumSquaresPartial, ReductionKernels.FinishSum,
        LossKernels.MsePartial, LossKernels.KlPartial, ScaleShiftKernels.Forward, ScaleShiftKernels.Backward,
    }.Select(d => d.Method).ToArray();

    private TLaunch Get<TLaunch>(ref TLaunch? slot, Delegate kernel) where TLaunch : Delegate =>
        slot ??= accelerator.LoadKernel(kernel.Method).CreateLauncherDelegate<TLaunch>();

    private Action<S, KC, V, int, float>? _fill;
    public Action<S, KC, V, int, float> Fill => Get(ref _fill, ElementwiseKernels.Fill);
    private Action<S, KC, V, V, int>? _copy;
    public Action<S, KC, V, V, int> Copy => Get(ref _copy, ElementwiseKernels.Copy);
    private Action<S, KC, V, V, int, float, float>? _axpby;
    public Action<S, KC, V, V, int, float, float> Axpby => Get(ref _axpby, ElementwiseKernels.Axpby);
    private Action<S, KC, V, V, V, int, float>? _addScale;
    public Action<S, KC, V, V, V, int, float> AddScale => Get(ref _addScale, ElementwiseKernels.AddScale);
    private Action<S, KC, V, V, int>? _silu;
    public Action<S, KC, V, V, int> Silu => Get(ref _silu, ElementwiseKernels.Silu);
    private Action<S, KC, V, V, V, int>? _siluBackward;
    public Action<S, KC, V, V, V, int> SiluBackward => Get(ref _siluBackward, ElementwiseKernels.SiluBackward);

    private Action<S, KC, V, V, int, int, int, float>? _reduce, _expand;
    public Action<S, KC, V, V, int, int, int, float> ResampleReduce => Get(ref _reduce, ResampleKernels.Reduce);
    public Action<S, KC, V, V, int, int, int, float> ResampleExpand => Get(ref _expand, ResampleKernels.Expand);

    private Action<S, KC, V, V, V, V, V, V, V, GroupNormArgs>? _gnForward;
    public Action<S, KC, V, V, V, V, V, V, V, GroupNormArgs> GroupNormForward => Get(ref _gnForward, GroupNormKernels.Forward);
    private Action<S, KC, V, V, V, V, V, V, V, V, V, V, V, GroupNormArgs>? _gnBackward;
    public Action<S, KC, V, V, V, V, V, V, V, V, V, V, V, GroupNormArgs> GroupNormBackward => Get(ref _gnBackward, GroupNormKernels.Backward);

    private Action<S, KC, V, V, V, ScaleShiftArgs>? _ssForward;
    public Action<S, KC, V, V, V, ScaleShiftArgs> ScaleShiftForward => Get(ref _ssForward, ScaleShiftKernels.Forward);
    private Action<S, KC, V, V, V, V, V, ScaleShiftArgs>? _ssBackward;
    public Action<S, KC, V, V, V, V, V, ScaleShiftArgs> ScaleShiftBackward => Get(ref _ssBackward, ScaleShiftKernels.Backward);

    private Action<S, KC, StridedMatrix, StridedMatrix, GemmTarget, GemmShape>? _gemm;
    public Action<S, KC, StridedMatrix, StridedMatrix, GemmTarget, GemmShape> Gemm => Get(ref _gemm, GemmKernels.Tiled<StridedMatrix, StridedMatrix>);
    private Action<S, KC, StridedMatrix, ConvPatches, GemmTarget, GemmShape>? _convForward;
    public Action<S, KC, StridedMatrix, ConvPatches, GemmTarget, GemmShape> ConvForward => Get(ref _convForward, GemmKernels.Tiled<StridedMatrix, ConvPatches>);
    private Action<S, KC, FilterByInput, ConvPatches, GemmTarget, GemmShape>? _convData;
    public Action<S, KC, FilterByInput, ConvPatches, GemmTarget, GemmShape> ConvBackwardData => Get(ref _convData, GemmKernels.Tiled<FilterByInput, ConvPatches>);
    private Action<S, KC, ChannelRows, PatchRows, GemmTarget, GemmShape>? _convFilter;
    public Action<S, KC, ChannelRows, PatchRows, GemmTarget, GemmShape> ConvBackwardFilter => Get(ref _convFilter, GemmKernels.Tiled<ChannelRows, PatchRows>);

    private Action<S, KC, V, int, int>? _softmax;
    public Action<S, KC, V, int, int> SoftmaxRows => Get(ref _softmax, AttentionKernels.SoftmaxRows);
    private Action<S, KC, V, V, int, int>? _softmaxBackward;
    public Action<S, KC, V, V, int, int> SoftmaxBackwardRows => Get(ref _softmaxBackward, AttentionKernels.SoftmaxBackwardRows);

    private Action<S, KC, V, V, V, V, V, int, int, int>? _concat, _concatBackward;
    public Action<S, KC, V, V, V, V, V, int, int, int> Concat => Get(ref _concat, ConcatKernels.Forward);
    public Action<S, KC, V, V, V, V, V, int, int, int> ConcatBackward => Get(ref _concatBackward, ConcatKernels.Backward);

    private Action<S, KC, V, V, V, V, int, int, float, float>? _scaleAdd;
    public Action<S, KC, V, V, V, V, int, int, float, float> ScaleAddPerSample => Get(ref _scaleAdd, PerSampleKernels.ScaleAdd);
    private Action<S, KC, V, V, V, V, int, int>? _select;
    public Action<S, KC, V, V, V, V, int, int> SelectPerSample => Get(ref _select, PerSampleKernels.Select);
    private Action<S, KC, V, V, V, int, int>? _reparameterize;
    public Action<S, KC, V, V, V, int, int> Reparameterize => Get(ref _reparameterize, PerSampleKernels.Reparameterize);
    private Action<S, KC, V, V, V, V, int, int>? _reparameterizeBackward;
    public Action<S, KC, V, V, V, V, int, int> ReparameterizeBackward => Get(ref _reparameterizeBackward, PerSampleKernels.ReparameterizeBackward);

    private Action<S, KC, V, V, V, V, V, V, V, V, CatchUpArgs>? _catchUp;
    public Action<S, KC, V, V, V, V, V, V, V, V, CatchUpArgs> CatchUpPoint => Get(ref _catchUp, CatchUpKernels.Point);
    private Action<S, KC, V, V, V, V, AdamArgs>? _adam;
    public Action<S, KC, V, V, V, V, AdamArgs> Adam => Get(ref _adam, OptimizerKernels.Adam);
    private Action<S, KC, V, V, int, float>? _ema;
    public Action<S, KC, V, V, int, float> Ema => Get(ref _ema, OptimizerKernels.Ema);
    private Action<S, KC, V, VD, V, int, int>? _embedding;
    public Action<S, KC, V, VD, V, int, int> PositionalEmbedding => Get(ref _embedding, EmbeddingKernels.Positional);

    private Action<S, KC, V, V, int, int>? _sumRows, _addRowBias;
    public Action<S, KC, V, V, int, int> SumRowsAccumulate => Get(ref _sumRows, ReductionKernels.SumRowsAccumulate);
    public Action<S, KC, V, V, int, int> AddRowBias => Get(ref _addRowBias, ReductionKernels.AddRowBias);
    private Action<S, KC, V, V, int, int, int>? _channelSum, _addChannelBias;
    public Action<S, KC, V, V, int, int, int> ChannelSumAccumulate => Get(ref _channelSum, ReductionKernels.ChannelSumAccumulate);
    public Action<S, KC, V, V, int, int, int> AddChannelBias => Get(ref _addChannelBias, ReductionKernels.AddChannelBias);
    private Action<S, KC, V, VD, int, int>? _sumSquares;
    public Action<S, KC, V, VD, int, int> SumSquaresPartial => Get(ref _sumSquares, ReductionKernels.SumSquaresPartial);
    private Action<S, KC, VD, VD, int>? _finishSum;
    public Action<S, KC, VD, VD, int> FinishSum => Get(ref _finishSum, ReductionKernels.FinishSum);
    private Action<S, KC, V, V, V, VD, int, float, int>? _mse;
    public Action<S, KC, V, V, V, VD, int, float, int> MsePartial => Get(ref _mse, LossKernels.MsePartial);
    private Action<S, KC, V, V, VD, int, int, float, float, int>? _kl;
    public Action<S, KC, V, V, VD, int, int, float, float, int> KlPartial => Get(ref _kl, LossKernels.KlPartial);
}
