using CatchUp.Backends;
using CatchUp.Models;
using CatchUp.Nn;
using CatchUp.Tensors;

namespace CatchUp.Objectives;

/// <summary>
/// One training step's loss and gradients for rectified flow, Curvature (RF + noise encoder) and Catch-Up
/// Distillation RK12/23/34 (SPEC sections 1-3). Catch-up passes run first without saving activations (dropout on);
/// the student's forward and backward run last. Gradients are accumulated into the networks' parameter grads.
/// </summary>
public sealed class FlowObjective : IDisposable
{
    private readonly ObjectiveOptions _o;
    private readonly IVelocityNetwork _net;
    private readonly IVelocityNetwork? _emaTeacher;
    private readonly IVelocityNetwork? _pretrained;
    private readonly NoiseEncoder? _encoder;
    private readonly IBackend _b;
    private readonly int _k;
    private long _offset;
    private int[]? _labels;
    private float[] _t = [], _dt = [], _mask = [], _oneMinusT = [], _tPrime = [], _noise = [];
    private Tensor? _tDev, _dtDev, _maskDev, _oneMinusTDev, _tPrimeDev, _timeDev, _noiseDev, _z, _vStar, _y, _zeros, _dx1, _tmp;
    private readonly Tensor?[] _kBuf = new Tensor?[3], _targets = new Tensor?[3], _dTeacher = new Tensor?[3], _dGt = new Tensor?[3];
    private readonly Tensor?[] _dHeads = new Tensor?[2];
    private static readonly string[] TargetPasses = ["T1", "T2", "T3"];

    public FlowObjective(ObjectiveOptions options, IVelocityNetwork net, IVelocityNetwork? emaTeacher, NoiseEncoder? encoder, IVelocityNetwork? pretrained = null)
    {
        _pretrained = pretrained;
        if (options.NeedsPretrained && pretrained is null) throw new ArgumentException($"{options.Describe()} distills a frozen pre-trained model: give one");
        if (options.Kind == ObjectiveKind.Cd && emaTeacher is null) throw new ArgumentException("consistency distillation needs the EMA network as its target");
        _o = options;
        _net = net;
        _b = net.Backend;
        _emaTeacher = emaTeacher;
        _encoder = encoder;
        _k = options.Kind == ObjectiveKind.Cud ? options.Order : 0;
        if (_k is < 0 or > 3) throw new ArgumentException("CUD order must be 1, 2 or 3");
        if (net.HeadCount < options.ExtraHeads) throw new ArgumentException($"CUD RK order {_k} needs {options.ExtraHeads} extra heads, the network has {net.HeadCount}");
        if (options.UsesEncoder && encoder is null) throw new ArgumentException($"{options.Describe()} needs the noise encoder");
        if (options.Teacher == TeacherKind.Ema && emaTeacher is null) throw new ArgumentException("an EMA teacher needs the EMA network");
        var names = new List<string>();
        if (_k == 0) names.Add(options.NeedsPretrained ? "distill" : "mse");
        else if (_k == 1) names.AddRange(["catchup", "ground_truth"]);
        else for (int j = 1; j <= _k; j++) names.AddRange([$"catchup{j}", $"ground_truth{j}"]);
        if (options.UsesEncoder) names.Add("kl");
        Terms = new LossTerms(names.ToArray());
    }

    public LossTerms Terms { get; }
    public ObjectiveOptions Options => _o;

    /// <summary>Host copies of this step's per-sample draws (for tests and logging).</summary>
    public ReadOnlySpan<float> Times => _t;
    public ReadOnlySpan<float> StepSizes => _dt;
    public ReadOnlySpan<float> Mask => _mask;

    /// <summary>Catch-up targets T_j of the last step (j = 1..k), objective-owned.</summary>
    public Tensor Target(int j) => _targets[j - 1] ?? throw new InvalidOperationException("no targets yet");

    /// <summary>Computes the loss on data x0 at iteration i of I and accumulates gradients (callers zero them first).
    /// x0's samples are samples <paramref name="sampleOffset"/>.. of the iteration's global batch (data parallelism):
    /// every per-sample draw is keyed by the global index.</summary>
    public LossTerms Step(Tensor x0, long iteration, long totalIterations, ulong runSeed, long sampleOffset = 0) =>
        Step(x0, null, iteration, totalIterations, runSeed, sampleOffset);

