using CatchUp.Backends.Cpu;
using CatchUp.Backends.Cuda;
using CatchUp.Backends.Cuda.Interop;
using CatchUp.Backends.Ilgpu;

namespace CatchUp.Backends;

/// <summary>Opens the backend a <c>--device</c> value names and says which one it opened.</summary>
public static class BackendFactory
{
    public static readonly string[] Devices = ["cpu", "cuda", "auto", "ilgpu", "ilgpu-cpu", "ilgpu-opencl", "ilgpu-cuda"];

    /// <summary>
    /// <c>cpu</c>: the CPU backend with <paramref name="threads"/> threads. <c>cuda</c>: the first GPU; without a driver or
    /// a device a <see cref="CudaException"/> says why. <c>auto</c>: CUDA when a driver and a GPU are present and the
    /// backend opens, the CPU otherwise. Writes "device: ..." with the choice and, for a CPU fallback, the reason.
    /// A data-parallel rank passes its <paramref name="localRank"/>: it uses GPU (local rank mod device count).
    /// <c>ilgpu</c>: the ILGPU backend on the best ILGPU accelerator (a CUDA or OpenCL GPU, else ILGPU's CPU accelerator);
    /// <c>ilgpu-cpu|opencl|cuda</c> name the accelerator (an <see cref="IlgpuDeviceException"/> when it is absent).
    /// </summary>
    public static IBackend Create(string device, int threads, TextWriter log, int localRank = 0)
    {
        int ordinal = localRank == 0 ? 0 : localRank % Math.Max(1, CudaProbe.DeviceCount());
        switch (device.Trim().ToLowerInvariant())
        {
            case "cpu":
                return Cpu(threads, log, "");
            case "cuda":
                if (!CudaProbe.TryFindDevice(ordinal, out var info, out string reason)) throw new CudaException($"--device cuda: no CUDA GPU ({reason})");
                var cuda = new CudaBackend(ordinal);
                log.WriteLine($"device: cuda ({info})");
                return cuda;
            case "auto":
                if (!CudaProbe.TryFindDevice(ordinal, out var found, out string why)) return Cpu(threads, log, why);
                try
                {
                    var gpu = new CudaBackend(ordinal);
                    log.WriteLine($"device: cuda ({found})");
                    return gpu;
                }
                catch (Exception e) when (e is CudaException or DllNotFoundException or EntryPointNotFoundException)
                {
                    return Cpu(threads, log, $"CUDA GPU {found!.Name} present but unusable: {e.Message}");
                }
            case "ilgpu":
                return Ilgpu(IlgpuDeviceKind.Best, log);
            case "ilgpu-cpu":
                return Ilgpu(IlgpuDeviceKind.Cpu, log);
            case "ilgpu-opencl":
                return Ilgpu(IlgpuDeviceKind.OpenCL, log);
            case "ilgpu-cuda":
                return Ilgpu(IlgpuDeviceKind.Cuda, log);
            default:
                throw new ArgumentException($"--device {device}: expected cpu, cuda or auto, or ilgpu, ilgpu-cpu, ilgpu-opencl, ilgpu-cuda");
        }
    }

    private static IlgpuBackend Ilgpu(IlgpuDeviceKind kind, TextWriter log)
    {
        var backend = new IlgpuBackend(kind, IlgpuLaunchShape.FromEnvironment());
        string why = kind == IlgpuDeviceKind.Best && backend.Kind == ILGPU.Runtime.AcceleratorType.CPU ? "; no CUDA or OpenCL GPU found" : "";
        log.WriteLine($"device: {backend.Name}{why}");
        return backend;
    }

    private static CpuBackend Cpu(int threads, TextWriter log, string fallbackReason)
    {
        var cpu = new CpuBackend(threads);
        log.WriteLine(fallbackReason.Length == 0 ? $"device: {cpu.Name}" : $"device: cpu ({fallbackReason}); {cpu.Name}");
        return cpu;
    }
}
