using System.Diagnostics;
using CatchUp.Backends;
using CatchUp.Backends.Cpu;
using CatchUp.Data;
using CatchUp.Distributed;
using CatchUp.IO;
using CatchUp.Models;
using CatchUp.Nn;
using CatchUp.Objectives;
using CatchUp.Sampling;
using CatchUp.Tensors;

namespace CatchUp.Training;

/// <summary>Raised when training keeps producing non-finite losses or gradients.</summary>
public sealed class TrainingDivergedException(string message) : Exception(message);

/// <summary>Raised when data-parallel ranks no longer hold the same weights.</summary>
public sealed class RanksDivergedException(string message) : Exception(message);

/// <summary>
/// The training loop: objective step, NaN/Inf guard, Adam(W) with linear warm-up, EMA, metrics.jsonl, sample grids,
/// atomic checkpoints and exact resume. One directory per run holds config.json and everything the run writes.
/// Data parallel over a <see cref="ICommunicator"/>: each rank computes its slice of the global batch (every draw keyed
/// by the global sample index), gradients and loss terms are averaged, Adam and the EMA run replicated, and rank 0
/// alone writes files. Every <see cref="ChecksumEvery"/> iterations and at the end the ranks compare their weights.
/// </summary>
public sealed class Trainer : IDisposable
{
    public const int MaxConsecutiveNonFinite = 5;
    public const int ChecksumEvery = 100;
    private readonly TrainingOptions _o;
    private readonly IBackend _b;
    private readonly BatchSampler _sampler;
    private readonly IVelocityNetwork _net, _ema;
    private readonly IVelocityNetwork? _pretrained;
    private readonly NoiseEncoder? _encoder;
    private readonly FlowObjective _objective;
    private readonly AdamOptimizer _optimizer;
    private Tensor[]? _grads;
    private readonly EmaTracker _emaTracker;
    private readonly (string Prefix, IVelocityNetwork Net, EmaTracker Tracker)[] _extraEmas;
    private readonly Action<string, HostTensor>? _gridWriter;
    private readonly float[] _batchHost;
    private readonly int[] _labels;
    private readonly int[]? _localLabels;
    private readonly Tensor _x0;
    private readonly ICommunicator _comm;
    private readonly GradientAllreducer _reducer;
    private readonly WeightChecksum _checksum = new();
    private readonly double[] _scalars;
    private readonly int _localBatch;
    private readonly long _sampleOffset;
    private long _nanSkips, _consecutiveNonFinite;

