using CatchUp.Backends;
using CatchUp.Backends.Cpu;
using CatchUp.Backends.Ilgpu;
using ILGPU;
using ILGPU.Runtime.OpenCL;
using Xunit;

namespace CatchUp.Tests.Ilgpu;

/// <summary>
/// ILGPU's OpenCL accelerator. The build's set-up installs POCL (Debian's pocl-opencl-icd, a real OpenCL 3.0 runtime
/// on the CPU) and libOpenCL.so; ILGPU 1.5.3 refuses POCL 3.1's device (no generic address space), so on such a machine
/// the test holds <c>--device ilgpu-opencl</c> to naming that reason. Where ILGPU accepts an OpenCL device (an AMD or
/// Intel GPU), every conformance check runs on it instead.
/// </summary>
public sealed class IlgpuOpenClTests
{
    [Fact]
    public void AnAcceptedOpenClDevicePassesEveryCheckAndARefusedOneIsNamedWithIlgpusReason()
    {
        using var context = Context.Create(b => b.OpenCL(_ => true));
        var devices = context.Devices.OfType<CLDevice>().ToList();
        if (devices.Any(d => IlgpuDevices.OpenClRefusal(d) is null))
        {
            using var cpu = new CpuBackend(1);
            using var opencl = new IlgpuBackend(IlgpuDeviceKind.OpenCL);
            var failed = BackendConformance.RunAll(cpu, opencl).Where(r => !r.Passed).Select(BackendConformance.Describe).ToList();
            Assert.True(failed.Count == 0, string.Join("\n", failed));
            return;
        }
        var e = Assert.Throws<IlgpuDeviceException>(() => BackendFactory.Create("ilgpu-opencl", 1, TextWriter.Null));
        Assert.StartsWith("--device ilgpu-opencl: ILGPU finds no usable OpenCL device", e.Message);
        if (devices.Count == 0) Assert.Contains("ILGPU sees no OpenCL platform", e.Message);
        else
            foreach (var d in devices) Assert.Contains($"{IlgpuDevices.Describe(d)}: {IlgpuDevices.OpenClRefusal(d)}", e.Message);
        if (devices.Any(d => d.PlatformName == "Portable Computing Language")) Assert.Contains("no generic address space", e.Message);
    }
}
