using System.Runtime.InteropServices;
using System.Text;

namespace CatchUp.Distributed;

/// <summary>
/// The MPI C API, bound at run time from Open MPI's <c>libmpi.so.40</c> or MPICH's <c>libmpich.so.12</c>.
/// The two differ in their handles: Open MPI's are the addresses of exported globals (<c>ompi_mpi_comm_world</c>,
/// <c>MPI_IN_PLACE</c> = 1), MPICH's are integer constants from its mpi.h (<c>MPI_IN_PLACE</c> = -1). Both are passed as
/// pointer-sized values, which the x86-64 and AArch64 calling conventions read correctly for MPICH's ints.
/// The library is opened with RTLD_GLOBAL: Open MPI's plugins resolve their symbols against it.
/// </summary>
internal sealed unsafe class MpiLibrary
{
    public const string OpenMpiSoname = "libmpi.so.40";
    public const string MpichSoname = "libmpich.so.12";

    private readonly nint _lib;

    public string Path { get; }
    public bool IsOpenMpi { get; }
    public nint CommWorld { get; }
    public nint Float { get; }
    public nint Double { get; }
    public nint Int64 { get; }
    public nint Byte { get; }
    public nint OpSum { get; }
    public nint OpMin { get; }
    public nint OpMax { get; }
    public nint ErrorsReturn { get; }
    public nint InfoNull { get; }
    public nint InPlace { get; }
    public int CommTypeShared { get; }

    public readonly delegate* unmanaged<int*, nint, int, int*, int> Init_thread;
    public readonly delegate* unmanaged<int*, int> Initialized;
    public readonly delegate* unmanaged<int*, int> Finalized;
    public readonly delegate* unmanaged<int> Finalize;
    public readonly delegate* unmanaged<nint, int*, int> Comm_rank;
    public readonly delegate* unmanaged<nint, int*, int> Comm_size;
    public readonly delegate* unmanaged<nint, int, int, nint, long*, int> Comm_split_type;
    public readonly delegate* unmanaged<long*, int> Comm_free;
    public readonly delegate* unmanaged<nint, nint, int> Comm_set_errhandler;
    public readonly delegate* unmanaged<nint, nint, int, nint, nint, nint, int> Allreduce;
    public readonly delegate* unmanaged<nint, int, nint, int, nint, int> Bcast;
    public readonly delegate* unmanaged<nint, int, nint, nint, int*, int*, nint, int, nint, int> Gatherv;
    public readonly delegate* unmanaged<nint, int> Barrier;
    public readonly delegate* unmanaged<nint, int, int> Abort;
    public readonly delegate* unmanaged<int, byte*, int*, int> Error_string;
    public readonly delegate* unmanaged<byte*, int*, int> Get_library_version;

    private MpiLibrary(string path, nint lib)
    {
        Path = path;
        _lib = lib;
        IsOpenMpi = TryExport("ompi_mpi_comm_world", out nint world);
        if (IsOpenMpi)
        {
            CommWorld = world;
            Float = Export("ompi_mpi_float"); Double = Export("ompi_mpi_double"); Int64 = Export("ompi_mpi_long_long_int");
            Byte = Export("ompi_mpi_byte");
            OpSum = Export("ompi_mpi_op_sum"); OpMin = Export("ompi_mpi_op_min"); OpMax = Export("ompi_mpi_op_max");
            ErrorsReturn = Export("ompi_mpi_errors_return"); InfoNull = Export("ompi_mpi_info_null");
            InPlace = 1;
            CommTypeShared = 0;
        }
        else
        {
            // MPICH's mpi.h (3.x and 4.x keep these values).
            CommWorld = 0x44000000;
            Float = 0x4c00040a; Double = 0x4c00080b; Int64 = 0x4c000809; Byte = 0x4c00010d;
            OpMax = 0x58000001; OpMin = 0x58000002; OpSum = 0x58000003;
            ErrorsReturn = 0x54000001; InfoNull = 0x1c000000;
            InPlace = -1;
            CommTypeShared = 1;
        }
        Init_thread = (delegate* unmanaged<int*, nint, int, int*, int>)Export("MPI_Init_thread");
        Initialized = (delegate* unmanaged<int*, int>)Export("MPI_Initialized");
        Finalized = (delegate* unmanaged<int*, int>)Export("MPI_Finalized");
        Finalize = (delegate* unmanaged<int>)Export("MPI_Finalize");
        Comm_rank = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_rank");
        Comm_size = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_size");
        Comm_split_type = (delegate* unmanaged<nint, int, int, nint, long*, int>)Export("MPI_Comm_split_type");
        Comm_free = (delegate* unmanaged<long*, int>)Export("MPI_Comm_free");
        Comm_set_errhandler = (delegate* unmanaged<nint, nint, int>)Export("MPI_Comm_set_errhandler");
        Allreduce = (delegate* unmanaged<nint, nint, int, nint, nint, nint, int>)Export("MPI_Allreduce");
        Bcast = (delegate* unmanaged<nint, int, nint, int, nint, int>)Export("MPI_Bcast");
        Gatherv = (delegate* unmanaged<nint, int, nint, nint, int*, int*, nint, int, nint, int>)Export("MPI_Gatherv");
        Barrier = (delegate* unmanaged<nint, int>)Export("MPI_Barrier");
        Abort = (delegate* unmanaged<nint, int, int>)Export("MPI_Abort");
        Error_string = (delegate* unmanaged<int, byte*, int*, int>)Export("MPI_Error_string");
        Get_library_version = (delegate* unmanaged<byte*, int*, int>)Export("MPI_Get_library_version");
    }