    public Trainer(TrainingOptions options, IBackend backend, ImageDataset data, string runDir, Action<string, HostTensor>? gridWriter = null,
        ICommunicator? communicator = null, long bucketBytes = GradientAllreducer.DefaultBucketBytes)
    {
        _o = options;
        _b = backend;
        _comm = communicator ?? SingleProcessCommunicator.Instance;
        if (options.Batch % _comm.Size != 0)
            throw new ArgumentException($"--batch {options.Batch} is the global batch: it must be divisible by the {_comm.Size} ranks");
        _localBatch = options.Batch / _comm.Size;
        _sampleOffset = (long)_comm.Rank * _localBatch;
        RunDir = runDir;
        _gridWriter = _comm.IsRoot ? gridWriter : null;
        var model = options.ModelWithHeads;
        if (data.Channels != model.InChannels || data.Height != model.Resolution || data.Width != model.Resolution)
            throw new InvalidDataFileException(data.Source,
                $"images are {data.Channels}x{data.Height}x{data.Width} but the model expects {model.InChannels}x{model.Resolution}x{model.Resolution}");
        if (model.ClassCount > 0 && model.ClassCount < data.Classes)
            throw new InvalidDataFileException(data.Source,
                $"the data set has {data.Classes} classes but the class-conditional model only {model.ClassCount} (label_dim / num_classes)");
        _sampler = new BatchSampler(data, options.Batch, options.Seed, options.HorizontalFlip);
        _net = model.Build(backend);
        _ema = model.Build(backend);
        _net.Parameters.Initialize(options.Seed);
        if (options.Objective.UsesEncoder)
        {
            _encoder = new NoiseEncoder(model, backend, options.EncoderModelOrDefault);
            _encoder.Network.Parameters.Initialize(options.Seed + 1);
        }
        if (options.Objective.NeedsPretrained)
        {
            _pretrained = model.Build(backend);
            LoadPretrained(options.InitFrom!, _pretrained.Parameters, model.HeadKeyPrefix);
            LoadPretrained(options.InitFrom!, _net.Parameters, model.HeadKeyPrefix);
        }
        _objective = new FlowObjective(options.Objective, _net, _ema, _encoder, _pretrained);
        var trainable = _net.Parameters.All.Concat(_encoder?.Network.Parameters.All ?? []).ToList();
        _optimizer = new AdamOptimizer(backend, trainable, weightDecay: options.WeightDecay, decoupled: options.Optimizer == "adamw");
        _emaTracker = new EmaTracker(backend, _net.Parameters, _ema.Parameters, options.EmaDecay, options.EmaStart);
        _emaTracker.CopyFromSource();
        _extraEmas = options.ExtraEmaDecays.Select(decay =>
        {
            var shadow = model.Build(backend);
            var tracker = new EmaTracker(backend, _net.Parameters, shadow.Parameters, decay, options.EmaStart);
            tracker.CopyFromSource();
            return (ExtraEmaPrefix(decay), shadow, tracker);
        }).ToArray();
        _reducer = new GradientAllreducer(_comm, backend, trainable, bucketBytes);
        _scalars = new double[_objective.Terms.Count + 2];
        _batchHost = new float[options.Batch * data.ImageSize];
        _labels = new int[options.Batch];
        _localLabels = model.ClassCount > 0 ? new int[_localBatch] : null;
        _x0 = backend.Allocate([_localBatch, data.Channels, data.Height, data.Width]);
    }

    public string RunDir { get; }
    public long Iteration { get; private set; }
    public IVelocityNetwork Network => _net;
    public IVelocityNetwork Ema => _ema;
    public long NanSkips => _nanSkips;
    public LossTerms LastTerms => _objective.Terms;
    public ICommunicator Communicator => _comm;
    public GradientAllreducer GradientReducer => _reducer;

    /// <summary>The checkpoint prefix of an extra EMA rate: <c>ema_0.9999.</c>.</summary>
    public static string ExtraEmaPrefix(float decay) => $"ema_{decay.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}.";

    private (string, ParameterSet)[] ExtraEmaSets => _extraEmas.Select(e => (e.Prefix, e.Net.Parameters)).ToArray();

