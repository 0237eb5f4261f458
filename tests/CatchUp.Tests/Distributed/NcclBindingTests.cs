using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using CatchUp.Distributed;
using CatchUp.Distributed.Nccl;
using CatchUp.Tests.Cuda;
using Xunit;

namespace CatchUp.Tests.Distributed;

/// <summary>
/// The NCCL binding against native/test-stubs/fake_nccl.c, a one-rank library with NCCL 2's C ABI (NCCL itself is not
/// installable here): the by-value ncclUniqueId, the grouped in-place average, the error mapping. Real NCCL runs only
/// in the GPU checks (bench/gpu/run-gpu-checks.sh).
/// </summary>
public unsafe class NcclBindingTests
{
    private static readonly string Stub = RepositoryFiles.Path("native", "build", "fake-nccl", "libnccl.so.2");

    private static NcclLibrary OpenStub()
    {
        Assert.True(File.Exists(Stub), $"{Stub} is missing: run native/build-test-stubs.sh or ./build.sh --target=Kernels");
        return NcclLibrary.Open(Stub);
    }

    private static (byte[] Id, int Ranks, int Rank, int Grouped, int Ungrouped) Info(nint comm)
    {
        var info = (delegate* unmanaged<nint, byte*, int*, int*, int*, int*, void>)NativeLibrary.GetExport(NativeLibrary.Load(Stub), "fake_nccl_comm_info");
        var id = new byte[NcclUniqueId.Bytes];
        int ranks, rank, grouped, ungrouped;
        fixed (byte* p = id) info(comm, p, &ranks, &rank, &grouped, &ungrouped);
        return (id, ranks, rank, grouped, ungrouped);
    }

    [Fact]
    public void TheUniqueIdIs128BytesAndArrivesWholeWhenPassedByValue()
    {
        Assert.Equal(128, Unsafe.SizeOf<NcclUniqueId>());
        Assert.Equal(128, Marshal.SizeOf<NcclUniqueId>());
        var nccl = OpenStub();
        var id = nccl.GetUniqueId();
        Assert.Equal(Enumerable.Range(0, 128).Select(i => (byte)(i * 37 + 11)), id.AsSpan().ToArray());
        id.AsSpan()[127] = 0xA5;   // the last byte too must cross the call
        nint comm = nccl.CommInitRank(1, id, 0);
        var info = Info(comm);
        Assert.Equal(id.AsSpan().ToArray(), info.Id);
        Assert.Equal((1, 0), (info.Ranks, info.Rank));
        nccl.CommDestroy(comm);
        Assert.Equal(22005, nccl.Version());
    }

    [Fact]
    public void GradientsAreAveragedInPlaceInOneGroup()
    {
        var nccl = OpenStub();
        using var comm = new NcclCommunicator(SingleProcessCommunicator.Instance, nccl);
        var a = GC.AllocateArray<float>(5, pinned: true);
        var b = GC.AllocateArray<float>(3, pinned: true);
        a.AsSpan().Fill(2.5f);
        b.AsSpan().Fill(-1f);
        fixed (float* pa = a)
        fixed (float* pb = b)
            comm.AllreduceAverage(new[] { ((nint)pa, 5L), ((nint)pb, 3L) }, stream: 0);
        Assert.All(a, v => Assert.Equal(2.5f, v));
        Assert.All(b, v => Assert.Equal(-1f, v));
        var field = typeof(NcclCommunicator).GetField("_comm", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!;
        var info = Info((nint)field.GetValue(comm)!);
        Assert.Equal((2, 0), (info.Grouped, info.Ungrouped));
        Assert.StartsWith("nccl 22005 + single process", comm.Name);
    }

    [Fact]
    public void FailuresNameTheCallNcclsTextAndTheResult()
    {
        var nccl = OpenStub();
        var e = Assert.Throws<NcclException>(() => nccl.CommInitRank(0, nccl.GetUniqueId(), 0));
        Assert.Equal(NcclResult.InvalidArgument, e.Result);
        Assert.Equal("ncclCommInitRank failed: invalid argument (run with NCCL_DEBUG=WARN for details) (ncclInvalidArgument, 4)", e.Message);
        e = Assert.Throws<NcclException>(() => nccl.GroupEnd());
        Assert.Equal("ncclGroupEnd failed: invalid usage (run with NCCL_DEBUG=WARN for details) (ncclInvalidUsage, 5)", e.Message);
        Assert.Equal("remote process exited or there was a network error", nccl.ErrorString(NcclResult.RemoteError));
    }

    [Fact]
    public void AMissingOrForeignLibraryIsAClearError()
    {
        var missing = Assert.Throws<DllNotFoundException>(() => NcclLibrary.Open("/nonexistent/libnccl.so.2"));
        Assert.Contains("NCCL 2 is needed for --device cuda with several ranks", missing.Message);
        var foreign = Assert.Throws<DllNotFoundException>(() => NcclLibrary.Open("libz.so.1"));
        Assert.Equal("libz.so.1 does not export ncclGetUniqueId; it is not NCCL 2", foreign.Message);
        // A one-rank job never needs NCCL; a multi-rank CUDA job without it falls back to MPI and says so.
        Assert.Same(SingleProcessCommunicator.Instance, NcclCommunicator.ForCudaJob(SingleProcessCommunicator.Instance, TextWriter.Null));
    }
}
