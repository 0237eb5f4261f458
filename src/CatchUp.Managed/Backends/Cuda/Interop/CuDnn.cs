using System.Runtime.InteropServices;

namespace CatchUp.Backends.Cuda.Interop;

/// <summary>The cuDNN 9 calls the backend uses: NCHW float32 tensor/filter/convolution descriptors, algorithm
/// heuristics (the *_v7 queries), workspace sizes and the three convolution passes.</summary>
internal static unsafe partial class CuDnn
{
    static CuDnn() => NativeLibraries.EnsureRegistered();

    public const int TensorNchw = 0;
    public const int DataFloat = 0;
    public const int CrossCorrelation = 1;
    /// <summary>cudnnMathType_t: CUDNN_FMA_MATH forbids tensor-op (TF32) algorithms; CUDNN_DEFAULT_MATH allows them on Ampere+.</summary>
    public const int DefaultMath = 0, FmaMath = 3;
    public const int Deterministic = 1;

    /// <summary>cudnnConvolution{Fwd,BwdData,BwdFilter}AlgoPerf_t: the three structs share this layout.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct AlgoPerf
    {
        public int Algo;
        public int Status;
        public float Time;
        public nuint Memory;
        public int Determinism;
        public int MathType;
        public int Reserved0, Reserved1, Reserved2;
    }

    [LibraryImport(NativeLibraries.Cudnn)] public static partial int cudnnCreate(nint* handle);
    [LibraryImport(NativeLibraries.Cudnn)] public static partial int cudnnDestroy(nint handle);
    [LibraryImport(NativeLibraries.Cudnn)] public static partial int cudnnSetStream(nint handle, nint stream);
    [LibraryImport(NativeLibraries.Cudnn)] public static partial nuint cudnnGetVersion();
    [LibraryImport(NativeLibraries.Cudnn)] public static partial byte* cudnnGetErrorString(int status);

    [LibraryImport(NativeLibraries.Cudnn)] public static partial int cudnnCreateTensorDescriptor(nint* descriptor);
    [LibraryImport(NativeLibraries.Cudnn)] public static partial int cudnnSetTensor4dDescriptor(nint descriptor, int format, int dataType, int n, int c, int h, int w);
    [LibraryImport(NativeLibraries.Cudnn)] public static partial int cudnnDestroyTensorDescriptor(nint descriptor);
    [LibraryImport(NativeLibraries.Cudnn)] public static partial int cudnnCreateFilterDescriptor(nint* descriptor);
    [LibraryImport(NativeLibraries.Cudnn)] public static partial int cudnnSetFilter4dDescriptor(nint descriptor, int dataType, int format, int k, int c, int h, int w);
    [LibraryImport(NativeLibraries.Cudnn)] public static partial int cudnnDestroyFilterDescriptor(nint descriptor);
    [LibraryImport(NativeLibraries.Cudnn)] public static partial int cudnnCreateConvolutionDescriptor(nint* descriptor);
    [LibraryImport(NativeLibraries.Cudnn)]
    public static partial int cudnnSetConvolution2dDescriptor(nint descriptor, int padH, int padW, int strideH, int strideW,
        int dilationH, int dilationW, int mode, int computeType);
    [LibraryImport(NativeLibraries.Cudnn)] public static partial int cudnnSetConvolutionMathType(nint descriptor, int mathType);
    [LibraryImport(NativeLibraries.Cudnn)] public static partial int cudnnDestroyConvolutionDescriptor(nint descriptor);

    [LibraryImport(NativeLibraries.Cudnn)]
    public static partial int cudnnGetConvolutionForwardAlgorithm_v7(nint handle, nint x, nint w, nint conv, nint y,
        int requested, int* returned, AlgoPerf* results);
    [LibraryImport(NativeLibraries.Cudnn)]
    public static partial int cudnnGetConvolutionBackwardDataAlgorithm_v7(nint handle, nint w, nint dy, nint conv, nint dx,
        int requested, int* returned, AlgoPerf* results);
    [LibraryImport(NativeLibraries.Cudnn)]
    public static partial int cudnnGetConvolutionBackwardFilterAlgorithm_v7(nint handle, nint x, nint dy, nint conv, nint dw,
        int requested, int* returned, AlgoPerf* results);
    [LibraryImport(NativeLibraries.Cudnn)]
    public static partial int cudnnGetConvolutionForwardWorkspaceSize(nint handle, nint x, nint w, nint conv, nint y, int algo, nuint* bytes);
    [LibraryImport(NativeLibraries.Cudnn)]
    public static partial int cudnnGetConvolutionBackwardDataWorkspaceSize(nint handle, nint w, nint dy, nint conv, nint dx, int algo, nuint* bytes);
    [LibraryImport(NativeLibraries.Cudnn)]
    public static partial int cudnnGetConvolutionBackwardFilterWorkspaceSize(nint handle, nint x, nint dy, nint conv, nint dw, int algo, nuint* bytes);

    [LibraryImport(NativeLibraries.Cudnn)]
    public static partial int cudnnConvolutionForward(nint handle, float* alpha, nint xDesc, ulong x, nint wDesc, ulong w, nint conv,
        int algo, ulong workspace, nuint workspaceBytes, float* beta, nint yDesc, ulong y);
    [LibraryImport(NativeLibraries.Cudnn)]
    public static partial int cudnnConvolutionBackwardData(nint handle, float* alpha, nint wDesc, ulong w, nint dyDesc, ulong dy, nint conv,
        int algo, ulong workspace, nuint workspaceBytes, float* beta, nint dxDesc, ulong dx);
    [LibraryImport(NativeLibraries.Cudnn)]
    public static partial int cudnnConvolutionBackwardFilter(nint handle, float* alpha, nint xDesc, ulong x, nint dyDesc, ulong dy, nint conv,
        int algo, ulong workspace, nuint workspaceBytes, float* beta, nint dwDesc, ulong dw);

    public static void Check(int status, string call)
    {
        if (status == 0) return;
        string name;
        try { name = Marshal.PtrToStringUTF8((nint)cudnnGetErrorString(status)) ?? $"cudnnStatus {status}"; }
        catch (EntryPointNotFoundException) { name = $"cudnnStatus {status}"; }
        throw new CudaException($"{call} failed: {name} ({status})");
    }
}
