using System.Runtime.InteropServices;

namespace CatchUp.Distributed.Nccl;

/// <summary>ncclUniqueId: 128 opaque bytes that rank 0 creates and every rank passes by value to ncclCommInitRank.</summary>
[StructLayout(LayoutKind.Sequential, Size = Bytes)]
public unsafe struct NcclUniqueId
{
    public const int Bytes = 128;
    private fixed byte _internal[Bytes];

    public Span<byte> AsSpan() => MemoryMarshal.CreateSpan(ref _internal[0], Bytes);
}

/// <summary>ncclResult_t values (nccl.h, NCCL 2.x).</summary>
public enum NcclResult
{
    Success = 0, UnhandledCudaError = 1, SystemError = 2, InternalError = 3, InvalidArgument = 4, InvalidUsage = 5,
    RemoteError = 6, InProgress = 7,
}

/// <summary>A failed NCCL call: names the call, NCCL's own text and the result code.</summary>
public sealed class NcclException(string call, NcclResult result, string text)
    : Exception($"{call} failed: {text} (nccl{result}, {(int)result})")
{
    public NcclResult Result { get; } = result;
}

/// <summary>
/// The NCCL 2 C API bound at run time from <c>libnccl.so.2</c> (NCCL is optional: only <c>--device cuda</c> jobs of
/// several ranks load it). Handles: ncclComm_t is a pointer; cudaStream_t is the driver's CUstream.
/// </summary>
public sealed unsafe class NcclLibrary
{
    public const string Soname = "libnccl.so.2";
    public const int Float32 = 7;   // ncclFloat32
    public const int OpSum = 0, OpAvg = 4;   // ncclSum, ncclAvg (NCCL >= 2.10)

    private readonly delegate* unmanaged<NcclUniqueId*, int> _getUniqueId;
    private readonly delegate* unmanaged<nint*, int, NcclUniqueId, int, int> _commInitRank;
    private readonly delegate* unmanaged<nint, nint, nuint, int, int, nint, nint, int> _allReduce;
    private readonly delegate* unmanaged<int> _groupStart, _groupEnd;
    private readonly delegate* unmanaged<nint, int> _commAbort, _commDestroy;
    private readonly delegate* unmanaged<nint, int*, int> _commGetAsyncError;
    private readonly delegate* unmanaged<int, nint> _getErrorString;
    private readonly delegate* unmanaged<int*, int> _getVersion;

    private NcclLibrary(string path, nint lib)
    {
        Path = path;
        nint Export(string name) => NativeLibrary.TryGetExport(lib, name, out nint f) ? f
            : throw new DllNotFoundException($"{path} does not export {name}; it is not NCCL 2");
        _getUniqueId = (delegate* unmanaged<NcclUniqueId*, int>)Export("ncclGetUniqueId");
        _commInitRank = (delegate* unmanaged<nint*, int, NcclUniqueId, int, int>)Export("ncclCommInitRank");
        _allReduce = (delegate* unmanaged<nint, nint, nuint, int, int, nint, nint, int>)Export("ncclAllReduce");
        _groupStart = (delegate* unmanaged<int>)Export("ncclGroupStart");
        _groupEnd = (delegate* unmanaged<int>)Export("ncclGroupEnd");
        _commAbort = (delegate* unmanaged<nint, int>)Export("ncclCommAbort");
        _commDestroy = (delegate* unmanaged<nint, int>)Export("ncclCommDestroy");
        _commGetAsyncError = (delegate* unmanaged<nint, int*, int>)Export("ncclCommGetAsyncError");
        _getErrorString = (delegate* unmanaged<int, nint>)Export("ncclGetErrorString");
        _getVersion = (delegate* unmanaged<int*, int>)Export("ncclGetVersion");
    }

    public string Path { get; }

    /// <summary>Loads NCCL (<paramref name="path"/>, else libnccl.so.2 from the library path).</summary>
    public static NcclLibrary Open(string? path = null)
    {
        string name = path ?? Soname;
        if (!NativeLibrary.TryLoad(name, out nint lib))
            throw new DllNotFoundException($"{name} could not be loaded: NCCL 2 is needed for --device cuda with several ranks (it is not installable on Debian 12; use NVIDIA's packages or a CUDA container)");
        return new NcclLibrary(name, lib);
    }

    public string ErrorString(NcclResult result) => Marshal.PtrToStringUTF8(_getErrorString((int)result)) ?? result.ToString();

    public void Check(int result, string call)
    {
        if (result != 0) throw new NcclException(call, (NcclResult)result, ErrorString((NcclResult)result));
    }

    public int Version()
    {
        int v;
        Check(_getVersion(&v), "ncclGetVersion");
        return v;
    }

    public NcclUniqueId GetUniqueId()
    {
        NcclUniqueId id;
        Check(_getUniqueId(&id), "ncclGetUniqueId");
        return id;
    }

    public nint CommInitRank(int ranks, NcclUniqueId id, int rank)
    {
        nint comm;
        Check(_commInitRank(&comm, ranks, id, rank), "ncclCommInitRank");
        return comm;
    }

    public void AllReduce(nint send, nint receive, long count, int op, nint comm, nint stream) =>
        Check(_allReduce(send, receive, (nuint)count, Float32, op, comm, stream), "ncclAllReduce");

    public void GroupStart() => Check(_groupStart(), "ncclGroupStart");
    public void GroupEnd() => Check(_groupEnd(), "ncclGroupEnd");
    public void CommAbort(nint comm) => _commAbort(comm);
    public void CommDestroy(nint comm) => Check(_commDestroy(comm), "ncclCommDestroy");

    public NcclResult AsyncError(nint comm)
    {
        int error;
        Check(_commGetAsyncError(comm, &error), "ncclCommGetAsyncError");
        return (NcclResult)error;
    }
}
