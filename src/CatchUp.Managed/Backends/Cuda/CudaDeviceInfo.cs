using System.Runtime.InteropServices;
using CatchUp.Backends.Cuda.Interop;

namespace CatchUp.Backends.Cuda;

/// <summary>What the driver reports about a GPU.</summary>
public sealed record CudaDeviceInfo(int Ordinal, string Name, int ComputeMajor, int ComputeMinor, long TotalMemory, int Multiprocessors, int DriverVersion)
{
    public override string ToString() =>
        $"{Name}, sm_{ComputeMajor}{ComputeMinor}, {TotalMemory / (1L << 30)} GiB, {Multiprocessors} SMs, driver {DriverVersion / 1000}.{DriverVersion % 1000 / 10}";
}

/// <summary>Finds out, without throwing, whether a CUDA driver and a GPU are present.</summary>
public static unsafe class CudaProbe
{
    /// <summary>How many CUDA devices the driver reports; 0 without a driver.</summary>
    public static int DeviceCount()
    {
        try
        {
            int count;
            return CudaDriver.cuInit(0) == 0 && CudaDriver.cuDeviceGetCount(&count) == 0 ? count : 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return 0; }
    }

    /// <summary>True with the device's description when libcuda.so.1 loads, cuInit succeeds and a device exists;
    /// otherwise false with the reason ("no CUDA driver: ...", "no CUDA device", ...).</summary>
    public static bool TryFindDevice(int ordinal, out CudaDeviceInfo? info, out string reason)
    {
        info = null;
        try
        {
            int result = CudaDriver.cuInit(0);
            if (result != 0)
            {
                reason = $"cuInit failed: {CudaDriver.Describe(result)}";
                return false;
            }
            int count;
            CudaDriver.Check(CudaDriver.cuDeviceGetCount(&count), "cuDeviceGetCount");
            if (count == 0)
            {
                reason = "the CUDA driver reports no device";
                return false;
            }
            if (ordinal < 0 || ordinal >= count)
            {
                reason = $"device {ordinal} requested, the driver reports {count}";
                return false;
            }
            info = Describe(ordinal);
            reason = "";
            return true;
        }
        catch (DllNotFoundException e)
        {
            reason = $"no CUDA driver: {e.Message}";
        }
        catch (EntryPointNotFoundException e)
        {
            reason = $"the CUDA driver is too old: {e.Message}";
        }
        catch (CudaException e)
        {
            reason = e.Message;
        }
        return false;
    }

    internal static CudaDeviceInfo Describe(int ordinal)
    {
        int device, major, minor, sms, version;
        nuint total;
        byte* name = stackalloc byte[256];
        CudaDriver.Check(CudaDriver.cuDeviceGet(&device, ordinal), "cuDeviceGet");
        CudaDriver.Check(CudaDriver.cuDeviceGetName(name, 256, device), "cuDeviceGetName");
        CudaDriver.Check(CudaDriver.cuDeviceGetAttribute(&major, CudaDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device), "cuDeviceGetAttribute");
        CudaDriver.Check(CudaDriver.cuDeviceGetAttribute(&minor, CudaDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device), "cuDeviceGetAttribute");
        CudaDriver.Check(CudaDriver.cuDeviceGetAttribute(&sms, CudaDriver.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, device), "cuDeviceGetAttribute");
        CudaDriver.Check(CudaDriver.cuDeviceTotalMem(&total, device), "cuDeviceTotalMem_v2");
        CudaDriver.Check(CudaDriver.cuDriverGetVersion(&version), "cuDriverGetVersion");
        return new CudaDeviceInfo(device, Marshal.PtrToStringUTF8((nint)name) ?? "?", major, minor, (long)total, sms, version);
    }
}
