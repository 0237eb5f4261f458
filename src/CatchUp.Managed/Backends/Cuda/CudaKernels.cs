using System.Reflection;

namespace CatchUp.Backends.Cuda;

/// <summary>
/// Every kernel the CUDA backend launches, with the parameter list it passes (native/kernels/*.cu). Launches go
/// through these declarations only (<see cref="KernelLibrary.Launch"/> takes one and checks the arguments against it),
/// and a test checks each against the entry of the same name in the embedded PTX.
/// Signature letters: p = device pointer, i = int, u = unsigned 64-bit, f = float.
/// </summary>
public static class CudaKernels
{
    /// <summary>Threads per block of every launch (BLOCK in cuda_compat.h; the block reductions assume it).</summary>
    public const int BlockSize = 256;
    /// <summary>Blocks of the first stage of scalar reductions (one double partial each).</summary>
    public const int ReductionBlocks = 512;

    // elementwise.cu
    public static readonly KernelDeclaration Axpby = new("cu_axpby", "ppiff");
    public static readonly KernelDeclaration AddScale = new("cu_add_scale", "pppif");
    public static readonly KernelDeclaration Silu = new("cu_silu", "ppi");
    public static readonly KernelDeclaration SiluBackward = new("cu_silu_backward", "pppi");
    // resample.cu
    public static readonly KernelDeclaration ResampleReduce = new("cu_resample_reduce", "ppiiif");
    public static readonly KernelDeclaration ResampleExpand = new("cu_resample_expand", "ppiiif");
    // concat.cu
    public static readonly KernelDeclaration ConcatScaled = new("cu_concat_scaled", "pppppiii");
    public static readonly KernelDeclaration ConcatScaledBackward = new("cu_concat_scaled_backward", "pppppiii");
    // per_sample.cu
    public static readonly KernelDeclaration ScaleAddPerSample = new("cu_scale_add_per_sample", "ppppiiff");
    public static readonly KernelDeclaration SelectPerSample = new("cu_select_per_sample", "ppppii");
    public static readonly KernelDeclaration Reparameterize = new("cu_reparameterize", "pppii");
    public static readonly KernelDeclaration ReparameterizeBackward = new("cu_reparameterize_backward", "ppppii");
    // catchup.cu
    public static readonly KernelDeclaration CatchUpPoint = new("cu_catchup_point", "ppppppppiiffffif");
    // groupnorm.cu
    public static readonly KernelDeclaration GroupNormForward = new("cu_groupnorm_forward", "pppppppiiifiiuif");
    public static readonly KernelDeclaration GroupNormBackward = new("cu_groupnorm_backward", "pppppppppppiiiiiuif");
    // scale_shift.cu
    public static readonly KernelDeclaration ScaleShiftForward = new("cu_scale_shift_forward", "pppiiiiiuif");
    public static readonly KernelDeclaration ScaleShiftBackward = new("cu_scale_shift_backward", "pppppiiiiiuif");
    // reduce.cu
    public static readonly KernelDeclaration SumRowsAccumulate = new("cu_sum_rows_accumulate", "ppii");
    public static readonly KernelDeclaration ChannelSumAccumulate = new("cu_channel_sum_accumulate", "ppiii");
    public static readonly KernelDeclaration AddChannelBias = new("cu_add_channel_bias", "ppiii");
    public static readonly KernelDeclaration AddRowBias = new("cu_add_row_bias", "ppii");
    public static readonly KernelDeclaration FinishSum = new("cu_finish_sum", "ppi");
    // loss.cu
    public static readonly KernelDeclaration MsePartial = new("cu_mse_partial", "ppppif");
    public static readonly KernelDeclaration KlPartial = new("cu_kl_partial", "pppiiff");
    public static readonly KernelDeclaration SumSquaresPartial = new("cu_sum_squares_partial", "ppi");
    // optimizer.cu
    public static readonly KernelDeclaration Adam = new("cu_adam", "ppppifffffffi");
    public static readonly KernelDeclaration Ema = new("cu_ema", "ppif");
    // attention.cu
    public static readonly KernelDeclaration SoftmaxRows = new("cu_softmax_rows", "pii");
    public static readonly KernelDeclaration SoftmaxBackwardRows = new("cu_softmax_backward_rows", "ppii");
    // embedding.cu
    public static readonly KernelDeclaration PositionalEmbedding = new("cu_positional_embedding", "pppii");

    /// <summary>All declarations above.</summary>
    public static IReadOnlyList<KernelDeclaration> All { get; } = typeof(CudaKernels)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.FieldType == typeof(KernelDeclaration))
        .Select(f => (KernelDeclaration)f.GetValue(null)!)
        .ToArray();
}
