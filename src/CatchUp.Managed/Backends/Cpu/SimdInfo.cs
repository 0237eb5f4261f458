using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CatchUp.Backends.Cpu;

/// <summary>What vector width the kernels use on this machine.</summary>
public static class SimdInfo
{
    public static bool HasAvx512 => Vector512.IsHardwareAccelerated && Avx512F.IsSupported;
    public static bool HasFma => Fma.IsSupported;
    public static string Description => HasAvx512 ? "AVX-512" : Vector256.IsHardwareAccelerated ? "AVX2" : "scalar";
}
