using System.Runtime.InteropServices;

namespace CatchUp.Backends.Cuda.Interop;

/// <summary>The subset of the CUDA driver API (libcuda.so.1) the backend uses. Every call returns a CUresult that
/// <see cref="Check"/> turns into a <see cref="CudaException"/> naming the call.</summary>
internal static unsafe partial class CudaDriver
{
    static CudaDriver() => NativeLibraries.EnsureRegistered();

    public const int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
    public const int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
    public const int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
    public const int CU_JIT_ERROR_LOG_BUFFER = 5;
    public const int CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;

    [LibraryImport(NativeLibraries.Driver)] public static partial int cuInit(uint flags);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuDriverGetVersion(int* version);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuDeviceGetCount(int* count);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuDeviceGet(int* device, int ordinal);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuDeviceGetName(byte* name, int length, int device);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuDeviceGetAttribute(int* value, int attribute, int device);
    [LibraryImport(NativeLibraries.Driver, EntryPoint = "cuDeviceTotalMem_v2")] public static partial int cuDeviceTotalMem(nuint* bytes, int device);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuDevicePrimaryCtxRetain(nint* context, int device);
    [LibraryImport(NativeLibraries.Driver, EntryPoint = "cuDevicePrimaryCtxRelease_v2")] public static partial int cuDevicePrimaryCtxRelease(int device);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuCtxSetCurrent(nint context);
    [LibraryImport(NativeLibraries.Driver, EntryPoint = "cuMemAlloc_v2")] public static partial int cuMemAlloc(ulong* pointer, nuint bytes);
    [LibraryImport(NativeLibraries.Driver, EntryPoint = "cuMemFree_v2")] public static partial int cuMemFree(ulong pointer);
    [LibraryImport(NativeLibraries.Driver, EntryPoint = "cuMemcpyHtoDAsync_v2")] public static partial int cuMemcpyHtoDAsync(ulong destination, void* source, nuint bytes, nint stream);
    [LibraryImport(NativeLibraries.Driver, EntryPoint = "cuMemcpyDtoHAsync_v2")] public static partial int cuMemcpyDtoHAsync(void* destination, ulong source, nuint bytes, nint stream);
    [LibraryImport(NativeLibraries.Driver, EntryPoint = "cuMemcpyDtoDAsync_v2")] public static partial int cuMemcpyDtoDAsync(ulong destination, ulong source, nuint bytes, nint stream);
    [LibraryImport(NativeLibraries.Driver, EntryPoint = "cuMemsetD32Async")] public static partial int cuMemsetD32Async(ulong destination, uint value, nuint count, nint stream);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuModuleLoadDataEx(nint* module, void* image, uint optionCount, int* options, void** optionValues);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuModuleUnload(nint module);
    [LibraryImport(NativeLibraries.Driver, StringMarshalling = StringMarshalling.Utf8)] public static partial int cuModuleGetFunction(nint* function, nint module, string name);
    [LibraryImport(NativeLibraries.Driver)]
    public static partial int cuLaunchKernel(nint function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
        uint sharedBytes, nint stream, void** parameters, void** extra);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuStreamCreate(nint* stream, uint flags);
    [LibraryImport(NativeLibraries.Driver, EntryPoint = "cuStreamDestroy_v2")] public static partial int cuStreamDestroy(nint stream);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuStreamSynchronize(nint stream);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuGetErrorName(int result, byte** name);
    [LibraryImport(NativeLibraries.Driver)] public static partial int cuGetErrorString(int result, byte** description);

    /// <summary>Throws "<paramref name="call"/> failed: CUDA_ERROR_X (description)" unless <paramref name="result"/> is CUDA_SUCCESS.</summary>
    public static void Check(int result, string call)
    {
        if (result != 0) throw new CudaException($"{call} failed: {Describe(result)}");
    }

    public static string Describe(int result)
    {
        byte* name = null, text = null;
        try
        {
            cuGetErrorName(result, &name);
            cuGetErrorString(result, &text);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return $"CUresult {result}";
        }
        string n = name != null ? Marshal.PtrToStringUTF8((nint)name)! : $"CUresult {result}";
        return text != null ? $"{n} ({Marshal.PtrToStringUTF8((nint)text)})" : n;
    }
}