    /// <summary>As above, for a class-conditional network: <paramref name="labels"/> [N] are x0's classes, and every pass
    /// (the student, the catch-up teachers, CD/PD's pre-trained model, a conditional encoder) is conditioned on them.</summary>
    public LossTerms Step(Tensor x0, int[]? labels, long iteration, long totalIterations, ulong runSeed, long sampleOffset = 0)
    {
        var rand = new StepRandomness(runSeed, iteration);
        int n = x0.N;
        _offset = sampleOffset;
        _labels = labels;
        DrawTimes(rand, n);
        Upload(ref _tDev, _t, n); Upload(ref _oneMinusTDev, _oneMinusT, n);
        Upload(ref _dtDev, _dt, n); Upload(ref _maskDev, _mask, n);
        if (_o.NeedsPretrained) Upload(ref _tPrimeDev, _tPrime, n);

        // Noise x1: independent N(0, I), or the encoder's reparameterized coupling.
        if (_noise.Length != x0.Length) _noise = new float[x0.Length];
        rand.Normal("noise", _noise, sampleOffset * x0.SampleSize);
        var noise = _b.Ensure(ref _noiseDev, x0.Shape);
        _b.Upload(_noise, noise);
        var x1 = _encoder is null ? noise : _encoder.Encode(x0, noise, rand.DropoutSeed("encoder"), sampleOffset, labels);

        // z_t = t x1 + (1 - t) x0;  v* = x1 - x0.
        var z = _b.Ensure(ref _z, x0.Shape);
        _b.Copy(x0, z);
        _b.ScaleAddPerSample(x1, _tDev, 1f, z, _oneMinusTDev, 1f);
        var vStar = _b.Ensure(ref _vStar, x0.Shape);
        _b.Copy(x1, vStar);
        _b.Axpby(-1f, x0, 1f, vStar);

        if (_k > 0) ComputeCatchUpTargets(rand, z, vStar);
        if (_o.NeedsPretrained) ComputeDistillationTarget(rand, z);

        var output = _net.Forward(z, _tDev!, _labels, ForwardMode.Train(rand.DropoutSeed("student"), _offset), computeHeads: _k >= 2);
        Terms.Clear();
        Tensor dv;
        if (_k == 0)
        {
            dv = Grad(_dGt, 0);
            Terms[0] = _b.MseLoss(output.V, _o.NeedsPretrained ? _targets[0]! : vStar, dv, 1f);
            Terms.Total = Terms[0];
        }
        else
        {
            (float wT, float wGt) = _k == 1 ? Rk12Weights(iteration, totalIterations) : (1f, 1f);
            for (int j = 1; j <= _k; j++)
            {
                var pred = j == 1 ? output.V : output.Heads[j - 2];
                double catchUp = _b.MseLoss(pred, _targets[j - 1]!, Grad(_dTeacher, j - 1), wT);
                double groundTruth = _b.MseLoss(pred, vStar, Grad(_dGt, j - 1), wGt);
                _b.Axpby(1f, _dTeacher[j - 1]!, 1f, _dGt[j - 1]!); // dGt_j now holds dL/dpred_j
                Terms[2 * (j - 1)] = catchUp;
                Terms[2 * (j - 1) + 1] = groundTruth;
                Terms.Total += wT * catchUp + wGt * groundTruth;
            }
            dv = _dGt[0]!;
            for (int j = 2; j <= _k; j++) _dHeads[j - 2] = _dGt[j - 1];
        }
        var dz = _net.Backward(dv, _k >= 2 ? _dHeads : null, needInputGrad: _encoder is not null);

        if (_encoder is not null)
        {
            float kl = _encoder.Backward(EncoderInputGradient(dz!, x0.Shape), _o.WeightPrior);
            Terms[Terms.Count - 1] = kl;
            Terms.Total += _o.WeightPrior * kl;
        }
        return Terms;
    }

    private (float, float) Rk12Weights(long i, long total)
    {
        if (!_o.DynamicWeight) return (_o.WeightTeacher, _o.WeightGroundTruth);
        float f = total > 0 ? (float)i / total : 0f;
        return (2f * f, 2f * (1f - f));
    }

