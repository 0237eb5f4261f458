using CatchUp.Backends;
using CatchUp.Models;
using CatchUp.Sampling;
using CatchUp.Nn;
using CatchUp.Objectives;
using CatchUp.Tensors;
using CatchUp.Training;

namespace CatchUp.Distillation;

/// <summary>Settings of the final multi-step distillation (SPEC section 8).</summary>
public sealed record DistillOptions
{
    /// <summary>Fixed noises whose Euler-16 trajectories provide the targets.</summary>
    public int Count { get; init; } = 2048;
    public int IterationsPerStage { get; init; } = 300;
    public int Batch { get; init; } = 64;
    public float LearningRate { get; init; } = 1e-4f;
    /// <summary>Adds 0.1 * MSE(v(z,1), v_ema(z,1)), v_ema being the distilled model's own EMA.</summary>
    public bool Sam { get; init; }
    public float EmaDecay { get; init; } = 0.99f;
    public ulong Seed { get; init; }
    /// <summary>Euler-16 step indices (0-based) whose x0 estimates are the stage targets, in stage order.</summary>
    public int[] TargetSteps { get; init; } = [8, 11, 14];
    public const int TrajectorySteps = 16;
}

/// <summary>
/// One-step distillation of a CUD model (paper Appendix G): Euler-16 trajectories from fixed noises give x0 estimates
/// x0_hat = z_i - t_i v(z_i, t_i) at steps 8, 11 and 14; the student, initialised from the model, is trained at t = 1
/// only, pred = z - v(z, 1), on MSE(pred, target) in three consecutive stages (teacher-assistant schedule).
/// </summary>
public sealed class OneStepDistiller
{
    private readonly IBackend _b;
    private readonly IVelocityNetwork _student, _studentEma;
    private readonly DistillOptions _o;

    public OneStepDistiller(IVelocityNetwork student, IVelocityNetwork studentEma, DistillOptions options)
    {
        _student = student;
        _studentEma = studentEma;
        _b = student.Backend;
        _o = options;
        int classes = student.ModelConfig.ClassCount;
        Labels = classes > 0 ? SampleGenerator.ClassLabels(options.Count, classes) : null;
    }

    /// <summary>A class-conditional model's class for each noise (classes cycled), else null.</summary>
    public int[]? Labels { get; }

    private int[]? LabelsOf(int start, int m) => Labels?[start..(start + m)];

    public float[] Noise { get; private set; } = [];
    /// <summary>Targets per stage: [stage][count * C*H*W].</summary>
    public float[][] Targets { get; private set; } = [];

    /// <summary>Runs the teacher's Euler-16 trajectories (inference mode) and keeps the x0 estimates at the target steps.</summary>
    public void GenerateTargets(IVelocityNetwork teacher)
    {
        var cfg = teacher.ModelConfig;
        int sample = cfg.InChannels * cfg.Resolution * cfg.Resolution;
        Noise = new float[_o.Count * sample];
        StepRandomness.FillNormal(CounterRng.Hash(_o.Seed, 0xD157UL), Noise);
        Targets = _o.TargetSteps.Select(_ => new float[Noise.Length]).ToArray();
        int n = Math.Min(_o.Batch, _o.Count);
        Tensor? z = null, t = null, x0 = null;
        var host = new float[n * sample];
        for (int start = 0; start < _o.Count; start += n)
        {
            int m = Math.Min(n, _o.Count - start);
            _b.Ensure(ref z, m, cfg.InChannels, cfg.Resolution, cfg.Resolution);
            _b.Ensure(ref t, m);
            _b.Ensure(ref x0, z!.Shape);
            var labels = LabelsOf(start, m);
            _b.Upload(Noise.AsSpan(start * sample, m * sample), z);
            for (int i = 0; i < DistillOptions.TrajectorySteps; i++)
            {
                float ti = (DistillOptions.TrajectorySteps - i) / (float)DistillOptions.TrajectorySteps;
                _b.Fill(t!, ti);
                var v = teacher.Forward(z, t!, labels, ForwardMode.Inference, computeHeads: false).V;
                int stage = Array.IndexOf(_o.TargetSteps, i);
                if (stage >= 0)
                {
                    _b.Copy(z, x0!);
                    _b.Axpby(-ti, v, 1f, x0!);                 // x0_hat = z_i - t_i v_i
                    var span = Targets[stage].AsSpan(start * sample, m * sample);
                    _b.Download(x0!, span);
                }
                _b.Axpby(-1f / DistillOptions.TrajectorySteps, v, 1f, z);
            }
        }
        z?.Dispose(); t?.Dispose(); x0?.Dispose();
    }

