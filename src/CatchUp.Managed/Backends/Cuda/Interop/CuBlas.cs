using System.Runtime.InteropServices;

namespace CatchUp.Backends.Cuda.Interop;

/// <summary>The cuBLAS calls the backend uses (column-major SGEMM, plain and strided batched).</summary>
internal static unsafe partial class CuBlas
{
    static CuBlas() => NativeLibraries.EnsureRegistered();

    public const int OpN = 0, OpT = 1;
    /// <summary>cublasMath_t: CUBLAS_DEFAULT_MATH is plain FP32 (TF32 only when asked for); CUBLAS_TF32_TENSOR_OP_MATH allows TF32.</summary>
    public const int DefaultMath = 0, Tf32TensorOpMath = 3;

    [LibraryImport(NativeLibraries.Cublas, EntryPoint = "cublasCreate_v2")] public static partial int cublasCreate(nint* handle);
    [LibraryImport(NativeLibraries.Cublas, EntryPoint = "cublasDestroy_v2")] public static partial int cublasDestroy(nint handle);
    [LibraryImport(NativeLibraries.Cublas, EntryPoint = "cublasSetStream_v2")] public static partial int cublasSetStream(nint handle, nint stream);
    [LibraryImport(NativeLibraries.Cublas)] public static partial int cublasSetMathMode(nint handle, int mode);
    [LibraryImport(NativeLibraries.Cublas, EntryPoint = "cublasSgemm_v2")]
    public static partial int cublasSgemm(nint handle, int transA, int transB, int m, int n, int k, float* alpha,
        ulong a, int lda, ulong b, int ldb, float* beta, ulong c, int ldc);
    [LibraryImport(NativeLibraries.Cublas)]
    public static partial int cublasSgemmStridedBatched(nint handle, int transA, int transB, int m, int n, int k, float* alpha,
        ulong a, int lda, long strideA, ulong b, int ldb, long strideB, float* beta, ulong c, int ldc, long strideC, int batchCount);
    [LibraryImport(NativeLibraries.Cublas)] public static partial byte* cublasGetStatusName(int status);

    public static void Check(int status, string call)
    {
        if (status == 0) return;
        string name;
        try { name = Marshal.PtrToStringUTF8((nint)cublasGetStatusName(status)) ?? $"cublasStatus {status}"; }
        catch (EntryPointNotFoundException) { name = $"cublasStatus {status}"; }
        throw new CudaException($"{call} failed: {name}");
    }
}
