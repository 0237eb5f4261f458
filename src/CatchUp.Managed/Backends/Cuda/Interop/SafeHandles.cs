using System.Runtime.InteropServices;

namespace CatchUp.Backends.Cuda.Interop;

/// <summary>Owner of one native CUDA/cuBLAS/cuDNN object; 0 is the invalid value.</summary>
internal abstract class CudaSafeHandle : SafeHandle
{
    protected CudaSafeHandle() : base(0, ownsHandle: true) { }
    public override bool IsInvalid => handle == 0;
    public nint Value => handle;
    protected void Set(nint value) => SetHandle(value);
}

/// <summary>A retained primary context of one device, released on dispose.</summary>
internal sealed unsafe class PrimaryContextHandle : CudaSafeHandle
{
    public int Device { get; private init; }

    public static PrimaryContextHandle Retain(int device)
    {
        nint ctx;
        CudaDriver.Check(CudaDriver.cuDevicePrimaryCtxRetain(&ctx, device), "cuDevicePrimaryCtxRetain");
        var h = new PrimaryContextHandle { Device = device };
        h.Set(ctx);
        return h;
    }

    protected override bool ReleaseHandle() => CudaDriver.cuDevicePrimaryCtxRelease(Device) == 0;
}

internal sealed unsafe class StreamHandle : CudaSafeHandle
{
    public static StreamHandle Create()
    {
        nint s;
        CudaDriver.Check(CudaDriver.cuStreamCreate(&s, 0), "cuStreamCreate");
        var h = new StreamHandle();
        h.Set(s);
        return h;
    }

    protected override bool ReleaseHandle() => CudaDriver.cuStreamDestroy(handle) == 0;
}

internal sealed unsafe class CudaModuleHandle : CudaSafeHandle
{
    /// <summary>JIT-compiles PTX text; a failure carries the JIT's error log.</summary>
    public static CudaModuleHandle Load(string name, string ptx)
    {
        byte[] image = System.Text.Encoding.UTF8.GetBytes(ptx + "\0");
        const int LogSize = 8192;
        byte* log = stackalloc byte[LogSize];
        log[0] = 0;
        int* options = stackalloc int[] { CudaDriver.CU_JIT_ERROR_LOG_BUFFER, CudaDriver.CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES };
        void** values = stackalloc void*[] { log, (void*)LogSize };
        nint module;
        int result;
        fixed (byte* p = image) result = CudaDriver.cuModuleLoadDataEx(&module, p, 2, options, values);
        if (result != 0)
            throw new CudaException($"cuModuleLoadDataEx failed for {name}.ptx: {CudaDriver.Describe(result)}: {Marshal.PtrToStringUTF8((nint)log)}");
        var h = new CudaModuleHandle();
        h.Set(module);
        return h;
    }

    protected override bool ReleaseHandle() => CudaDriver.cuModuleUnload(handle) == 0;
}

/// <summary>One cuMemAlloc'd block; the pointer is a CUdeviceptr.</summary>
internal sealed unsafe class DeviceMemoryHandle : CudaSafeHandle
{
    public long Bytes { get; private init; }
    public ulong Pointer => (ulong)handle;

    public static DeviceMemoryHandle Allocate(long bytes)
    {
        ulong p;
        int result = CudaDriver.cuMemAlloc(&p, (nuint)bytes);
        if (result != 0) throw new CudaException($"cuMemAlloc_v2 failed: {CudaDriver.Describe(result)} (requested {bytes:N0} bytes)");
        var h = new DeviceMemoryHandle { Bytes = bytes };
        h.Set((nint)p);
        return h;
    }

    protected override bool ReleaseHandle() => CudaDriver.cuMemFree((ulong)handle) == 0;
}

