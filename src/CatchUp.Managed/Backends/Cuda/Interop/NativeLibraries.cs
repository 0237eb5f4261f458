using System.Reflection;
using System.Runtime.InteropServices;

namespace CatchUp.Backends.Cuda.Interop;

/// <summary>
/// Maps the logical library names of the P/Invoke declarations ("cuda", "cublas", "cudnn") to the versioned sonames
/// the NVIDIA packages install, trying each in order (libcuda.so.1 is the driver's ABI name; cuBLAS 12 or 11; cuDNN 9).
/// </summary>
internal static class NativeLibraries
{
    public const string Driver = "cuda";
    public const string Cublas = "cublas";
    public const string Cudnn = "cudnn";

    private static readonly Dictionary<string, string[]> Candidates = new()
    {
        [Driver] = ["libcuda.so.1", "libcuda.so"],
        [Cublas] = ["libcublas.so.12", "libcublas.so.11", "libcublas.so"],
        [Cudnn] = ["libcudnn.so.9", "libcudnn.so"],
    };

    private static int _registered;

    /// <summary>Installs the resolver once; every interop class calls this from its static constructor.</summary>
    public static void EnsureRegistered()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 0)
            NativeLibrary.SetDllImportResolver(typeof(NativeLibraries).Assembly, Resolve);
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (!Candidates.TryGetValue(name, out var sonames)) return 0;
        foreach (var soname in sonames)
            if (NativeLibrary.TryLoad(soname, assembly, searchPath, out var handle)) return handle;
        throw new DllNotFoundException($"{name}: none of {string.Join(", ", sonames)} could be loaded");
    }
}
