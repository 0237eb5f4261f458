using CatchUp.Models;
using CatchUp.Sampling;

namespace CatchUp.Distributed;

/// <summary>
/// Sampling split across ranks: the images are cut into the batches a single process would run (batch j holds images
/// j*B ..), batch j goes to rank j mod N, and rank 0 gathers them back in order. Every batch meets the same noise,
/// the same network and the same solver steps as in one process, so the result is bit for bit the single-process one.
/// </summary>
public static class DistributedSampling
{
    /// <summary>The (first image, count) of the batches rank <paramref name="rank"/> of <paramref name="size"/> runs.</summary>
    public static List<(int Start, int Count)> BatchesOf(int rank, int size, int count, int batch)
    {
        var batches = new List<(int, int)>();
        for (long start = (long)rank * batch; start < count; start += (long)size * batch)
            batches.Add(((int)start, (int)Math.Min(batch, count - start)));
        return batches;
    }

    /// <summary>
    /// Generates this rank's batches (noise from <paramref name="noiseFor"/>(first image, count)) and gathers every
    /// image on rank 0, which gets the whole set; the other ranks get null. The mean NFE is over all images.
    /// </summary>
    public static GeneratedSamples? Generate(ICommunicator comm, IVelocityNetwork net, string solver, int nfe, int head,
        Func<int, int, float[]> noiseFor, int count, int batch, SolverSettings? settings = null, IProgress<int>? progress = null, int[]? labels = null)
    {
        var cfg = net.ModelConfig;
        int c = cfg.InChannels, r = cfg.Resolution, sample = c * r * r;
        var mine = BatchesOf(comm.Rank, comm.Size, count, batch);
        var local = new List<float[]>(mine.Count);
        double nfeTotal = 0;
        int done = 0;
        // A rank without a batch still meets every layer once: collective set-up made at a layer's first call
        // (--conv-algorithm auto's shared plan) must not wait for it in vain.
        if (mine.Count == 0 && Backends.Cpu.ConvPlan.Of(net.Backend) is { Agree: not null, Requested: Backends.Cpu.ConvAlgorithm.Auto })
            SampleGenerator.Generate(net, "euler", 1, head, noiseFor(0, 1), 1, 1, labels: labels?[..1]);
        foreach (var (start, m) in mine)
        {
            var samples = SampleGenerator.Generate(net, solver, nfe, head, noiseFor(start, m), m, batch, settings, labels: labels?[start..(start + m)]);
            nfeTotal += Math.Round(samples.MeanNfe * m);
            local.Add(samples.X);
            done += m;
            progress?.Report(Math.Min(count, done * comm.Size));
        }

        Span<double> nfeSum = [nfeTotal];
        comm.AllreduceSum(nfeSum);
        float[]? all = comm.IsRoot ? new float[(long)count * sample] : null;
        int batches = (count + batch - 1) / batch;
        var counts = new int[comm.Size];
        for (int round = 0; round * comm.Size < batches; round++)
        {
            // Round k gathers batch k*N + q from rank q: one Gatherv of at most N batches, in the single-process order.
            int first = round * comm.Size;
            for (int q = 0; q < comm.Size; q++)
            {
                long start = (long)(first + q) * batch;
                counts[q] = start < count ? (int)Math.Min(batch, count - start) * sample : 0;
            }
            float[] send = round < local.Count ? local[round] : [];
            var receive = all is null ? Span<float>.Empty : all.AsSpan((int)Math.Min((long)first * batch * sample, all.Length));
            comm.Gather(send, receive, counts);
        }
        return all is null ? null : new GeneratedSamples(all, count, c, r, r, nfeSum[0] / count);
    }
}