internal sealed unsafe class CublasHandle : CudaSafeHandle
{
    public static CublasHandle Create(nint stream, bool allowTf32)
    {
        nint h;
        CuBlas.Check(CuBlas.cublasCreate(&h), "cublasCreate_v2");
        var handle = new CublasHandle();
        handle.Set(h);
        CuBlas.Check(CuBlas.cublasSetStream(h, stream), "cublasSetStream_v2");
        CuBlas.Check(CuBlas.cublasSetMathMode(h, allowTf32 ? CuBlas.Tf32TensorOpMath : CuBlas.DefaultMath), "cublasSetMathMode");
        return handle;
    }

    protected override bool ReleaseHandle() => CuBlas.cublasDestroy(handle) == 0;
}

internal sealed unsafe class CudnnHandle : CudaSafeHandle
{
    public static CudnnHandle Create(nint stream)
    {
        nint h;
        CuDnn.Check(CuDnn.cudnnCreate(&h), "cudnnCreate");
        var handle = new CudnnHandle();
        handle.Set(h);
        CuDnn.Check(CuDnn.cudnnSetStream(h, stream), "cudnnSetStream");
        return handle;
    }

    protected override bool ReleaseHandle() => CuDnn.cudnnDestroy(handle) == 0;
}

/// <summary>An NCHW float32 tensor descriptor.</summary>
internal sealed unsafe class TensorDescriptorHandle : CudaSafeHandle
{
    public static TensorDescriptorHandle Create(int n, int c, int h, int w)
    {
        nint d;
        CuDnn.Check(CuDnn.cudnnCreateTensorDescriptor(&d), "cudnnCreateTensorDescriptor");
        var handle = new TensorDescriptorHandle();
        handle.Set(d);
        CuDnn.Check(CuDnn.cudnnSetTensor4dDescriptor(d, CuDnn.TensorNchw, CuDnn.DataFloat, n, c, h, w), "cudnnSetTensor4dDescriptor");
        return handle;
    }

    protected override bool ReleaseHandle() => CuDnn.cudnnDestroyTensorDescriptor(handle) == 0;
}

/// <summary>A [k, c, h, w] float32 filter descriptor.</summary>
internal sealed unsafe class FilterDescriptorHandle : CudaSafeHandle
{
    public static FilterDescriptorHandle Create(int k, int c, int h, int w)
    {
        nint d;
        CuDnn.Check(CuDnn.cudnnCreateFilterDescriptor(&d), "cudnnCreateFilterDescriptor");
        var handle = new FilterDescriptorHandle();
        handle.Set(d);
        CuDnn.Check(CuDnn.cudnnSetFilter4dDescriptor(d, CuDnn.DataFloat, CuDnn.TensorNchw, k, c, h, w), "cudnnSetFilter4dDescriptor");
        return handle;
    }

    protected override bool ReleaseHandle() => CuDnn.cudnnDestroyFilterDescriptor(handle) == 0;
}

/// <summary>A stride-1 cross-correlation (what PyTorch and the CPU backend call convolution) with padding k/2.</summary>
internal sealed unsafe class ConvolutionDescriptorHandle : CudaSafeHandle
{
    public static ConvolutionDescriptorHandle Create(int padding, bool allowTf32)
    {
        nint d;
        CuDnn.Check(CuDnn.cudnnCreateConvolutionDescriptor(&d), "cudnnCreateConvolutionDescriptor");
        var handle = new ConvolutionDescriptorHandle();
        handle.Set(d);
        CuDnn.Check(CuDnn.cudnnSetConvolution2dDescriptor(d, padding, padding, 1, 1, 1, 1, CuDnn.CrossCorrelation, CuDnn.DataFloat),
            "cudnnSetConvolution2dDescriptor");
        CuDnn.Check(CuDnn.cudnnSetConvolutionMathType(d, allowTf32 ? CuDnn.DefaultMath : CuDnn.FmaMath), "cudnnSetConvolutionMathType");
        return handle;
    }

    protected override bool ReleaseHandle() => CuDnn.cudnnDestroyConvolutionDescriptor(handle) == 0;
}