    private void DrawTimes(StepRandomness rand, int n)
    {
        if (_t.Length != n)
        {
            _t = new float[n]; _dt = new float[n]; _mask = new float[n]; _oneMinusT = new float[n]; _tPrime = new float[n];
        }
        float eps = _o.TimeEpsilon;
        int tn = _o.CatchUpSteps;
        for (int i = 0; i < n; i++)
        {
            float u = rand.Uniform("t", _offset + i);
            float t = _o.Kind == ObjectiveKind.Pd ? (2 + Math.Min(tn - 2, (int)(u * (tn - 1)))) / (float)tn  // {2..TN}/TN
                : _o.DiscreteTime ? (1 + Math.Min(tn - 1, (int)(u * tn))) / (float)tn : u * (1 - eps) + eps;
            float dt = _o.DiscreteTime ? 1f / tn : _o.StepSize switch
            {
                StepSizeStrategy.Uniform => rand.Uniform("dt", _offset + i) / tn,
                StepSizeStrategy.Rule => t / tn,
                _ => 1f / tn,
            };
            _t[i] = t;
            _oneMinusT[i] = 1 - t;
            _dt[i] = dt;
            _mask[i] = t >= eps + Math.Max(_k, 1) * dt ? 1f : 0f;
            if (_o.Kind == ObjectiveKind.Cd) _tPrime[i] = Math.Clamp(t - 1f / tn, 1f / tn, 1f);   // t' of consistency distillation
            if (_o.Kind == ObjectiveKind.Pd) _tPrime[i] = t - 1f / tn;                            // PD's second Euler step
        }
    }

    private void Upload(ref Tensor? device, float[] host, int n)
    {
        _b.Ensure(ref device, n);
        _b.Upload(host, device!);
    }

    private Tensor Grad(Tensor?[] slots, int j) => _b.Ensure(ref slots[j], _z!.Shape);

    /// <summary>v(input, time) of the teacher (main output); the tensor is the network's and valid until its next forward.</summary>
    private Tensor Teacher(Tensor input, Tensor time, StepRandomness rand, string pass, IVelocityNetwork? model = null)
    {
        var teacher = model ?? (_o.Teacher == TeacherKind.Ema ? _emaTeacher! : _net);
        return teacher.Forward(input, time, _labels, ForwardMode.NoGradWithDropout(rand.DropoutSeed(pass), _offset), computeHeads: false).V;
    }

    /// <summary>The teacher at the catch-up point z - dt (c1 k1 + c2 k2 + c3 k3), time t - shift dt (clamped when asked).</summary>
    private Tensor TeacherAt(Tensor z, CatchUpStep step, StepRandomness rand, string pass)
    {
        var k = _kBuf;
        var y = _b.Ensure(ref _y, z.Shape);
        var time = _b.Ensure(ref _timeDev, z.N);
        _b.CatchUpPoint(z, k[0]!, step.C2 != 0f ? k[1] : null, step.C3 != 0f ? k[2] : null, _tDev!, _dtDev!, step, y, time);
        return Teacher(y, time, rand, pass);
    }

    private CatchUpStep Point(float c1, float c2, float c3, float shift, bool clamp = true) => new(c1, c2, c3, shift, clamp, _o.TimeEpsilon);

    private void ComputeCatchUpTargets(StepRandomness rand, Tensor z, Tensor vStar)
    {
        for (int j = 0; j < 3; j++) _b.Ensure(ref _kBuf[j], z.Shape);
        for (int j = 0; j < _k; j++) _b.Ensure(ref _targets[j], z.Shape);
        var k1 = _kBuf[0]!; var k2 = _kBuf[1]!; var k3 = _kBuf[2]!;
        _b.Copy(Teacher(z, _tDev!, rand, "k1"), k1);
        // Each target is the teacher's v where the catch-up chain stays in [eps, 1] (mask), the ground truth v* elsewhere.
        void Target(int j, CatchUpStep step) => _b.SelectPerSample(_maskDev!, TeacherAt(z, step, rand, TargetPasses[j - 1]), vStar, _targets[j - 1]!);
        switch (_k)
        {
            case 1:
                Target(1, Point(1f, 0f, 0f, 1f));
                break;
            case 2:
                _b.Copy(TeacherAt(z, Point(1f, 0f, 0f, 1f, clamp: false), rand, "k2"), k2);   // k2 = v(z - h k1, t - dt)
                Target(1, Point(0.5f, 0.5f, 0f, 1f));                                           // z - h (k1 + k2)/2
                Target(2, Point(1f, 1f, 0f, 2f));                                               // z - h (k1 + k2)
                break;
            case 3:
                _b.Copy(TeacherAt(z, Point(1f, 0f, 0f, 1f), rand, "k2"), k2);
                _b.Copy(TeacherAt(z, Point(7f / 4f, 1f / 4f, 0f, 2f), rand, "k3"), k3);
                for (int j = 1; j <= 3; j++) Target(j, Point(j * 5f / 12f, j * 2f / 3f, -j / 12f, j));   // z - j h P
                break;
        }
    }

