namespace CatchUp.Backends.Cuda;

/// <summary>Shape of one convolution: x [N, Cin, H, W], w [Cout, Cin, K, K], y [N, Cout, H, W], padding K/2, stride 1.</summary>
public readonly record struct ConvShape(int N, int Cin, int H, int W, int Cout, int K);

/// <summary>
/// What <see cref="CudaBackend"/> needs from a device: raw memory and copies, kernel launches by declaration,
/// column-major SGEMM (cuBLAS semantics) and the three convolution passes (cuDNN semantics). <see cref="DriverRuntime"/>
/// is the real GPU (driver API, cuBLAS, cuDNN); the tests also run the backend on a host emulation of the kernels.
/// Pointers are device addresses. Work is ordered: each call sees the results of the calls before it.
/// </summary>
internal abstract unsafe class DeviceRuntime : IDisposable
{
    public abstract string Description { get; }
    /// <summary>The CUstream all work is queued on (NCCL joins it); 0 where there is none (the host emulation).</summary>
    public virtual nint ComputeStream => 0;
    public abstract ulong Allocate(long bytes);
    public abstract void Release(ulong pointer);
    public abstract void Memset32(ulong pointer, uint value, long count);
    /// <summary>Returns once <paramref name="source"/> may be reused.</summary>
    public abstract void CopyToDevice(ulong destination, void* source, long bytes);
    /// <summary>Returns once the data is in <paramref name="destination"/>.</summary>
    public abstract void CopyToHost(void* destination, ulong source, long bytes);
    public abstract void CopyOnDevice(ulong destination, ulong source, long bytes);
    public abstract void Synchronize();
    public abstract void Launch(KernelDeclaration kernel, uint blocks, ReadOnlySpan<KernelArg> args);

    /// <summary>C = alpha op(A) op(B) + beta C for each of <paramref name="batch"/> column-major matrices (cublasSgemmStridedBatched).</summary>
    public abstract void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, ulong a, int lda, long strideA,
        ulong b, int ldb, long strideB, float beta, ulong c, int ldc, long strideC, int batch);

    /// <summary>y = x * w (cross-correlation).</summary>
    public abstract void ConvForward(ConvShape s, ulong x, ulong w, ulong y);
    /// <summary>dx = dy *^T w (overwritten).</summary>
    public abstract void ConvBackwardData(ConvShape s, ulong w, ulong dy, ulong dx);
    /// <summary>dw += x *^T dy (accumulated).</summary>
    public abstract void ConvBackwardFilter(ConvShape s, ulong x, ulong dy, ulong dw);

    public abstract void Dispose();

    /// <summary>Checks arguments against the declaration (count and kinds); a pointer may go where a u64 is declared.</summary>
    protected static void CheckArguments(KernelDeclaration kernel, ReadOnlySpan<KernelArg> args)
    {
        var kinds = kernel.Params;
        if (args.Length != kinds.Length) throw new ArgumentException($"{kernel}: {args.Length} arguments passed");
        for (int i = 0; i < args.Length; i++)
        {
            bool compatible = args[i].Kind == kinds[i] || (kinds[i] == KernelParamKind.U64 && args[i].Kind == KernelParamKind.Ptr);
            if (!compatible) throw new ArgumentException($"{kernel}: argument {i} is {args[i].Kind}");
        }
    }
}
