using CatchUp.Backends.Cpu;
using CatchUp.Distributed;
using CatchUp.Tensors;
using CatchUp.Tests.Kernels;
using Xunit;

namespace CatchUp.Tests.Distributed;

/// <summary><c>--conv-algorithm auto</c> with several ranks: rank 0 measures, every rank computes with its choice.</summary>
public class ConvPlanAgreementTests
{
    /// <summary>Rank <paramref name="rank"/> of two whose broadcasts go through <paramref name="wire"/> (rank 0 runs first).</summary>
    private sealed class WireCommunicator(int rank, byte[] wire) : ICommunicator
    {
        public int Broadcasts { get; private set; }
        public string Name => "wire";
        public int Rank => rank;
        public int Size => 2;
        public int LocalRank => rank;
        public void Broadcast(Span<byte> data, int root)
        {
            Broadcasts++;
            if (rank == root) data.CopyTo(wire);
            else wire.AsSpan(0, data.Length).CopyTo(data);
        }
        public void AllreduceSum(Span<float> data) => throw new NotSupportedException();
        public void AllreduceSum(Span<double> data) => throw new NotSupportedException();
        public void AllreduceMinMax(ReadOnlySpan<long> local, Span<long> min, Span<long> max) => throw new NotSupportedException();
        public void Gather(ReadOnlySpan<float> local, Span<float> gathered, ReadOnlySpan<int> counts) => throw new NotSupportedException();
        public void Barrier() { }
        public void Abort(int exitCode) => throw new NotSupportedException();
        public void Dispose() { }
    }

    private static (ConvPlan Plan, WireCommunicator Comm) RankRunsTwoShapes(int rank, byte[] wire)
    {
        using var be = new CpuBackend(1) { ConvAlgorithm = ConvAlgorithm.Auto };
        var comm = new WireCommunicator(rank, wire);
        ConvPlanAgreement.Install(be.ConvPlan, comm);
        be.ConvPlan.TuneRounds = 1;
        foreach (var (c, hw) in new[] { (4, 8), (8, 4) })
        {
            using var x = ConvKernelTests.Make(be, ConvKernelTests.Random(2 * c * hw * hw, 1), 2, c, hw, hw);
            using var w = ConvKernelTests.Make(be, ConvKernelTests.Random(c * c * 9, 2), c, c, 3, 3);
            using var y = ConvKernelTests.Make(be, new float[2 * c * hw * hw], 2, c, hw, hw);
            be.Conv2dForward(x, w, null, y);
            be.Conv2dForward(x, w, null, y); // a shape already agreed on: no second broadcast
        }
        return (be.ConvPlan, comm);
    }

    [Fact]
    public void TheOtherRanksTakeRankZerosMeasuredChoicePerShapeWithoutMeasuring()
    {
        var wire = new byte[64];
        var (root, rootComm) = RankRunsTwoShapes(0, wire);
        Assert.Equal(2, rootComm.Broadcasts);
        Assert.All(root.Entries, e => Assert.NotEmpty(e.Choice.Candidates));

        // rank 1 meets the same shapes and receives a mixed choice that its own timing would hardly produce
        var forced = new ConvChoice(ConvAlgorithm.Winograd4, ConvAlgorithm.Direct, ConvAlgorithm.Winograd2, 0, []);
        System.Text.Encoding.ASCII.GetBytes(forced.Name.PadRight(64, '\0'), wire);
        var (other, otherComm) = RankRunsTwoShapes(1, wire);
        Assert.Equal(2, otherComm.Broadcasts);
        Assert.All(other.Entries, e =>
        {
            Assert.Empty(e.Choice.Candidates); // nothing measured on rank 1
            Assert.Equal(forced.Name, e.Choice.Name);
        });
        Assert.Equal(root.Entries.Select(e => e.Shape), other.Entries.Select(e => e.Shape));
    }

    [Fact]
    public void OneProcessInstallsNothing()
    {
        var plan = new ConvPlan();
        ConvPlanAgreement.Install(plan, SingleProcessCommunicator.Instance);
        Assert.Null(plan.Agree);
    }
}
