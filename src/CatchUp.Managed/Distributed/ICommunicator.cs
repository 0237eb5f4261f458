namespace CatchUp.Distributed;

/// <summary>
/// The processes of one job and the collectives training and sampling need. Rank 0 is the one that writes files.
/// Every collective must be called by every rank in the same order; the buffers are reduced in place.
/// </summary>
public interface ICommunicator : IDisposable
{
    /// <summary>"single process", "mpi (Open MPI v4.1.4 ...)", ...</summary>
    string Name { get; }
    int Rank { get; }
    int Size { get; }
    /// <summary>The rank among the processes of this machine (picks the GPU: local rank mod device count).</summary>
    int LocalRank { get; }
    bool IsRoot => Rank == 0;

    void AllreduceSum(Span<float> data);
    void AllreduceSum(Span<double> data);
    /// <summary>Element-wise minimum and maximum over the ranks (used to compare weight checksums).</summary>
    void AllreduceMinMax(ReadOnlySpan<long> local, Span<long> min, Span<long> max);
    void Broadcast(Span<byte> data, int root);
    /// <summary>Rank 0 receives every rank's <paramref name="local"/> in rank order into <paramref name="gathered"/>
    /// (which holds <paramref name="counts"/>[r] floats from rank r); other ranks pass an empty span.</summary>
    void Gather(ReadOnlySpan<float> local, Span<float> gathered, ReadOnlySpan<int> counts);
    void Barrier();
    /// <summary>Ends every rank of the job now (a rank that cannot go on must not leave the others waiting).</summary>
    void Abort(int exitCode);
}

/// <summary>A job of one process: every collective is the identity.</summary>
public sealed class SingleProcessCommunicator : ICommunicator
{
    public static readonly SingleProcessCommunicator Instance = new();
    public string Name => "single process";
    public int Rank => 0;
    public int Size => 1;
    public int LocalRank => 0;
    public void AllreduceSum(Span<float> data) { }
    public void AllreduceSum(Span<double> data) { }
    public void AllreduceMinMax(ReadOnlySpan<long> local, Span<long> min, Span<long> max) { local.CopyTo(min); local.CopyTo(max); }
    public void Broadcast(Span<byte> data, int root) { }
    public void Gather(ReadOnlySpan<float> local, Span<float> gathered, ReadOnlySpan<int> counts) => local.CopyTo(gathered);
    public void Barrier() { }
    public void Abort(int exitCode) => Environment.Exit(exitCode);
    public void Dispose() { }
}