    /// <summary>
    /// CD: y = z - v_pre(z, t)/TN, target = v_ema(y, t'), t' = clamp(t - 1/TN, 1/TN, 1).
    /// PD: two teacher Euler steps of 1/TN from z, target = (z - z_{t-2/TN}) / (2/TN).
    /// </summary>
    private void ComputeDistillationTarget(StepRandomness rand, Tensor z)
    {
        _b.Ensure(ref _kBuf[0], z.Shape);
        var target = _b.Ensure(ref _targets[0], z.Shape);
        var y = _b.Ensure(ref _y, z.Shape);
        float h = 1f / _o.CatchUpSteps;
        var v = _pretrained!.Forward(z, _tDev!, _labels, ForwardMode.NoGradWithDropout(rand.DropoutSeed("pre1"), _offset), computeHeads: false).V;
        _b.Copy(z, y);
        _b.Axpby(-h, v, 1f, y);
        if (_o.Kind == ObjectiveKind.Cd)
        {
            _b.Copy(Teacher(y, _tPrimeDev!, rand, "ema", _emaTeacher!), target);
            return;
        }
        v = _pretrained.Forward(y, _tPrimeDev!, _labels, ForwardMode.NoGradWithDropout(rand.DropoutSeed("pre2"), _offset), computeHeads: false).V;
        _b.Axpby(-h, v, 1f, y);                  // y = z_{t - 2/TN}
        _b.Copy(z, target);
        _b.Axpby(-1f, y, 1f, target);
        _b.Axpby(0f, y, 1f / (2 * h), target);   // target = (z - y) / (2/TN)
    }

    /// <summary>
    /// dL/dx1 for the encoder: x1 enters through z_t = t x1 + (1-t) x0 and through v* = x1 - x0 (the ground-truth
    /// terms, and the catch-up terms of masked-out samples whose target is v*). Catch-up targets are constants.
    /// </summary>
    private Tensor EncoderInputGradient(Tensor dz, ReadOnlySpan<int> shape)
    {
        var dx1 = _b.Ensure(ref _dx1, shape);
        _b.Copy(dz, dx1);
        _b.ScaleAddPerSample(dz, _tDev, 1f, dx1, null, 0f);
        if (_k == 0)
        {
            _b.Axpby(-1f, _dGt[0]!, 1f, dx1);
            return dx1;
        }
        var zeros = _b.Ensure(ref _zeros, shape);
        var tmp = _b.Ensure(ref _tmp, shape);
        for (int j = 0; j < _k; j++)
        {
            // _dGt[j] = dTeacher + dGroundTruth; the v*-dependent part is dGroundTruth + dTeacher on masked-out samples.
            _b.Axpby(-1f, _dGt[j]!, 1f, dx1);
            _b.SelectPerSample(_maskDev!, _dTeacher[j]!, zeros, tmp);
            _b.Axpby(1f, tmp, 1f, dx1);
        }
        return dx1;
    }

    public void Dispose()
    {
        foreach (var t in new[] { _tDev, _dtDev, _maskDev, _oneMinusTDev, _tPrimeDev, _timeDev, _noiseDev, _z, _vStar, _y, _zeros, _dx1, _tmp })
            t?.Dispose();
        foreach (var arr in new[] { _kBuf, _targets, _dTeacher, _dGt })
            foreach (var t in arr) t?.Dispose();
    }
}
