using CatchUp.Backends.Cuda.Interop;

namespace CatchUp.Backends.Cuda;

/// <summary>
/// The real GPU: a retained primary context, one stream that everything is queued on (kernels, copies, cuBLAS,
/// cuDNN), the embedded PTX modules, and cuDNN plans with a backend-owned workspace.
/// </summary>
internal sealed unsafe class DriverRuntime : DeviceRuntime
{
    [ThreadStatic] private static nint _currentContext;

    private readonly PrimaryContextHandle _context;
    private readonly StreamHandle _stream;
    private readonly KernelLibrary _kernels;
    private readonly CublasHandle _cublas;
    private readonly CudnnHandle _cudnn;
    private readonly ConvolutionPlans _plans;
    private readonly Dictionary<ulong, DeviceMemoryHandle> _blocks = new();
    private DeviceMemoryHandle? _workspace;
    private bool _disposed;

    public DriverRuntime(int ordinal, bool allowTf32)
    {
        if (!CudaProbe.TryFindDevice(ordinal, out var info, out string reason)) throw new CudaException($"no CUDA GPU: {reason}");
        Device = info!;
        _context = PrimaryContextHandle.Retain(info!.Ordinal);
        try
        {
            MakeCurrent();
            _stream = StreamHandle.Create();
            _kernels = new KernelLibrary(_stream.Value);
            _cublas = CublasHandle.Create(_stream.Value, allowTf32);
            _cudnn = CudnnHandle.Create(_stream.Value);
            _plans = new ConvolutionPlans(_cudnn.Value, allowTf32);
        }
        catch (Exception e)
        {
            // Release what was created, and name the missing library (cuBLAS, cuDNN) as a CUDA error.
            _cudnn?.Dispose(); _cublas?.Dispose(); _kernels?.Dispose(); _stream?.Dispose(); _context.Dispose();
            if (e is DllNotFoundException or EntryPointNotFoundException)
                throw new CudaException($"CUDA libraries incomplete ({e.Message}); the backend needs libcublas.so.12 or .11 and libcudnn.so.9", e);
            throw;
        }
    }

    public CudaDeviceInfo Device { get; }
    public override string Description => $"{Device.Name}, sm_{Device.ComputeMajor}{Device.ComputeMinor}, cuDNN {CuDnn.cudnnGetVersion()}";
    private nint Stream => _stream.Value;
    public override nint ComputeStream => Stream;

    /// <summary>The context is per thread in the driver API; every entry point makes ours current (cheap when it is).</summary>
    private void MakeCurrent()
    {
        if (_currentContext == _context.Value) return;
        CudaDriver.Check(CudaDriver.cuCtxSetCurrent(_context.Value), "cuCtxSetCurrent");
        _currentContext = _context.Value;
    }

    public override ulong Allocate(long bytes)
    {
        MakeCurrent();
        var block = DeviceMemoryHandle.Allocate(bytes);
        _blocks[block.Pointer] = block;
        return block.Pointer;
    }

    public override void Release(ulong pointer)
    {
        if (_blocks.Remove(pointer, out var block)) block.Dispose();
    }

    public override void Memset32(ulong pointer, uint value, long count)
    {
        MakeCurrent();
        CudaDriver.Check(CudaDriver.cuMemsetD32Async(pointer, value, (nuint)count, Stream), "cuMemsetD32Async");
    }

    public override void CopyToDevice(ulong destination, void* source, long bytes)
    {
        MakeCurrent();
        CudaDriver.Check(CudaDriver.cuMemcpyHtoDAsync(destination, source, (nuint)bytes, Stream), "cuMemcpyHtoDAsync_v2");
        Synchronize();   // pageable source: it may be reused as soon as we return
    }

    public override void CopyToHost(void* destination, ulong source, long bytes)
    {
        MakeCurrent();
        CudaDriver.Check(CudaDriver.cuMemcpyDtoHAsync(destination, source, (nuint)bytes, Stream), "cuMemcpyDtoHAsync_v2");
        Synchronize();
    }

    public override void CopyOnDevice(ulong destination, ulong source, long bytes)
    {
        MakeCurrent();
        CudaDriver.Check(CudaDriver.cuMemcpyDtoDAsync(destination, source, (nuint)bytes, Stream), "cuMemcpyDtoDAsync_v2");
    }

