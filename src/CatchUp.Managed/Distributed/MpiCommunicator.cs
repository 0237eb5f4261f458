namespace CatchUp.Distributed;

/// <summary>
/// <see cref="ICommunicator"/> over MPI_COMM_WORLD. Errors return (MPI_ERRORS_RETURN) and become
/// <see cref="MpiException"/>s naming the call. Collectives are called from one thread (MPI_THREAD_FUNNELED).
/// </summary>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    private const int ThreadFunneled = 1;
    private readonly MpiLibrary _mpi;
    private bool _disposed;

    private MpiCommunicator(MpiLibrary mpi)
    {
        _mpi = mpi;
        int rank, size, localRank, initialized;
        mpi.Check(mpi.Initialized(&initialized), "MPI_Initialized");
        if (initialized == 0)
        {
            int provided;
            mpi.Check(mpi.Init_thread(null, 0, ThreadFunneled, &provided), "MPI_Init_thread");
        }
        mpi.Check(mpi.Comm_set_errhandler(mpi.CommWorld, mpi.ErrorsReturn), "MPI_Comm_set_errhandler");
        mpi.Check(mpi.Comm_rank(mpi.CommWorld, &rank), "MPI_Comm_rank");
        mpi.Check(mpi.Comm_size(mpi.CommWorld, &size), "MPI_Comm_size");
        long node = 0;   // MPI_Comm: 8 bytes in Open MPI, 4 in MPICH; a zeroed long holds either
        mpi.Check(mpi.Comm_split_type(mpi.CommWorld, mpi.CommTypeShared, rank, mpi.InfoNull, &node), "MPI_Comm_split_type");
        mpi.Check(mpi.Comm_rank((nint)node, &localRank), "MPI_Comm_rank");
        mpi.Check(mpi.Comm_free(&node), "MPI_Comm_free");
        Rank = rank;
        Size = size;
        LocalRank = localRank;
        Name = $"mpi ({mpi.LibraryVersion()}, {System.IO.Path.GetFileName(mpi.Path)})";
    }

    /// <summary>Loads the MPI library (<paramref name="libraryPath"/>, else the launcher's) and initializes MPI.</summary>
    public static MpiCommunicator Initialize(MpiLauncher launcher, string? libraryPath = null)
    {
        // UCX (under Open MPI or MPICH) would take SIGSEGV from the .NET runtime, which needs it for null references;
        // Open MPI's own stack-trace handlers likewise. The user's explicit settings win (overwrite = 0).
        MpiLibrary.SetNativeEnvironment("UCX_ERROR_SIGNALS", "", 0);
        MpiLibrary.SetNativeEnvironment("OMPI_MCA_opal_signal", "", 0);
        var mpi = MpiLibrary.Open(libraryPath, launcher);
        return new MpiCommunicator(mpi);
    }

    public string Name { get; }
    public int Rank { get; }
    public int Size { get; }
    public int LocalRank { get; }

    public void AllreduceSum(Span<float> data)
    {
        fixed (float* p = data) _mpi.Check(_mpi.Allreduce(_mpi.InPlace, (nint)p, data.Length, _mpi.Float, _mpi.OpSum, _mpi.CommWorld), "MPI_Allreduce");
    }

    public void AllreduceSum(Span<double> data)
    {
        fixed (double* p = data) _mpi.Check(_mpi.Allreduce(_mpi.InPlace, (nint)p, data.Length, _mpi.Double, _mpi.OpSum, _mpi.CommWorld), "MPI_Allreduce");
    }

    public void AllreduceMinMax(ReadOnlySpan<long> local, Span<long> min, Span<long> max)
    {
        if (min.Length != local.Length || max.Length != local.Length) throw new ArgumentException("min, max and local must have the same length");
        fixed (long* l = local)
        fixed (long* lo = min)
        fixed (long* hi = max)
        {
            _mpi.Check(_mpi.Allreduce((nint)l, (nint)lo, local.Length, _mpi.Int64, _mpi.OpMin, _mpi.CommWorld), "MPI_Allreduce(MPI_MIN)");
            _mpi.Check(_mpi.Allreduce((nint)l, (nint)hi, local.Length, _mpi.Int64, _mpi.OpMax, _mpi.CommWorld), "MPI_Allreduce(MPI_MAX)");
        }
    }

    public void Broadcast(Span<byte> data, int root)
    {
        fixed (byte* p = data) _mpi.Check(_mpi.Bcast((nint)p, data.Length, _mpi.Byte, root, _mpi.CommWorld), "MPI_Bcast");
    }

    public void Gather(ReadOnlySpan<float> local, Span<float> gathered, ReadOnlySpan<int> counts)
    {
        if (counts.Length != Size) throw new ArgumentException($"counts has {counts.Length} entries for {Size} ranks");
        var displacements = new int[Size];
        long total = 0;
        for (int r = 0; r < Size; r++)
        {
            displacements[r] = checked((int)total);
            total += counts[r];
        }
        if (Rank == 0 && gathered.Length < total) throw new ArgumentException($"gathered holds {gathered.Length} floats, the ranks send {total}");
        fixed (float* send = local)
        fixed (float* receive = gathered)
        fixed (int* c = counts)
        fixed (int* d = displacements)
            _mpi.Check(_mpi.Gatherv((nint)send, local.Length, _mpi.Float, (nint)receive, c, d, _mpi.Float, 0, _mpi.CommWorld), "MPI_Gatherv");
    }

    public void Barrier() => _mpi.Check(_mpi.Barrier(_mpi.CommWorld), "MPI_Barrier");

    public void Abort(int exitCode)
    {
        _mpi.Abort(_mpi.CommWorld, exitCode);
        Environment.Exit(exitCode);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        int finalized;
        if (_mpi.Finalized(&finalized) == 0 && finalized == 0) _mpi.Finalize();
    }
}
