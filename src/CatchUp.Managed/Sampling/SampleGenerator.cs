using CatchUp.Models;
using CatchUp.Nn;
using CatchUp.Objectives;
using CatchUp.Tensors;

namespace CatchUp.Sampling;

/// <summary>One call from noise to samples: batches, solver, head, NFE bookkeeping (used by <c>catchup sample</c>,
/// the ablation runner and the evaluator).</summary>
public static class SampleGenerator
{
    private const ulong NoiseStream = 0x5A3D1E_0000_0001UL;

    /// <summary>Deterministic standard-normal noise [count, c, h, w] from a seed: element i depends only on (seed, i),
    /// so the result is the same on any thread count and a smaller count gives a prefix of a larger one.</summary>
    public static float[] Noise(ulong seed, int count, int channels, int height, int width) => Noise(seed, 0, count, channels, height, width);

    /// <summary>Images <paramref name="first"/>.. <paramref name="first"/> + <paramref name="count"/> - 1 of
    /// <see cref="Noise(ulong, int, int, int, int)"/>'s sequence, drawn on their own.</summary>
    public static float[] Noise(ulong seed, int first, int count, int channels, int height, int width)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(first);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(channels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        long length = (long)count * channels * height * width;
        if (length > Array.MaxLength) throw new ArgumentException($"{count} samples of {channels}x{height}x{width} do not fit in one array");
        var noise = new float[length];
        StepRandomness.FillNormal(CounterRng.Hash(seed, NoiseStream), noise, (long)first * channels * height * width);
        return noise;
    }

    /// <summary>Integrates every noise in <paramref name="noise"/> (count*C*H*W floats) in batches of
    /// <paramref name="batch"/> with the named solver (euler|heun|dpm2|dpm3|deis2|rk45, see <see cref="Solvers.Create"/>)
    /// on head 1, 2 or 3; returns the samples (same layout) and the mean NFE per sample. A class-conditional network
    /// needs <paramref name="labels"/>, one class per sample (see <see cref="ClassLabels"/>).</summary>
    public static GeneratedSamples Generate(IVelocityNetwork net, string solver, int nfe, int head, float[] noise, int count, int batch,
        SolverSettings? settings = null, IProgress<int>? progress = null, int[]? labels = null) =>
        Run(net, solver, nfe, head, noise, count, batch, settings, progress, labels, record: false).Samples;

    /// <summary><see cref="Generate"/> that also keeps every step's z and x0_hat. All batches must take the same steps
    /// (always true for the fixed-step solvers; for rk45 use one batch).</summary>
    public static (GeneratedSamples Samples, SampledTrajectory Trajectory) GenerateWithTrajectory(IVelocityNetwork net, string solver, int nfe, int head,
        float[] noise, int count, int batch, SolverSettings? settings = null, IProgress<int>? progress = null, int[]? labels = null)
    {
        var (samples, trajectory) = Run(net, solver, nfe, head, noise, count, batch, settings, progress, labels, record: true);
        return (samples, trajectory!);
    }

    private static (GeneratedSamples Samples, SampledTrajectory? Trajectory) Run(IVelocityNetwork net, string solver, int nfe, int head, float[] noise,
        int count, int batch, SolverSettings? settings, IProgress<int>? progress, int[]? labels, bool record)
    {
        ArgumentNullException.ThrowIfNull(net);
        ArgumentNullException.ThrowIfNull(noise);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        var cfg = net.ModelConfig;
        if (cfg.OutChannels != cfg.InChannels)
            throw new ArgumentException($"the model maps {cfg.InChannels} to {cfg.OutChannels} channels; a velocity field needs the same number");
        if ((labels is not null) != (cfg.ClassCount > 0))
            throw new ArgumentException(cfg.ClassCount > 0 ? "the model is class-conditional: give one class label per sample" : "the model is unconditional: it takes no class labels");
        if (labels is not null && labels.Length != count) throw new ArgumentException($"{labels.Length} labels for {count} samples");
        int c = cfg.InChannels, r = cfg.Resolution, sample = c * r * r;
        if (noise.Length != (long)count * sample)
            throw new ArgumentException($"noise holds {noise.Length} values; {count} samples of {c}x{r}x{r} need {(long)count * sample}");

        var field = new NetworkVelocityField(net, head);
        using var ode = Solvers.Create(solver, nfe, settings);
        var backend = net.Backend;
        var x = new float[noise.Length];
        var recorder = record ? new TrajectoryRecorder() : null;
        TrajectoryAssembly? assembly = null;
        long nfeTotal = 0;
        Tensor? z = null;
        try
        {
            for (int start = 0; start < count; start += batch)
            {
                int m = Math.Min(batch, count - start);
                var zBatch = backend.Ensure(ref z, m, c, r, r);
                backend.Upload(noise.AsSpan(start * sample, m * sample), zBatch);
                field.Labels = labels?[start..(start + m)];
                recorder?.Clear();
                nfeTotal += (long)ode.Solve(field, zBatch, recorder) * m;
                backend.Download(zBatch, x.AsSpan(start * sample, m * sample));
                if (recorder is not null) (assembly ??= new TrajectoryAssembly(recorder, count * sample)).Add(recorder, start * sample, solver);
                progress?.Report(start + m);
            }
        }
        finally
        {
            z?.Dispose();
        }
        return (new GeneratedSamples(x, count, c, r, r, nfeTotal / (double)count), assembly?.Result);
    }

    /// <summary>The default labels of <paramref name="count"/> class-conditional samples: classes cycled, sample i gets
    /// class i mod <paramref name="classes"/> (so a grid of <paramref name="classes"/> columns shows one class per column).</summary>
    public static int[] ClassLabels(int count, int classes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        var labels = new int[count];
        for (int i = 0; i < count; i++) labels[i] = i % classes;
        return labels;
    }

    /// <summary>Batch trajectories copied side by side into whole-set arrays.</summary>
    private sealed class TrajectoryAssembly(TrajectoryRecorder first, int length)
    {
        private readonly float[][] _z = first.Z.Select(_ => new float[length]).ToArray();
        private readonly float[][] _x0 = first.X0Hat.Select(_ => new float[length]).ToArray();
        private readonly double[] _times = first.Times.ToArray();

        public SampledTrajectory Result => new(_z, _x0, _times);

        public void Add(TrajectoryRecorder batch, int offset, string solver)
        {
            if (!batch.Times.SequenceEqual(_times))
                throw new InvalidOperationException($"{solver} took different steps for different batches ({_times.Length - 1} vs {batch.Times.Count - 1}); record its trajectory in one batch");
            for (int s = 0; s < _z.Length; s++) batch.Z[s].CopyTo(_z[s], offset);
            for (int s = 0; s < _x0.Length; s++) batch.X0Hat[s].CopyTo(_x0[s], offset);
        }
    }
}