    /// <summary>
    /// Opens <paramref name="path"/> (a file or a soname), or else the library the launcher belongs to: Open MPI's
    /// when <c>OMPI_*</c> variables are set, MPICH's under Hydra (<c>PMI_RANK</c>), otherwise whichever loads.
    /// </summary>
    public static MpiLibrary Open(string? path, MpiLauncher launcher)
    {
        string[] candidates = path is not null ? [path]
            : launcher.Kind == MpiLauncherKind.Hydra ? [MpichSoname, OpenMpiSoname] : [OpenMpiSoname, MpichSoname];
        var failures = new List<string>();
        foreach (string candidate in candidates)
        {
            nint lib = Dl.Open(candidate, out string error);
            if (lib == 0) { failures.Add(error); continue; }
            try { return new MpiLibrary(candidate, lib); }
            catch (MpiException e) { failures.Add(e.Message); }
        }
        throw new MpiException($"no usable MPI library ({string.Join("; ", failures)}); install Open MPI (apt-get install openmpi-bin) " +
            $"or MPICH, or name the library with {MpiLauncher.LibraryVariable}=PATH");
    }

    private bool TryExport(string name, out nint address)
    {
        address = Dl.Symbol(_lib, name);
        return address != 0;
    }

    private nint Export(string name) =>
        TryExport(name, out nint address) ? address : throw new MpiException($"{Path} does not export {name}; it is not an MPI library");

    /// <summary>MPI's text for an error code, e.g. "MPI_ERR_TRUNCATE: message truncated".</summary>
    public string ErrorString(int code)
    {
        byte* buffer = stackalloc byte[1024];
        int length = 0;
        if (Error_string(code, buffer, &length) != 0 || length <= 0) return $"MPI error {code}";
        return Encoding.UTF8.GetString(buffer, Math.Min(length, 1024)).TrimEnd('\0', ' ', '\n');
    }

    public string LibraryVersion()
    {
        byte* buffer = stackalloc byte[8192];
        int length = 0;
        if (Get_library_version(buffer, &length) != 0 || length <= 0) return "unknown version";
        string text = Encoding.UTF8.GetString(buffer, Math.Min(length, 8192)).TrimEnd('\0');
        int comma = text.IndexOfAny([',', '\n']);
        return (comma > 0 ? text[..comma] : text).Trim();
    }

    public void Check(int code, string call)
    {
        if (code != 0) throw new MpiException($"{call} failed: {ErrorString(code)} (error {code})");
    }

    /// <summary>dlopen/dlsym/dlerror from the C library (.NET's NativeLibrary opens with RTLD_LOCAL), called through
    /// pointers bound once: a P/Invoke stub bound lazily would itself call dlsym and clear the pending dlerror.</summary>
    private static class Dl
    {
        private const int RtldNow = 0x2, RtldGlobal = 0x100;
        private static readonly nint Libc = NativeLibrary.Load("libc.so.6");
        private static readonly delegate* unmanaged<byte*, int, nint> DlOpen = (delegate* unmanaged<byte*, int, nint>)NativeLibrary.GetExport(Libc, "dlopen");
        private static readonly delegate* unmanaged<nint, byte*, nint> DlSym = (delegate* unmanaged<nint, byte*, nint>)NativeLibrary.GetExport(Libc, "dlsym");
        private static readonly delegate* unmanaged<nint> DlError = (delegate* unmanaged<nint>)NativeLibrary.GetExport(Libc, "dlerror");

        public static nint Open(string file, out string error)
        {
            var name = Encoding.UTF8.GetBytes(file + "\0");
            nint handle;
            fixed (byte* p = name) handle = DlOpen(p, RtldNow | RtldGlobal);
            error = handle == 0 ? Marshal.PtrToStringUTF8(DlError()) ?? $"{file}: cannot be loaded" : "";
            return handle;
        }

        public static nint Symbol(nint handle, string symbol)
        {
            var name = Encoding.UTF8.GetBytes(symbol + "\0");
            fixed (byte* p = name) return DlSym(handle, p);
        }
    }

    /// <summary>setenv(3): variables the MPI library reads at initialization (.NET's Environment is managed-only).</summary>
    [DllImport("libc", EntryPoint = "setenv")]
    public static extern int SetNativeEnvironment([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);
}
