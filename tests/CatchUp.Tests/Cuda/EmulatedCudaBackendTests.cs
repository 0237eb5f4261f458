using CatchUp.Backends;
using CatchUp.Backends.Cpu;
using CatchUp.Backends.Cuda;
using CatchUp.Tensors;
using Xunit;

namespace CatchUp.Tests.Cuda;

/// <summary>A test that needs the kernel emulator library (built by ./build.sh --target=Kernels).</summary>
public sealed class EmulatorTheoryAttribute : TheoryAttribute
{
    public EmulatorTheoryAttribute() => Skip = EmulatedRuntime.SkipReason;
}

public sealed class EmulatorFactAttribute : FactAttribute
{
    public EmulatorFactAttribute() => Skip = EmulatedRuntime.SkipReason;
}

/// <summary>
/// The CUDA backend's C# code and the CUDA kernels' logic without a GPU: <see cref="CudaBackend"/> runs on
/// <see cref="EmulatedRuntime"/> (the .cu sources compiled for the host) against the CPU backend through the same
/// conformance checks as the GPU tests.
/// </summary>
public sealed class EmulatedCudaBackendTests
{
    public static TheoryData<string> Checks => new(BackendConformance.Names);

    [EmulatorTheory, MemberData(nameof(Checks))]
    public void MatchesTheCpuBackend(string check)
    {
        using var cpu = new CpuBackend(2);
        using var emulated = new CudaBackend(new EmulatedRuntime());
        var r = BackendConformance.Run(check, cpu, emulated);
        Assert.True(r.Passed, $"{check}: error {r.Error:E2} > {r.Tolerance:E0} at {r.Worst}");
    }

    [EmulatorFact]
    public void RecycledAllocationsAreZeroedAndSteadyStateAllocatesNothing()
    {
        using var gpu = new CudaBackend(new EmulatedRuntime());
        using (var t = gpu.FromArray([1f, 2f, 3f], 3)) Assert.Equal([1f, 2f, 3f], t.ToArray());
        long count = gpu.AllocationCount;
        using var again = gpu.Allocate([3]);
        Assert.Equal([0f, 0f, 0f], again.ToArray());
        Assert.Equal(count, gpu.AllocationCount);
    }

    [EmulatorFact]
    public void SteadyStateOpsAllocateNoManagedMemory()
    {
        using var gpu = new CudaBackend(new EmulatedRuntime());
        using var x = gpu.FromArray(Enumerable.Range(0, 2 * 8 * 4 * 4).Select(i => i * 0.01f).ToArray(), 2, 8, 4, 4);
        using var y = gpu.Allocate([2, 8, 4, 4]); using var dx = gpu.Allocate([2, 8, 4, 4]);
        using var gamma = gpu.Allocate([8]); using var beta = gpu.Allocate([8]); using var mean = gpu.Allocate([2, 2]); using var rstd = gpu.Allocate([2, 2]);
        using var dgamma = gpu.Allocate([8]); using var dbeta = gpu.Allocate([8]);
        using var w = gpu.Allocate([8, 8, 3, 3]); using var dw = gpu.Allocate([8, 8, 3, 3]);
        using var t = gpu.Allocate([2]); using var time = gpu.Allocate([2]);
        void Step()
        {
            gpu.GroupNormForward(x, null, gamma, beta, 2, 1e-5f, true, new DropoutSpec(0.2f, 5), y, mean, rstd);
            gpu.GroupNormBackward(x, null, gamma, beta, 2, true, new DropoutSpec(0.2f, 5), mean, rstd, y, dx, null, dgamma, dbeta);
            gpu.Conv2dForward(x, w, gamma, y);
            gpu.Conv2dBackward(x, w, y, dx, dw, dgamma);
            gpu.CatchUpPoint(x, y, null, null, t, t, new CatchUpStep(1, 0, 0, 1, true, 1e-5f), dx, time);
            gpu.Axpby(0.5f, x, 1f, y);
            gpu.MseLoss(x, y, dx, 1f);
            gpu.SumSquares(y);
        }
        Step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Step();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [EmulatorFact]
    public void ArgumentsOfTheWrongKindAreRejectedBeforeLaunch()
    {
        using var runtime = new EmulatedRuntime();
        var e = Assert.Throws<ArgumentException>(() => runtime.Launch(CudaKernels.Silu, 1, [KernelArg.Null, KernelArg.Null, 1.5f]));
        Assert.Contains("argument 2 is F32", e.Message);
        Assert.Throws<ArgumentException>(() => runtime.Launch(CudaKernels.Silu, 1, [KernelArg.Null, KernelArg.Null]));
    }

    [EmulatorFact]
    public void TheEmulatorHasEveryDeclaredKernel()
    {
        using var runtime = new EmulatedRuntime();
        foreach (var k in CudaKernels.All)
        {
            var args = k.Params.Select(p => p switch
            {
                KernelParamKind.F32 => (KernelArg)0f, KernelParamKind.I32 => (KernelArg)0, KernelParamKind.U64 => KernelArg.U64(0), _ => KernelArg.Null,
            }).ToArray();
            runtime.Launch(k, 0, args);   // zero blocks: looks the kernel up, runs nothing
        }
    }
}
