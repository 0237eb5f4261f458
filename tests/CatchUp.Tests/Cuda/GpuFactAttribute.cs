using CatchUp.Backends.Cuda;
using Xunit;

namespace CatchUp.Tests.Cuda;

/// <summary>Probes for a CUDA driver and GPU once per test run.</summary>
internal static class GpuAvailability
{
    private static readonly Lazy<string?> Reason = new(() => CudaProbe.TryFindDevice(0, out _, out string why) ? null : why);

    /// <summary>Null when a GPU is present, else "no CUDA GPU: why".</summary>
    public static string? SkipReason => Reason.Value is null ? null : $"no CUDA GPU: {Reason.Value}";
}

/// <summary>A fact that needs a CUDA GPU: skipped, with the probe's reason, where there is none.</summary>
public sealed class GpuFactAttribute : FactAttribute
{
    public GpuFactAttribute() => Skip = GpuAvailability.SkipReason;
}

/// <summary>A theory that needs a CUDA GPU: skipped, with the probe's reason, where there is none.</summary>
public sealed class GpuTheoryAttribute : TheoryAttribute
{
    public GpuTheoryAttribute() => Skip = GpuAvailability.SkipReason;
}

/// <summary>A fact about the no-GPU path (clear errors, CPU fallback): skipped where a GPU is present.</summary>
public sealed class NoGpuFactAttribute : FactAttribute
{
    public NoGpuFactAttribute()
    {
        if (GpuAvailability.SkipReason is null) Skip = "a CUDA GPU is present; this checks the behaviour without one";
    }
}
