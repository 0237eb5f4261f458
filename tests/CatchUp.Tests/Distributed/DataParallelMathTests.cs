using CatchUp.Backends.Cpu;
using CatchUp.Distributed;
using CatchUp.Models;
using CatchUp.Nn;
using CatchUp.Objectives;
using CatchUp.Sampling;
using CatchUp.Tensors;
using Xunit;
using static CatchUp.Tests.Models.NetworkTestKit;

namespace CatchUp.Tests.Distributed;

/// <summary>The pieces that make N ranks compute the single-process mathematics, tested in one process.</summary>
public class DataParallelMathTests
{
    [Fact]
    public void SkippingACounterStreamShiftsItsIndices()
    {
        foreach (ulong seed in new ulong[] { 0, 7, 0xDEADBEEFCAFEUL, ulong.MaxValue })
            foreach (long k in new long[] { 0, 1, 3, 1000, 123_456_789 })
                for (ulong i = 0; i < 5; i++)
                    Assert.Equal(CounterRng.Hash(seed, (ulong)k + i), CounterRng.Hash(CounterRng.Skip(seed, k), i));
    }

    [Fact]
    public void AnySliceOfTheNormalSequenceDrawnAloneEqualsTheWholeSequence()
    {
        var whole = new float[101];
        StepRandomness.FillNormal(42, whole);
        foreach (var (offset, length) in new[] { (0, 101), (1, 10), (2, 9), (37, 64), (100, 1), (99, 2), (3, 0) })
        {
            var part = new float[length];
            StepRandomness.FillNormal(42, part, offset);
            Assert.Equal(whole.AsSpan(offset, length).ToArray(), part);
        }
        var noise = SampleGenerator.Noise(9, 7, 1, 3, 3);
        Assert.Equal(noise.AsSpan(3 * 9, 4 * 9).ToArray(), SampleGenerator.Noise(9, 3, 4, 1, 3, 3));
    }

    [Theory]
    [InlineData(ObjectiveKind.Cud, 1, false)]
    [InlineData(ObjectiveKind.Cud, 3, true)]
    [InlineData(ObjectiveKind.Curvature, 0, true)]
    public void TwoHalfBatchesWithTheirOffsetsGiveTheFullBatchLossAndGradient(ObjectiveKind kind, int order, bool encoder)
    {
        // Dropout on, so the masks must follow the global sample index too.
        var cfg = SongUNetConfig.TestTiny with { Dropout = 0.3, ExtraHeads = Math.Max(0, order - 1) };
        var encCfg = SongUNetConfig.EncoderFor(cfg) with { ModelChannels = 8, ChannelMult = [1, 2], NumBlocks = 1, Dropout = 0.2 };
        var options = new ObjectiveOptions { Kind = kind, Order = order, Encoder = encoder };
        using var b = new CpuBackend(2);
        using var net = new SongUNet(cfg, b);
        using var enc = encoder ? new NoiseEncoder(cfg, b, encCfg) : null;
        Randomize(net.Parameters, 5);
        if (enc is not null) Randomize(enc.Network.Parameters, 6);
        using var objective = new FlowObjective(options, net, null, enc);
        var parameters = net.Parameters.All.Concat(enc?.Network.Parameters.All ?? []).ToArray();
        const int n = 8, half = 4, sample = 2 * 8 * 8;
        var x0 = Normal(n * sample, 3, 0.5f);

        float[][] Gradients(int first, int count, out double loss)
        {
            foreach (var p in parameters) b.Fill(p.Grad, 0f);
            using var x = b.FromArray(x0.AsSpan(first * sample, count * sample), count, 2, 8, 8);
            loss = objective.Step(x, iteration: 3, totalIterations: 10, runSeed: 17, sampleOffset: first).Total;
            return parameters.Select(p => p.Grad.ToArray()).ToArray();
        }

        var full = Gradients(0, n, out double fullLoss);
        var a = Gradients(0, half, out double lossA);
        var c = Gradients(half, half, out double lossC);
        Assert.Equal(fullLoss, (lossA + lossC) / 2, 1e-5 * Math.Abs(fullLoss));
        for (int i = 0; i < parameters.Length; i++)
        {
            var mean = a[i].Zip(c[i], (u, v) => (u + v) / 2).ToArray();
            Assert.True(RelativeError(mean, full[i]) < 2e-4, $"{parameters[i].Name}: {RelativeError(mean, full[i]):E2}");
        }
    }

