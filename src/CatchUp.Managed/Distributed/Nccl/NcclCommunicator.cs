namespace CatchUp.Distributed.Nccl;

/// <summary>Averages float32 buffers that live on the device, on the compute stream.</summary>
public interface IDeviceAllreduce
{
    /// <summary>Each buffer (device address, float count) becomes its mean over the ranks, in one NCCL group.</summary>
    void AllreduceAverage(ReadOnlySpan<(nint Address, long Count)> buffers, nint stream);
}

/// <summary>
/// NCCL for the gradients of <c>--device cuda</c> jobs, MPI for everything else: rank 0 creates the ncclUniqueId,
/// MPI broadcasts its 128 bytes, every rank joins with ncclCommInitRank. Host collectives (loss terms, checksums,
/// sampling) stay on the MPI communicator. A failure aborts the NCCL communicator before MPI ends the job, so no
/// rank waits forever inside a kernel.
/// </summary>
public sealed class NcclCommunicator : ICommunicator, IDeviceAllreduce
{
    private readonly ICommunicator _host;
    private readonly NcclLibrary _nccl;
    private nint _comm;

    public NcclCommunicator(ICommunicator host, NcclLibrary nccl)
    {
        _host = host;
        _nccl = nccl;
        var id = host.IsRoot ? nccl.GetUniqueId() : default;
        host.Broadcast(id.AsSpan(), root: 0);
        _comm = nccl.CommInitRank(host.Size, id, host.Rank);
    }

    public string Name => $"nccl {_nccl.Version()} + {_host.Name}";
    public int Rank => _host.Rank;
    public int Size => _host.Size;
    public int LocalRank => _host.LocalRank;

    public void AllreduceAverage(ReadOnlySpan<(nint Address, long Count)> buffers, nint stream)
    {
        try
        {
            _nccl.GroupStart();
            foreach (var (address, count) in buffers) _nccl.AllReduce(address, address, count, NcclLibrary.OpAvg, _comm, stream);
            _nccl.GroupEnd();
        }
        catch (NcclException)
        {
            AbortNccl();
            throw;
        }
    }

    public void AllreduceSum(Span<float> data) => _host.AllreduceSum(data);
    public void AllreduceSum(Span<double> data) => _host.AllreduceSum(data);
    public void AllreduceMinMax(ReadOnlySpan<long> local, Span<long> min, Span<long> max) => _host.AllreduceMinMax(local, min, max);
    public void Broadcast(Span<byte> data, int root) => _host.Broadcast(data, root);
    public void Gather(ReadOnlySpan<float> local, Span<float> gathered, ReadOnlySpan<int> counts) => _host.Gather(local, gathered, counts);
    public void Barrier() => _host.Barrier();

    public void Abort(int exitCode)
    {
        AbortNccl();
        _host.Abort(exitCode);
    }

    private void AbortNccl()
    {
        if (_comm == 0) return;
        _nccl.CommAbort(_comm);
        _comm = 0;
    }

    /// <summary>Destroys the NCCL communicator; the MPI communicator belongs to the caller.</summary>
    public void Dispose()
    {
        if (_comm != 0) _nccl.CommDestroy(_comm);
        _comm = 0;
    }

    /// <summary>Names the NCCL library to load instead of libnccl.so.2.</summary>
    public const string LibraryVariable = "CATCHUP_NCCL_LIBRARY";

    /// <summary>
    /// The communicator a job of several ranks on CUDA devices trains with: NCCL over <paramref name="host"/> when
    /// libnccl.so.2 loads, else <paramref name="host"/> itself (gradients then go through host memory and MPI), saying so.
    /// </summary>
    public static ICommunicator ForCudaJob(ICommunicator host, TextWriter log)
    {
        if (host.Size == 1) return host;
        try { return new NcclCommunicator(host, NcclLibrary.Open(Environment.GetEnvironmentVariable(LibraryVariable))); }
        catch (DllNotFoundException e)
        {
            log.WriteLine($"gradients: {e.Message}; averaging them over MPI through host memory instead");
            return host;
        }
    }
}