    /// <summary>The EMA weights of another run's checkpoint (what its samples come from).</summary>
    private static void LoadPretrained(string runDir, ParameterSet target, string headPrefix)
    {
        string path = Checkpoint.PathIn(runDir);
        if (!File.Exists(path)) throw new InvalidDataFileException(path, "no checkpoint to distill from (train that run first)");
        var tensors = SafetensorsFile.Read(path).Tensors.Where(kv => kv.Key.StartsWith("ema.", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key[4..], kv => kv.Value, StringComparer.Ordinal);
        StateDict.Load(target, tensors, path, ignore: key => key.StartsWith(headPrefix, StringComparison.Ordinal) && !target.TryGet(key, out _));
    }

    /// <summary>Restores the run's checkpoint (model, EMA, encoder, Adam, iteration, data position).</summary>
    public void Resume()
    {
        var progress = Checkpoint.Load(RunDir, _net.Parameters, _ema.Parameters, _encoder?.Network.Parameters, _optimizer, ExtraEmaSets);
        if (progress.Iteration > _o.Iterations)
            throw new InvalidDataFileException(Checkpoint.PathIn(RunDir), $"checkpoint is at iteration {progress.Iteration}, past the run's {_o.Iterations}");
        Iteration = progress.Iteration;
        _optimizer.Steps = progress.AdamSteps;
        _nanSkips = progress.NanSkips;
        _sampler.SetState(progress.Sampler);
        // the convolution algorithms the run used, unless --conv-algorithm names one
        if (progress.ConvPlan is { Length: > 0 } recorded && ConvPlan.Of(_b) is { Requested: ConvAlgorithm.Auto } plan)
        {
            try { plan.Load(recorded); }
            catch (FormatException e) { throw new InvalidDataFileException(Checkpoint.PathIn(RunDir), $"metadata 'conv_plan': {e.Message}"); }
        }
    }

    public IBackend Backend => _b;

    /// <summary>Rank 0 writes the checkpoint; the other ranks hold the same state and write nothing.</summary>
    public void SaveCheckpoint()
    {
        if (_comm.IsRoot) Checkpoint.Save(RunDir, new TrainerProgress(Iteration, _optimizer.Steps, _nanSkips, _sampler.GetState(), ConvPlan.Of(_b)?.Serialize()),
            _net.Parameters, _ema.Parameters, _encoder?.Network.Parameters, _optimizer, ExtraEmaSets);
    }

    /// <summary>Trains until the configured iteration count (or <paramref name="stopAfter"/> more iterations).</summary>
    public void Run(TextWriter output, long? stopAfter = null, CancellationToken cancel = default)
    {
        long end = stopAfter is long s ? Math.Min(_o.Iterations, Iteration + s) : _o.Iterations;
        using var metrics = _comm.IsRoot ? new MetricsLog(Path.Combine(RunDir, "metrics.jsonl"), Iteration) : null;
        var progress = new ProgressLine(Iteration, _o.Iterations, _o.LogEvery, _comm.IsRoot ? output : TextWriter.Null);
        long windowStart = Stopwatch.GetTimestamp();
        long windowIterations = 0;
        bool stop = false;
        while (Iteration < end && !stop && (_comm.Size > 1 || !cancel.IsCancellationRequested))
        {
            _sampler.NextBatch(_batchHost, _labels);   // the whole global batch: every rank's sampler stays in step
            int imageSize = _x0.SampleSize;
            _b.Upload(_batchHost.AsSpan((int)_sampleOffset * imageSize, _localBatch * imageSize), _x0);
            _net.Parameters.ZeroGrad();
            _encoder?.Network.Parameters.ZeroGrad();
            if (_localLabels is not null) _labels.AsSpan((int)_sampleOffset, _localBatch).CopyTo(_localLabels);
            var terms = _objective.Step(_x0, _localLabels, Iteration, _o.Iterations, _o.Seed, _sampleOffset);
            if (_comm.Size > 1) stop = AverageOverRanks(terms, cancel.IsCancellationRequested);
            double lr = _o.LearningRate * Math.Min((Iteration + 1) / (double)Math.Max(_o.Warmup, 1), 1.0);
            if (!double.IsFinite(terms.Total) || !GradientsFinite())
            {
                _nanSkips++;
                if (++_consecutiveNonFinite >= MaxConsecutiveNonFinite)
                    throw new TrainingDivergedException($"training diverged: {_consecutiveNonFinite} consecutive steps had non-finite loss or gradients " +
                        $"(iteration {Iteration + 1}, {_nanSkips} skipped in all); lower --lr or raise the warm-up");
                progress.Message($"iteration {Iteration + 1}: non-finite loss or gradient, step skipped");
            }
            else
            {
                _consecutiveNonFinite = 0;
                _optimizer.Step((float)lr);
            }
            Iteration++;
            _emaTracker.Update(Iteration);
            foreach (var extra in _extraEmas) extra.Tracker.Update(Iteration);
            windowIterations++;

            if (Iteration % _o.LogEvery == 0 || Iteration == end)
            {
                double seconds = Stopwatch.GetElapsedTime(windowStart).TotalSeconds;
                metrics?.Write(Iteration, terms.Names, i => terms[i], terms.Total, lr, windowIterations * _o.Batch / seconds, _nanSkips);
                windowStart = Stopwatch.GetTimestamp();
                windowIterations = 0;
            }
            progress.Update(Iteration, terms.Total);
            if (Iteration % _o.SampleEvery == 0 || Iteration == _o.Iterations) WriteSampleGrids();
            if (_comm.Size > 1 && (Iteration % ChecksumEvery == 0 || Iteration == end || stop)) CompareWeightsAcrossRanks();
            if (Iteration % _o.CheckpointEvery == 0 || Iteration == end) SaveCheckpoint();
        }
        Interrupted = Iteration < end && (stop || cancel.IsCancellationRequested);
    }

    /// <summary>The last <see cref="Run"/> stopped early: Ctrl-C or SIGTERM here, or on any other rank.</summary>
    public bool Interrupted { get; private set; }

    /// <summary>Averages gradients and loss terms over the ranks (so every rank takes the same NaN-guard decision and
    /// logs the global loss); returns whether any rank asked to stop after this iteration.</summary>
    private bool AverageOverRanks(LossTerms terms, bool stopRequested)
    {
        _reducer.Average();
        for (int i = 0; i < terms.Count; i++) _scalars[i] = terms[i];
        _scalars[terms.Count] = terms.Total;
        _scalars[terms.Count + 1] = stopRequested ? 1 : 0;
        _comm.AllreduceSum(_scalars);
        for (int i = 0; i < terms.Count; i++) terms[i] = _scalars[i] / _comm.Size;
        terms.Total = _scalars[terms.Count] / _comm.Size;
        return _scalars[terms.Count + 1] > 0;
    }

    /// <summary>Checksums of the weights, the EMA and the encoder, compared across ranks: a mismatch stops the run.</summary>
    public void CompareWeightsAcrossRanks()
    {
        var all = _net.Parameters.All.Concat(_ema.Parameters.All).Concat(_encoder?.Network.Parameters.All ?? [])
            .Concat(_extraEmas.SelectMany(e => e.Net.Parameters.All));
        if (WeightChecksum.Compare(_comm, _checksum.Compute(_b, all)) is string problem)
            throw new RanksDivergedException($"iteration {Iteration}: {problem}; the ranks no longer compute the same run. " +
                "Check that every rank runs the same catchup build, data and MPI library");
    }

    /// <summary>One reduction over every gradient and one scalar back (on a GPU, one synchronization per step).</summary>
    private bool GradientsFinite()
    {
        _grads ??= _optimizer.Parameters.Select(p => p.Grad).ToArray();
        return double.IsFinite(_b.SumSquares(_grads));
    }

    /// <summary>Euler 1, 4 and 16 steps from fixed noise with the EMA weights, as PNG grids under samples/.</summary>
    public void WriteSampleGrids()
    {
        if (_gridWriter is null) return;
        var cfg = _o.ModelWithHeads;
        int n = _o.GridSamples, r = cfg.Resolution;
        var noise = new float[n * cfg.InChannels * r * r];
        StepRandomness.FillNormal(Nn.CounterRng.Hash(_o.Seed, 0x9A1DUL), noise);
        using var z1 = _b.FromArray(noise, n, cfg.InChannels, r, r);
        var sampler = new EulerSampler(_ema);
        int[]? labels = cfg.ClassCount > 0 ? SampleGenerator.ClassLabels(n, GridClasses(cfg.ClassCount, n)) : null;
        string dir = Path.Combine(RunDir, "samples");
        Directory.CreateDirectory(dir);
        foreach (int steps in new[] { 1, 4, 16 })
        {
            var x = sampler.Sample(z1, steps, labels: labels);
            _gridWriter(Path.Combine(dir, $"iter{Iteration:D7}_euler{steps}.png"), new HostTensor(x.Shape.ToArray(), x.ToArray()));
        }
    }

    /// <summary>How many classes a class-conditional grid of <paramref name="n"/> samples cycles through: all of them
    /// when they fit in a row of the square grid (one class per column), else the first row's worth.</summary>
    public static int GridClasses(int classes, int n) => Math.Min(classes, Math.Max(1, (int)Math.Ceiling(Math.Sqrt(n))));

    public void Dispose()
    {
        _objective.Dispose();
        _optimizer.Dispose();
        _encoder?.Dispose();
        _net.Dispose();
        _ema.Dispose();
        foreach (var extra in _extraEmas) extra.Net.Dispose();
        _pretrained?.Dispose();
        _x0.Dispose();
    }
}
