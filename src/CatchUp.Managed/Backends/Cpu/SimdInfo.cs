using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CatchUp.Backends.Cpu;

/// <summary>What vector width the kernels use on this machine.</summary>
public static class SimdInfo
{
    /// <summary>
    /// True when the CPU has AVX-512F. Deliberately not Vector512.IsHardwareAccelerated: on many Xeons the JIT reports
    /// false there (it merely prefers 256-bit vectors unless DOTNET_PreferredVectorBitWidth=512) while Vector512 code
    /// still compiles to full-speed zmm instructions, measured here at the same FMA throughput either way.
    /// </summary>
    public static bool HasAvx512 => Avx512F.IsSupported;
    public static bool HasFma => Fma.IsSupported;
    public static string Description => HasAvx512 ? "AVX-512" : Vector256.IsHardwareAccelerated ? "AVX2" : "scalar";
}
