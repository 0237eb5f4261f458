using CatchUp.Backends;
using CatchUp.Backends.Cpu;
using CatchUp.Backends.Cuda;
using CatchUp.Backends.Cuda.Interop;
using Xunit;

namespace CatchUp.Tests.Cuda;

/// <summary>The conformance harness itself, device selection and the GPU-skip logic; all of it runs without a GPU.</summary>
public sealed class BackendConformanceTests
{
    [Fact]
    public void EveryCheckPassesBetweenCpuBackendsWithDifferentThreadCounts()
    {
        using var one = new CpuBackend(1);
        using var two = new CpuBackend(2);
        var results = BackendConformance.RunAll(one, two);
        Assert.Equal(BackendConformance.Names.Count, results.Count);
        var failed = results.Where(r => !r.Passed).Select(r => $"{r.Check}: {r.Error:E2} at {r.Worst}").ToList();
        Assert.True(failed.Count == 0, string.Join("\n", failed));
    }

    [Fact]
    public void ChecksCoverEveryComputingOpOfTheBackendInterface()
    {
        var source = File.ReadAllText(RepositoryFiles.Path("src", "CatchUp.Managed", "Backends", "BackendConformance.cs"));
        string[] notComputing = ["Allocate", "Free", "Upload", "Download", "Synchronize", "Dispose", "get_Name", "get_Threads", "set_Threads"];
        var ops = typeof(IBackend).GetMethods().Select(m => m.Name).Except(notComputing).Distinct();
        var missing = ops.Where(op => !source.Contains($"s.B.{op}(")).ToList();
        Assert.True(missing.Count == 0, "IBackend ops without a conformance check: " + string.Join(", ", missing));
    }

    [Fact]
    public void CompareFindsTheWorstElementRelativeToTheScale()
    {
        var expected = new List<(string, float[])> { ("a", [1f, -4f, 2f]), ("b", [0f, 0f]) };
        Assert.Equal(0, BackendConformance.Compare(expected, expected).Error);
        var (error, worst) = BackendConformance.Compare(expected, [("a", [1f, -4f, 2.4f]), ("b", [0f, 0f])]);
        Assert.Equal(0.1, error, 6);
        Assert.StartsWith("a[2]", worst);
        Assert.Equal(0.5, BackendConformance.Compare(expected, [("a", [1f, -4f, 2f]), ("b", [0f, 0.5f])]).Error, 6);
        Assert.True(double.IsPositiveInfinity(BackendConformance.Compare(expected, [("a", [1f, float.NaN, 2f]), ("b", [0f, 0f])]).Error));
        Assert.True(double.IsPositiveInfinity(BackendConformance.Compare(expected, [("a", [1f, -4f]), ("b", [0f, 0f])]).Error));
    }

    [Fact]
    public void CpuDeviceIsCreatedAndNamed()
    {
        var log = new StringWriter();
        using var b = BackendFactory.Create("cpu", 1, log);
        Assert.IsType<CpuBackend>(b);
        Assert.StartsWith("device: cpu", log.ToString());
    }

    [Fact]
    public void UnknownDeviceIsRejected() =>
        Assert.Contains("expected cpu, cuda or auto", Assert.Throws<ArgumentException>(() => BackendFactory.Create("tpu", 1, TextWriter.Null)).Message);

    [Fact]
    public void AutoPicksCudaExactlyWhenTheProbeFindsAGpu()
    {
        bool gpu = CudaProbe.TryFindDevice(0, out var info, out string reason);
        var log = new StringWriter();
        using var b = BackendFactory.Create("auto", 1, log);
        if (gpu)
        {
            Assert.IsType<CudaBackend>(b);
            Assert.Contains(info!.Name, log.ToString());
        }
        else
        {
            Assert.IsType<CpuBackend>(b);
            Assert.Contains(reason, log.ToString());
            Assert.False(string.IsNullOrWhiteSpace(reason));
            Assert.Equal("no CUDA GPU: " + reason, GpuAvailability.SkipReason);
        }
    }

    [NoGpuFact]
    public void ExplicitCudaWithoutAGpuIsAClearError()
    {
        var e = Assert.Throws<CudaException>(() => BackendFactory.Create("cuda", 1, TextWriter.Null));
        Assert.StartsWith("--device cuda: no CUDA GPU", e.Message);
        Assert.Throws<CudaException>(() => new CudaBackend());
    }
}