    /// <summary>Trains the three stages; returns the mean loss of each stage's last 10% of iterations.</summary>
    public double[] Train(Action<int, int, double>? progress = null)
    {
        var cfg = _student.ModelConfig;
        int sample = cfg.InChannels * cfg.Resolution * cfg.Resolution, n = Math.Min(_o.Batch, _o.Count);
        using var adam = new AdamOptimizer(_b, _student.Parameters.All);
        var ema = new EmaTracker(_b, _student.Parameters, _studentEma.Parameters, _o.EmaDecay, 0);
        ema.CopyFromSource();
        using var z = _b.Allocate([n, cfg.InChannels, cfg.Resolution, cfg.Resolution]);
        using var target = _b.Allocate(z.Shape);
        using var ones = _b.Allocate([n]);
        using var pred = _b.Allocate(z.Shape);
        using var dPred = _b.Allocate(z.Shape);
        using var dv = _b.Allocate(z.Shape);
        using var vEma = _b.Allocate(z.Shape);
        using var dSam = _b.Allocate(z.Shape);
        _b.Fill(ones, 1f);
        var zHost = new float[n * sample];
        var tHost = new float[n * sample];
        int[]? yHost = Labels is null ? null : new int[n];
        var stageLoss = new double[_o.TargetSteps.Length];
        long step = 0;
        for (int stage = 0; stage < _o.TargetSteps.Length; stage++)
        {
            double tail = 0;
            int tailCount = 0;
            for (int it = 0; it < _o.IterationsPerStage; it++, step++)
            {
                for (int k = 0; k < n; k++)
                {
                    int idx = (int)(CounterRng.Hash(_o.Seed + (ulong)stage, (ulong)(step * n + k)) % (ulong)_o.Count);
                    Noise.AsSpan(idx * sample, sample).CopyTo(zHost.AsSpan(k * sample));
                    Targets[stage].AsSpan(idx * sample, sample).CopyTo(tHost.AsSpan(k * sample));
                    if (yHost is not null) yHost[k] = Labels![idx];
                }
                _b.Upload(zHost, z);
                _b.Upload(tHost, target);
                if (_o.Sam) _b.Copy(_studentEma.Forward(z, ones, yHost, ForwardMode.Inference, computeHeads: false).V, vEma);
                _student.Parameters.ZeroGrad();
                var v = _student.Forward(z, ones, yHost, ForwardMode.Train(CounterRng.Hash(_o.Seed, (ulong)step)), computeHeads: false).V;
                _b.Copy(z, pred);
                _b.Axpby(-1f, v, 1f, pred);                      // one-step x0 = z - v(z, 1)
                double loss = _b.MseLoss(pred, target, dPred, 1f);
                _b.Axpby(-1f, dPred, 0f, dv);                     // d pred / d v = -1
                if (_o.Sam)
                {
                    loss += 0.1 * _b.MseLoss(v, vEma, dSam, 0.1f);
                    _b.Axpby(1f, dSam, 1f, dv);
                }
                _student.Backward(dv);
                adam.Step(_o.LearningRate);
                ema.Update(step + 1);
                if (it >= _o.IterationsPerStage * 9 / 10) { tail += loss; tailCount++; }
                progress?.Invoke(stage, it, loss);
            }
            stageLoss[stage] = tailCount > 0 ? tail / tailCount : double.NaN;
        }
        return stageLoss;
    }

    /// <summary>Mean squared error of the one-step prediction z - v(z, 1) against a stage's targets, over all noises.</summary>
    public double OneStepError(IVelocityNetwork model, int stage)
    {
        var cfg = model.ModelConfig;
        int sample = cfg.InChannels * cfg.Resolution * cfg.Resolution, n = Math.Min(_o.Batch, _o.Count);
        double sum = 0;
        Tensor? z = null, t = null, target = null, pred = null;
        for (int start = 0; start < _o.Count; start += n)
        {
            int m = Math.Min(n, _o.Count - start);
            _b.Ensure(ref z, m, cfg.InChannels, cfg.Resolution, cfg.Resolution);
            _b.Ensure(ref t, m); _b.Ensure(ref target, z!.Shape); _b.Ensure(ref pred, z.Shape);
            _b.Fill(t!, 1f);
            _b.Upload(Noise.AsSpan(start * sample, m * sample), z);
            _b.Upload(Targets[stage].AsSpan(start * sample, m * sample), target!);
            var v = model.Forward(z, t!, LabelsOf(start, m), ForwardMode.Inference, computeHeads: false).V;
            _b.Copy(z, pred!);
            _b.Axpby(-1f, v, 1f, pred!);
            sum += _b.MseLoss(pred!, target!, null, 1f) * m;
        }
        z?.Dispose(); t?.Dispose(); target?.Dispose(); pred?.Dispose();
        return sum / _o.Count;
    }
}
