using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace CatchUp.Backends.Ilgpu;

/// <summary>Which ILGPU accelerator to open: <see cref="Best"/> is a CUDA or OpenCL GPU when one is present, else the
/// CPU accelerator.</summary>
public enum IlgpuDeviceKind { Best, Cpu, OpenCL, Cuda }

/// <summary>Finds and opens ILGPU accelerators.</summary>
public static class IlgpuDevices
{
    /// <summary>
    /// ILGPU's default CPU device allows only 16 threads per group; this one is sized for <paramref name="maxGroupSize"/>
    /// (warps of 4 threads) and runs <paramref name="multiprocessors"/> groups at a time, each group on its own OS threads.
    /// </summary>
    public static CPUDevice CpuDevice(int maxGroupSize, int multiprocessors = 1) =>
        new(4, Math.Max(1, maxGroupSize / 4), Math.Max(1, multiprocessors));

    /// <summary>A context with the CPU accelerator and, unless only the CPU is wanted, ILGPU's CUDA and OpenCL devices.</summary>
    internal static Context CreateContext(IlgpuDeviceKind kind, CPUDevice cpu) => Context.Create(builder =>
    {
        builder.CPU(cpu).Optimize(OptimizationLevel.O1);
        if (kind is IlgpuDeviceKind.Best or IlgpuDeviceKind.Cuda) builder.Cuda();
        if (kind is IlgpuDeviceKind.Best or IlgpuDeviceKind.OpenCL) builder.OpenCL();
    });

    /// <summary>The device of <paramref name="kind"/> in <paramref name="context"/>; throws <see cref="IlgpuDeviceException"/>
    /// naming what is missing.</summary>
    internal static Device Pick(Context context, IlgpuDeviceKind kind)
    {
        var devices = context.Devices;
        Device? found = kind switch
        {
            IlgpuDeviceKind.Cpu => devices.FirstOrDefault(d => d.AcceleratorType == AcceleratorType.CPU),
            IlgpuDeviceKind.Cuda => devices.FirstOrDefault(d => d.AcceleratorType == AcceleratorType.Cuda),
            IlgpuDeviceKind.OpenCL => devices.FirstOrDefault(d => d.AcceleratorType == AcceleratorType.OpenCL),
            _ => devices.FirstOrDefault(d => d.AcceleratorType == AcceleratorType.Cuda)
                 ?? devices.FirstOrDefault(d => d is CLDevice cl && cl.DeviceType.ToString().Contains("GPU"))
                 ?? devices.FirstOrDefault(d => d.AcceleratorType == AcceleratorType.CPU),
        };
        return found ?? throw new IlgpuDeviceException(kind switch
        {
            IlgpuDeviceKind.Cuda => "--device ilgpu-cuda: ILGPU finds no CUDA GPU",
            IlgpuDeviceKind.OpenCL => $"--device ilgpu-opencl: ILGPU finds no usable OpenCL device{OpenClRefusals()}",
            _ => "ILGPU finds no accelerator at all",
        });
    }

    /// <summary>Why no OpenCL device is usable: "; present but refused by ILGPU: ..." with ILGPU's reason per device, or
    /// that ILGPU sees no OpenCL platform at all.</summary>
    public static string OpenClRefusals()
    {
        try
        {
            using var all = Context.Create(b => b.OpenCL(_ => true));
            var devices = all.Devices.OfType<CLDevice>().ToList();
            if (devices.Count == 0)
                return " (ILGPU sees no OpenCL platform: it loads libOpenCL.so, which Debian's ocl-icd-opencl-dev provides, and an ICD such as pocl-opencl-icd)";
            var refused = devices.Select(d => (Device: d, Reason: OpenClRefusal(d))).Where(r => r.Reason != null)
                .Select(r => $"{Describe(r.Device)}: {r.Reason}").ToList();
            return refused.Count == 0 ? "" : "; present but refused by ILGPU: " + string.Join("; ", refused);
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or InvalidOperationException)
        {
            return $" (no OpenCL runtime: {e.Message})";
        }
    }

    /// <summary>Why ILGPU's <c>OpenCL()</c> filter leaves the device out (its test: OpenCL C version and the generic
    /// address space; creating an accelerator on such a device throws CapabilityNotSupportedException), or null when
    /// it accepts it. POCL 3.1's CPU device lacks the generic address space.</summary>
    public static string? OpenClRefusal(CLDevice d)
    {
        var reasons = new List<string>();
        if (d.CLStdVersion < ILGPU.Backends.OpenCL.CLBackend.MinimumVersion)
            reasons.Add($"OpenCL C {d.CLStdVersion} is below ILGPU's minimum {ILGPU.Backends.OpenCL.CLBackend.MinimumVersion}");
        if (!d.Capabilities.GenericAddressSpace) reasons.Add("no generic address space");
        return reasons.Count == 0 ? null : string.Join(", ", reasons);
    }

    public static string Describe(Device d) => d switch
    {
        CLDevice cl => $"OpenCL {cl.Name} ({cl.PlatformName}, {cl.DeviceVersion}, OpenCL C {cl.CVersion})",
        CPUDevice cpu => $"CPU accelerator ({cpu.MaxNumThreadsPerGroup} threads per group, {cpu.NumThreads} threads)",
        _ => $"{d.AcceleratorType} {d.Name}",
    };
}
