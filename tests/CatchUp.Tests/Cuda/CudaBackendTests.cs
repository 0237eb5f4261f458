using CatchUp.Backends;
using CatchUp.Backends.Cpu;
using CatchUp.Backends.Cuda;
using CatchUp.Tensors;
using Xunit;

namespace CatchUp.Tests.Cuda;

/// <summary>One CUDA backend and one CPU reference for all GPU tests of a run.</summary>
public sealed class GpuFixture : IDisposable
{
    private readonly Lazy<CudaBackend> _gpu = new(() => new CudaBackend());
    public CpuBackend Cpu { get; } = new(2);
    public CudaBackend Gpu => _gpu.Value;

    public void Dispose()
    {
        if (_gpu.IsValueCreated) _gpu.Value.Dispose();
        Cpu.Dispose();
    }
}

/// <summary>The CUDA backend against the CPU backend (<see cref="BackendConformance"/>): every op, the whole network
/// forward/backward and a complete CUD RK12 training step. Skipped where there is no GPU.</summary>
public sealed class CudaBackendTests(GpuFixture fixture) : IClassFixture<GpuFixture>
{
    public static TheoryData<string> Checks => new(BackendConformance.Names);

    [GpuTheory, MemberData(nameof(Checks))]
    public void MatchesTheCpuBackend(string check)
    {
        var r = BackendConformance.Run(check, fixture.Cpu, fixture.Gpu);
        Assert.True(r.Passed, $"{check}: error {r.Error:E2} > {r.Tolerance:E0} at {r.Worst}");
    }

    [GpuFact]
    public void UploadDownloadRoundTripsAndAllocationsAreZeroed()
    {
        var gpu = fixture.Gpu;
        var data = Enumerable.Range(0, 1001).Select(i => i * 0.5f - 3f).ToArray();
        using (var t = gpu.FromArray(data, 7, 11, 13)) Assert.Equal(data, t.ToArray());
        using var again = gpu.Allocate([7, 11, 13]);   // recycled block: must come back zeroed
        Assert.All(again.ToArray(), v => Assert.Equal(0f, v));
    }

    [GpuFact]
    public void SteadyStateStepsAllocateNoDeviceMemory()
    {
        var gpu = fixture.Gpu;
        Tensor? a = null;
        for (int i = 0; i < 3; i++) gpu.Ensure(ref a, 64, 64).Dispose();
        long before = gpu.AllocationCount;
        for (int i = 0; i < 10; i++)
        {
            using var t = gpu.Allocate([64, 64]);
            gpu.Fill(t, i);
        }
        Assert.Equal(before, gpu.AllocationCount);
    }

    [GpuFact]
    public void ShapeErrorsAreArgumentExceptions()
    {
        var gpu = fixture.Gpu;
        using var a = gpu.Allocate([3]);
        using var b = gpu.Allocate([4]);
        Assert.Throws<ArgumentException>(() => gpu.Axpby(1f, a, 1f, b));
        Assert.Throws<ArgumentException>(() => gpu.Upload(new float[5], a));
    }
}
