using CatchUp.Backends;
using CatchUp.Backends.Cpu;
using CatchUp.Backends.Ilgpu;
using Xunit;

namespace CatchUp.Tests.Ilgpu;

/// <summary>One ILGPU backend on the CPU accelerator for the whole class: opening it and compiling the kernels is paid once.</summary>
public sealed class IlgpuCpuFixture : IDisposable
{
    public IlgpuBackend Backend { get; } = new(IlgpuDeviceKind.Cpu, IlgpuLaunchShape.CpuAccelerator);
    public void Dispose() => Backend.Dispose();
}

/// <summary>
/// The ILGPU kernels on ILGPU's CPU accelerator (one OS thread per simulated GPU thread, barriers are real thread
/// barriers) against the CPU backend, through every conformance check: every op, the network forward/backward and one
/// CUD RK12 training step. Small groups (16 threads, 4x4 GEMM tiles) keep it fast. The whole-ADM check is left to
/// `selftest --device ilgpu-cpu` (about 2 minutes on this accelerator, over the suite's budget): every op it uses,
/// scale-shift included, is checked here on its own.
/// </summary>
public sealed class IlgpuCpuAcceleratorTests(IlgpuCpuFixture fixture) : IClassFixture<IlgpuCpuFixture>
{
    public static TheoryData<string> Checks => new(BackendConformance.Names.Where(n => n != "adm-forward-backward"));

    [Theory, MemberData(nameof(Checks))]
    public void MatchesTheCpuBackend(string check)
    {
        using var cpu = new CpuBackend(1);
        var r = BackendConformance.Run(check, cpu, fixture.Backend);
        Assert.True(r.Passed, $"{check}: error {r.Error:E2} > {r.Tolerance:E0} at {r.Worst}");
    }
}