    [Fact]
    public void SamplingBatchesAreDealtRoundRobinAndCoverEveryImageOnce()
    {
        foreach (var (count, batch, size) in new[] { (40, 16, 2), (7, 3, 4), (64, 64, 3), (1, 5, 2) })
        {
            var all = Enumerable.Range(0, size).SelectMany(r => DistributedSampling.BatchesOf(r, size, count, batch)).OrderBy(x => x.Start).ToList();
            Assert.Equal(Enumerable.Range(0, count), all.SelectMany(x => Enumerable.Range(x.Start, x.Count)));
            Assert.All(all, x => Assert.True(x.Start % batch == 0 && (x.Count == batch || x.Start + x.Count == count)));
            Assert.All(Enumerable.Range(0, size), r => Assert.All(DistributedSampling.BatchesOf(r, size, count, batch), x => Assert.Equal(r, x.Start / batch % size)));
        }
    }

    [Fact]
    public void GradientsAreAveragedInBucketsNoLargerThanAskedUnlessOneParameterIs()
    {
        using var b = new CpuBackend(1);
        var ps = new ParameterSet(b);
        int[] sizes = [10, 30, 5, 100, 7];
        for (int i = 0; i < sizes.Length; i++) ps.Declare($"p{i}", ParameterInit.Zeros, sizes[i]);
        Randomize(ps, 3);
        foreach (var p in ps.All) b.Upload(p.Value.ToArray(), p.Grad);
        var before = ps.All.Select(p => p.Grad.ToArray()).ToArray();
        var comm = new RecordingCommunicator(size: 4);
        var reducer = new GradientAllreducer(comm, b, ps.All, bucketBytes: 40 * sizeof(float));
        reducer.Average();
        // Every rank holds the same gradient here, so the sum is 4x it and the average is the gradient itself.
        for (int i = 0; i < sizes.Length; i++) Assert.Equal(before[i], ps.All[i].Grad.ToArray());
        Assert.Equal([40, 5, 100, 7], comm.ReducedLengths);
        Assert.Equal(4, reducer.BucketCount);
        Assert.Equal(sizes.Sum(), reducer.GradientFloats);
        ps.Dispose();
    }

    [Fact]
    public void LaunchersAreRecognizedFromTheirVariables()
    {
        MpiLauncher Detect(params (string, string)[] vars) => MpiLauncher.Detect(name => vars.FirstOrDefault(v => v.Item1 == name).Item2);
        Assert.Equal(new MpiLauncher(MpiLauncherKind.OpenMpi, 1, 2), Detect(("OMPI_COMM_WORLD_SIZE", "2"), ("OMPI_COMM_WORLD_RANK", "1")));
        Assert.Equal(new MpiLauncher(MpiLauncherKind.Hydra, 3, 4), Detect(("PMI_SIZE", "4"), ("PMI_RANK", "3")));
        Assert.Equal(new MpiLauncher(MpiLauncherKind.Slurm, 5, 8), Detect(("PMIX_RANK", "5"), ("SLURM_NTASKS", "8")));
        Assert.False(Detect().Launched);
        Assert.Same(SingleProcessCommunicator.Instance, CommunicatorFactory.Create("auto", Detect()));
        Assert.Same(SingleProcessCommunicator.Instance, CommunicatorFactory.Create("none", Detect(("OMPI_COMM_WORLD_SIZE", "2"))));
        var e = Assert.Throws<MpiException>(() => CommunicatorFactory.Create("mpi", Detect()));
        Assert.Contains("not started by an MPI launcher", e.Message);
        Assert.Throws<ArgumentException>(() => CommunicatorFactory.Create("nccl", Detect()));
    }

    /// <summary>Size ranks that all hold this rank's data: a sum is size x the data.</summary>
    private sealed class RecordingCommunicator(int size) : ICommunicator
    {
        public List<int> ReducedLengths { get; } = new();
        public string Name => "recording";
        public int Rank => 0;
        public int Size => size;
        public int LocalRank => 0;
        public void AllreduceSum(Span<float> data)
        {
            ReducedLengths.Add(data.Length);
            foreach (ref float v in data) v *= size;
        }
        public void AllreduceSum(Span<double> data) { foreach (ref double v in data) v *= size; }
        public void AllreduceMinMax(ReadOnlySpan<long> local, Span<long> min, Span<long> max) { local.CopyTo(min); local.CopyTo(max); }
        public void Broadcast(Span<byte> data, int root) { }
        public void Gather(ReadOnlySpan<float> local, Span<float> gathered, ReadOnlySpan<int> counts) => throw new NotSupportedException();
        public void Barrier() { }
        public void Abort(int exitCode) => throw new NotSupportedException();
        public void Dispose() { }
    }
}