    public override void Synchronize()
    {
        MakeCurrent();
        CudaDriver.Check(CudaDriver.cuStreamSynchronize(Stream), "cuStreamSynchronize");
    }

    public override void Launch(KernelDeclaration kernel, uint blocks, ReadOnlySpan<KernelArg> args)
    {
        CheckArguments(kernel, args);
        MakeCurrent();
        _kernels.Launch(kernel, blocks, args);
    }

    public override void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, ulong a, int lda, long strideA,
        ulong b, int ldb, long strideB, float beta, ulong c, int ldc, long strideC, int batch)
    {
        MakeCurrent();
        int opA = transA ? CuBlas.OpT : CuBlas.OpN, opB = transB ? CuBlas.OpT : CuBlas.OpN;
        if (batch == 1)
            CuBlas.Check(CuBlas.cublasSgemm(_cublas.Value, opA, opB, m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc), "cublasSgemm_v2");
        else
            CuBlas.Check(CuBlas.cublasSgemmStridedBatched(_cublas.Value, opA, opB, m, n, k, &alpha, a, lda, strideA, b, ldb, strideB,
                &beta, c, ldc, strideC, batch), "cublasSgemmStridedBatched");
    }

    private ulong Workspace(long bytes)
    {
        if (_workspace is not null && _workspace.Bytes >= bytes) return _workspace.Pointer;
        if (_workspace is not null)
        {
            Synchronize();   // queued work may still use the old workspace
            _workspace.Dispose();
        }
        _workspace = DeviceMemoryHandle.Allocate(Math.Max(256, bytes + bytes / 4));
        return _workspace.Pointer;
    }

    private ConvolutionPlan Plan(ConvShape s)
    {
        MakeCurrent();
        return _plans.Get(s.N, s.Cin, s.H, s.W, s.Cout, s.K);
    }

    public override void ConvForward(ConvShape s, ulong x, ulong w, ulong y)
    {
        var plan = Plan(s);
        float one = 1f, zero = 0f;
        ulong ws = Workspace(plan.ForwardWorkspace);
        CuDnn.Check(CuDnn.cudnnConvolutionForward(_cudnn.Value, &one, plan.X.Value, x, plan.W.Value, w, plan.Conv.Value, plan.ForwardAlgo,
            ws, (nuint)plan.ForwardWorkspace, &zero, plan.Y.Value, y), "cudnnConvolutionForward");
    }

    public override void ConvBackwardData(ConvShape s, ulong w, ulong dy, ulong dx)
    {
        var plan = Plan(s);
        float one = 1f, zero = 0f;
        ulong ws = Workspace(plan.BackwardDataWorkspace);
        CuDnn.Check(CuDnn.cudnnConvolutionBackwardData(_cudnn.Value, &one, plan.W.Value, w, plan.Y.Value, dy, plan.Conv.Value,
            plan.BackwardDataAlgo, ws, (nuint)plan.BackwardDataWorkspace, &zero, plan.X.Value, dx), "cudnnConvolutionBackwardData");
    }

    public override void ConvBackwardFilter(ConvShape s, ulong x, ulong dy, ulong dw)
    {
        var plan = Plan(s);
        float one = 1f;
        ulong ws = Workspace(plan.BackwardFilterWorkspace);
        CuDnn.Check(CuDnn.cudnnConvolutionBackwardFilter(_cudnn.Value, &one, plan.X.Value, x, plan.Y.Value, dy, plan.Conv.Value,
            plan.BackwardFilterAlgo, ws, (nuint)plan.BackwardFilterWorkspace, &one, plan.W.Value, dw), "cudnnConvolutionBackwardFilter");
    }

    public override void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        try { Synchronize(); } catch (CudaException) { /* a failed stream still has to be torn down */ }
        foreach (var b in _blocks.Values) b.Dispose();
        _blocks.Clear();
        _workspace?.Dispose();
        _plans.Dispose();
        _cudnn.Dispose();
        _cublas.Dispose();
        _kernels.Dispose();
        _stream.Dispose();
        _context.Dispose();
        if (_currentContext == _context.Value) _currentContext = 0;
    }
}
