using CatchUp.Models;
using CatchUp.Models.Adm;
using CatchUp.Nn;
using CatchUp.Objectives;
using CatchUp.Tensors;
using CatchUp.Training;

namespace CatchUp.Backends;

/// <summary>One conformance check: the largest error of the candidate relative to the reference's scale, per output.</summary>
public sealed record ConformanceResult(string Check, double Error, double Tolerance, string Worst)
{
    /// <summary>False for NaN errors too.</summary>
    public bool Passed => Error <= Tolerance;
}

/// <summary>
/// Runs every <see cref="IBackend"/> op, the whole network forward/backward and one complete CUD RK12 training step on
/// a reference backend (the CPU) and a candidate (the GPU) from identical inputs, and compares all outputs. Used by
/// the GPU tests and by <c>catchup selftest</c>. Inputs are small, deterministic and cover the optional arguments
/// (null bias/shift/scales, dropout, accumulation into pre-filled gradients).
/// </summary>
public static class BackendConformance
{
    private const double OpTolerance = 1e-4, NetworkTolerance = 1e-3;

    private sealed record Check(string Name, double Tolerance, Action<Scope> Run);

    public static IReadOnlyList<string> Names => Checks.Select(c => c.Name).ToArray();

    public static ConformanceResult Run(string name, IBackend reference, IBackend candidate)
    {
        var check = Checks.FirstOrDefault(c => c.Name == name) ?? throw new ArgumentException($"no conformance check named {name}");
        var expected = Execute(check, reference);
        var actual = Execute(check, candidate);
        var (error, worst) = Compare(expected, actual);
        return new ConformanceResult(name, error, check.Tolerance, worst);
    }

    public static List<ConformanceResult> RunAll(IBackend reference, IBackend candidate, TextWriter? log = null)
    {
        var results = new List<ConformanceResult>();
        foreach (var name in Names)
        {
            var r = Run(name, reference, candidate);
            log?.WriteLine(Describe(r));
            results.Add(r);
        }
        return results;
    }

    /// <summary>"PASS|FAIL check error (tolerance) where", the line selftest prints.</summary>
    public static string Describe(ConformanceResult r) =>
        $"{(r.Passed ? "PASS" : "FAIL")} {r.Check,-36} error {r.Error:E2} (tolerance {r.Tolerance:E0}) {r.Worst}";

    /// <summary>Max over outputs of max|actual - expected| / max|expected| (absolute where expected is all zero), and
    /// which output and element it was. Different output lists or lengths count as infinite error.</summary>
    public static (double Error, string Worst) Compare(IReadOnlyList<(string Name, float[] Values)> expected, IReadOnlyList<(string Name, float[] Values)> actual)
    {
        if (expected.Count != actual.Count) return (double.PositiveInfinity, $"{expected.Count} outputs vs {actual.Count}");
        double worst = 0;
        string where = "";
        for (int o = 0; o < expected.Count; o++)
        {
            var (name, e) = expected[o];
            var a = actual[o].Values;
            if (actual[o].Name != name || a.Length != e.Length) return (double.PositiveInfinity, $"output {name} differs in name or length");
            double scale = 0;
            foreach (float v in e) scale = Math.Max(scale, Math.Abs(v));
            if (scale == 0) scale = 1;
            for (int i = 0; i < e.Length; i++)
            {
                double err = Math.Abs((double)a[i] - e[i]) / scale;
                if (double.IsNaN(err) && !(float.IsNaN(a[i]) && float.IsNaN(e[i]))) err = double.PositiveInfinity;
                if (err > worst || double.IsNaN(err))
                {
                    worst = double.IsNaN(err) ? double.PositiveInfinity : err;
                    where = $"{name}[{i}]: expected {e[i]:G7}, got {a[i]:G7}";
                }
            }
        }
        return (worst, where);
    }

    private static List<(string, float[])> Execute(Check check, IBackend backend)
    {
        using var scope = new Scope(backend);
        check.Run(scope);
        backend.Synchronize();
        return scope.Outputs;
    }

    /// <summary>Tensors of one check on one backend: deterministic inputs, recorded outputs, disposal.</summary>
    private sealed class Scope(IBackend backend) : IDisposable
    {
        private readonly List<Tensor> _owned = new();
        private readonly List<IDisposable> _others = new();
        public IBackend B { get; } = backend;
        public List<(string, float[])> Outputs { get; } = new();

        public Tensor Rand(ulong seed, float scale, params int[] shape) => Rand(seed, scale, 0f, shape);

        public Tensor Rand(ulong seed, float scale, float offset, params int[] shape)
        {
            var t = Own(B.Allocate(shape));
            B.Upload(Values(seed, t.Length, scale, offset), t);
            return t;
        }

        public Tensor From(float[] data, params int[] shape)
        {
            var t = Own(B.Allocate(shape));
            B.Upload(data, t);
            return t;
        }

        public Tensor Zeros(params int[] shape) => Own(B.Allocate(shape));

        public T Keep<T>(T d) where T : IDisposable
        {
            _others.Add(d);
            return d;
        }

        public void Out(string name, Tensor t) => Outputs.Add((name, t.ToArray()));
        public void Out(string name, double scalar) => Outputs.Add((name, [(float)scalar]));

        private Tensor Own(Tensor t)
        {
            _owned.Add(t);
            return t;
        }

        public void Dispose()
        {
            foreach (var t in _owned) t.Dispose();
            for (int i = _others.Count - 1; i >= 0; i--) _others[i].Dispose();
        }
    }

    private static float[] Values(ulong seed, int count, float scale, float offset)
    {
        var a = new float[count];
        for (int i = 0; i < count; i++) a[i] = offset + scale * (2f * CounterRng.Uniform(seed, (ulong)i) - 1f);
        return a;
    }

    /// <summary>Every parameter to offset + U(-0.3, 0.3) (GroupNorm weights around 1), so every path carries signal.</summary>
    private static void Randomize(ParameterSet ps, ulong seed)
    {
        foreach (var p in ps.All)
        {
            bool normWeight = p.Name.EndsWith(".weight") && p.Shape.Length == 1;
            ps.Backend.Upload(Values(seed ^ CounterRng.StableHash(p.Name), p.Value.Length, 0.3f, normWeight ? 1f : 0f), p.Value);
        }
    }

    private static readonly Check[] Checks =
    [
        new("fill-copy", 0, s =>
        {
            var y = s.Zeros(3, 7); s.B.Fill(y, 1.5f); s.Out("fill", y);
            var x = s.Rand(1, 1f, 5, 9); var z = s.Zeros(5, 9); s.B.Copy(x, z); s.Out("copy", z);
        }),
        new("axpby", OpTolerance, s =>
        {
            var x = s.Rand(1, 1f, 1000); var y = s.Rand(2, 1f, 1000);
            s.B.Axpby(0.7f, x, 0.3f, y); s.Out("y", y);
            s.B.Axpby(-2f, x, 0f, y); s.Out("y_b0", y);
        }),
        new("add-scale", OpTolerance, s =>
        {
            var a = s.Rand(1, 1f, 777); var b = s.Rand(2, 1f, 777); var y = s.Zeros(777);
            s.B.AddScale(a, b, 0.5f, y); s.Out("y", y);
        }),
        new("silu", OpTolerance, s =>
        {
            var x = s.Rand(1, 6f, 2, 500); var dy = s.Rand(2, 1f, 2, 500); var y = s.Zeros(2, 500); var dx = s.Zeros(2, 500);
            s.B.Silu(x, y); s.Out("y", y);
            s.B.SiluBackward(x, dy, dx); s.Out("dx", dx);
        }),
        Conv("conv2d-k3-bias", 3, 5, 9, 7, 6, 3, bias: true),
        Conv("conv2d-k1", 2, 12, 6, 6, 8, 1, bias: false),
        Conv("conv2d-input-1ch", 2, 1, 28, 28, 16, 3, bias: true),
        Conv("conv2d-output-1ch", 2, 16, 8, 8, 1, 3, bias: true),
        new("resample", OpTolerance, s =>
        {
            var big = s.Rand(1, 1f, 2, 3, 8, 6); var small = s.Rand(2, 1f, 2, 3, 4, 3);
            var toSmall = s.Zeros(2, 3, 4, 3); var toBig = s.Zeros(2, 3, 8, 6);
            s.B.AvgPool2x(big, toSmall); s.Out("avgpool", toSmall);
            s.B.AvgPool2xBackward(small, toBig); s.Out("avgpool_dx", toBig);
            s.B.Upsample2x(small, toBig); s.Out("upsample", toBig);
            s.B.Upsample2xBackward(big, toSmall); s.Out("upsample_dx", toSmall);
        }),
        GroupNorm("groupnorm-shift-silu-dropout", shift: true, silu: true, dropout: new DropoutSpec(0.3f, 1234)),
        GroupNorm("groupnorm-plain", shift: false, silu: false, dropout: DropoutSpec.None),
        ScaleShift("scale-shift-silu-dropout", silu: true, dropout: new DropoutSpec(0.3f, 4321)),
        ScaleShift("scale-shift-plain", silu: false, dropout: DropoutSpec.None),
        new("linear", OpTolerance, s =>
        {
            var x = s.Rand(1, 1f, 5, 24); var w = s.Rand(2, 0.3f, 16, 24); var b = s.Rand(3, 1f, 16); var y = s.Zeros(5, 16);
            s.B.LinearForward(x, w, b, y); s.Out("y", y);
            var dy = s.Rand(4, 1f, 5, 16); var dx = s.Zeros(5, 24); var dw = s.Rand(5, 1f, 16, 24); var db = s.Rand(6, 1f, 16);
            s.B.LinearBackward(x, w, dy, dx, dw, db); s.Out("dx", dx); s.Out("dw", dw); s.Out("db", db);
            s.B.LinearForward(x, w, null, y); s.Out("y_nobias", y);
        }),
        new("positional-embedding", OpTolerance, s =>
        {
            var t = s.From([1e-5f, 0.25f, 0.5f, 0.999f, 1f, 16f], 6); var y = s.Zeros(6, 32);
            s.B.PositionalEmbedding(t, y); s.Out("y", y);
        }),
        Attention("attention-4x4", 2, 4, 4),
        Attention("attention-8x8", 2, 16, 8),
        new("concat-scaled", OpTolerance, s =>
        {
            var a = s.Rand(1, 1f, 3, 4, 5, 5); var b = s.Rand(2, 1f, 3, 2, 5, 5); var sa = s.Rand(3, 1f, 1f, 3); var sb = s.Rand(4, 1f, 1f, 3);
            var y = s.Zeros(3, 6, 5, 5);
            s.B.ConcatScaled(a, b, sa, sb, y); s.Out("y", y);
            s.B.ConcatScaled(a, b, null, sb, y); s.Out("y_nullA", y);
            var dy = s.Rand(5, 1f, 3, 6, 5, 5); var da = s.Zeros(3, 4, 5, 5); var db = s.Zeros(3, 2, 5, 5);
            s.B.ConcatScaledBackward(dy, sa, sb, da, db); s.Out("da", da); s.Out("db", db);
        }),
        new("per-sample", OpTolerance, s =>
        {
            var x = s.Rand(1, 1f, 4, 3, 5); var y = s.Rand(2, 1f, 4, 3, 5); var a = s.Rand(3, 1f, 4); var b = s.Rand(4, 1f, 4);
            s.B.ScaleAddPerSample(x, a, 0.5f, y, b, 2f); s.Out("scale_add", y);
            s.B.ScaleAddPerSample(x, null, -1f, y, null, 0f); s.Out("scale_add_b0", y);
            var mask = s.From([1f, 0f, 0f, 1f], 4); var other = s.Rand(5, 1f, 4, 3, 5);
            s.B.SelectPerSample(mask, x, other, y); s.Out("select", y);
        }),
        new("reparameterize", OpTolerance, s =>
        {
            var ml = s.Rand(1, 2f, 3, 4, 3, 3); var noise = s.Rand(2, 1f, 3, 2, 3, 3); var x1 = s.Zeros(3, 2, 3, 3);
            s.B.Reparameterize(ml, noise, x1); s.Out("x1", x1);
            var dx1 = s.Rand(3, 1f, 3, 2, 3, 3); var dml = s.Zeros(3, 4, 3, 3);
            s.B.ReparameterizeBackward(ml, noise, dx1, dml); s.Out("dmulogvar", dml);
        }),
        new("catchup-point", OpTolerance, s =>
        {
            var z = s.Rand(1, 1f, 4, 2, 6, 6); var k1 = s.Rand(2, 1f, 4, 2, 6, 6); var k2 = s.Rand(3, 1f, 4, 2, 6, 6); var k3 = s.Rand(4, 1f, 4, 2, 6, 6);
            var t = s.From([1f, 0.5f, 0.05f, 1e-5f], 4); var dt = s.From([0.06f, 0.01f, 0.03f, 0.02f], 4);
            var y = s.Zeros(4, 2, 6, 6); var time = s.Zeros(4);
            s.B.CatchUpPoint(z, k1, k2, k3, t, dt, new CatchUpStep(5f / 4f, 2f, -1f / 4f, 3f, true, 1e-5f), y, time); s.Out("y_rk34_T3", y); s.Out("time_clamped", time);
            s.B.CatchUpPoint(z, k1, null, null, t, dt, new CatchUpStep(1f, 0f, 0f, 1f, false, 1e-5f), y, time); s.Out("y_k2", y); s.Out("time", time);
        }),
        new("adam-ema", OpTolerance, s =>
        {
            var p = s.Rand(1, 1f, 1500); var g = s.Rand(2, 1f, 1500); var m = s.Rand(3, 0.1f, 1500); var v = s.Rand(4, 0.1f, 0.1f, 1500);
            s.B.AdamStep(p, g, m, v, new AdamSpec(1e-2f, 0.9f, 0.999f, 1e-8f, 0f, false, 3)); s.Out("p", p); s.Out("m", m); s.Out("v", v);
            s.B.AdamStep(p, g, m, v, new AdamSpec(1e-2f, 0.9f, 0.999f, 1e-8f, 0.1f, true, 4)); s.Out("p_adamw", p);
            s.B.AdamStep(p, g, m, v, new AdamSpec(1e-2f, 0.9f, 0.999f, 1e-8f, 0.1f, false, 5)); s.Out("p_l2", p);
            var e = s.Rand(5, 1f, 1500); s.B.EmaUpdate(e, p, 0.99f); s.Out("ema", e);
        }),
        new("losses", OpTolerance, s =>
        {
            var a = s.Rand(1, 1f, 3, 2, 7, 7); var b = s.Rand(2, 1f, 3, 2, 7, 7); var g = s.Zeros(3, 2, 7, 7);
            s.Out("mse", s.B.MseLoss(a, b, g, 0.7f)); s.Out("mse_grad", g);
            s.Out("mse_nograd", s.B.MseLoss(a, b, null, 1f));
            var ml = s.Rand(3, 1.5f, 3, 4, 5, 5); var kg = s.Zeros(3, 4, 5, 5);
            s.Out("kl", s.B.KlLoss(ml, kg, 20f)); s.Out("kl_grad", kg);
            s.Out("sum_squares", s.B.SumSquares(s.Rand(4, 1f, 100_003)));
            s.Out("sum_squares_all", s.B.SumSquares([s.Rand(5, 1f, 7), s.Rand(6, 2f, 300_001), s.Rand(7, 1f, 1)]));
        }),
        new("songunet-forward-backward", NetworkTolerance, s =>
        {
            var config = SongUNetConfig.TestTiny with { Dropout = 0.2 };
            var net = s.Keep(new SongUNet(config, s.B));
            Randomize(net.Parameters, 11);
            var x = s.Rand(1, 1f, 3, 2, 8, 8); var t = s.From([0.9f, 0.3f, 0.02f], 3);
            var output = net.Forward(x, t, ForwardMode.Train(99), computeHeads: true);
            s.Out("v", output.V); s.Out("features", output.Features);
            for (int h = 0; h < output.Heads.Count; h++) s.Out($"head{h + 2}", output.Heads[h]);
            var dv = s.Rand(2, 1f, 3, 2, 8, 8);
            Tensor?[] dHeads = [s.Rand(3, 1f, 3, 2, 8, 8), s.Rand(4, 1f, 3, 2, 8, 8)];
            net.Parameters.ZeroGrad();
            var dx = net.Backward(dv, dHeads, needInputGrad: true)!;
            s.Out("dx", dx);
            foreach (var p in net.Parameters.All) s.Out("d" + p.Name, p.Grad);
        }),
        new("adm-forward-backward", NetworkTolerance, s =>
        {
            var config = new AdmUNetConfig
            {
                // 64 channels: two per GroupNorm32 group, so no gradient is structurally zero (float noise compared
                // relative to a zero scale would fail the check).
                ImageSize = 8, NumChannels = 64, NumResBlocks = 1, ChannelMult = "1,1", ClassCond = true, NumClasses = 5,
                AttentionResolutions = "4", NumHeadChannels = 32, UseScaleShiftNorm = true, ResblockUpdown = true,
                Dropout = 0.2, PriorShakedrop = true, Predstep = 2, InChannels = 2,
            };
            var net = s.Keep(new AdmUNet(config, s.B));
            Randomize(net.Parameters, 31);
            var x = s.Rand(1, 1f, 3, 2, 8, 8); var t = s.From([0.9f, 0.3f, 0.02f], 3);
            var output = net.Forward(x, t, [4, 0, 2], ForwardMode.Train(7), computeHeads: true);
            s.Out("v", output.V); s.Out("features", output.Features); s.Out("head2", output.Heads[0]);
            net.Parameters.ZeroGrad();
            var dx = net.Backward(s.Rand(2, 1f, 3, 2, 8, 8), [s.Rand(3, 1f, 3, 2, 8, 8)], needInputGrad: true)!;
            s.Out("dx", dx);
            foreach (var p in net.Parameters.All) s.Out("d" + p.Name, p.Grad);
        }),
        new("cud-rk12-training-step", NetworkTolerance, s =>
        {
            var config = SongUNetConfig.TestTiny with { Dropout = 0.1, ExtraHeads = 0 };
            // Without the noise encoder: it is a full MNIST-size network, too slow for the host-emulated runs of this
            // check; its ops (reparameterize, KL) have their own checks.
            var options = new ObjectiveOptions { Kind = ObjectiveKind.Cud, Order = 1 };
            var net = s.Keep(new SongUNet(config, s.B));
            var ema = s.Keep(new SongUNet(config, s.B));
            Randomize(net.Parameters, 21); Randomize(ema.Parameters, 21);
            var objective = s.Keep(new FlowObjective(options, net, ema, null));
            var trainable = net.Parameters.All.ToList();
            // Adam's first step is lr * g / (|g| + eps): with the usual eps = 1e-8 it is the sign of g, which float
            // rounding flips for the (near-)zero gradients. eps = 1e-3 keeps the update continuous in g; the gradients
            // themselves are compared directly below.
            var adam = s.Keep(new AdamOptimizer(s.B, trainable, epsilon: 1e-3f));
            var emaTracker = new EmaTracker(s.B, net.Parameters, ema.Parameters, 0.9f, 0);
            var x0 = s.Rand(1, 1f, 4, 2, 8, 8);
            net.Parameters.ZeroGrad();
            var terms = objective.Step(x0, 3, 10, 7);
            for (int i = 0; i < terms.Count; i++) s.Out("loss_" + terms.Names[i], terms[i]);
            foreach (var p in trainable) s.Out("d" + p.Name, p.Grad);
            adam.Step(1e-3f);
            emaTracker.Update(1);
            foreach (var p in trainable) s.Out(p.Name, p.Value);
            foreach (var p in ema.Parameters.All) s.Out("ema." + p.Name, p.Value);
        }),
    ];

    private static Check Conv(string name, int n, int cin, int h, int w, int cout, int k, bool bias) => new(name, OpTolerance, s =>
    {
        var x = s.Rand(1, 1f, n, cin, h, w); var wt = s.Rand(2, 0.5f, cout, cin, k, k); var b = bias ? s.Rand(3, 1f, cout) : null;
        var y = s.Zeros(n, cout, h, w);
        s.B.Conv2dForward(x, wt, b, y); s.Out("y", y);
        var dy = s.Rand(4, 1f, n, cout, h, w); var dx = s.Zeros(n, cin, h, w); var dw = s.Rand(5, 1f, cout, cin, k, k); var db = s.Rand(6, 1f, cout);
        s.B.Conv2dBackward(x, wt, dy, dx, dw, bias ? db : null); s.Out("dx", dx); s.Out("dw_accumulated", dw);
        if (bias) s.Out("db_accumulated", db);
        s.B.Conv2dBackward(x, wt, dy, null, dw, null); s.Out("dw_no_dx", dw);
    });

    private static Check GroupNorm(string name, bool shift, bool silu, DropoutSpec dropout) => new(name, OpTolerance, s =>
    {
        const int n = 3, c = 8, groups = 2, h = 9, w = 7;
        var x = s.Rand(1, 2f, 0.5f, n, c, h, w); var sh = shift ? s.Rand(2, 1f, n, c) : null;
        var gamma = s.Rand(3, 0.5f, 1f, c); var beta = s.Rand(4, 0.5f, c);
        var y = s.Zeros(n, c, h, w); var mean = s.Zeros(n, groups); var rstd = s.Zeros(n, groups);
        s.B.GroupNormForward(x, sh, gamma, beta, groups, 1e-5f, silu, dropout, y, mean, rstd);
        s.Out("y", y); s.Out("mean", mean); s.Out("rstd", rstd);
        var dy = s.Rand(5, 1f, n, c, h, w); var dx = s.Zeros(n, c, h, w); var dshift = shift ? s.Zeros(n, c) : null;
        var dgamma = s.Rand(6, 1f, c); var dbeta = s.Rand(7, 1f, c);
        s.B.GroupNormBackward(x, sh, gamma, beta, groups, silu, dropout, mean, rstd, dy, dx, dshift, dgamma, dbeta);
        s.Out("dx", dx); s.Out("dgamma_accumulated", dgamma); s.Out("dbeta_accumulated", dbeta);
        if (dshift != null) s.Out("dshift", dshift);
    });

    private static Check ScaleShift(string name, bool silu, DropoutSpec dropout) => new(name, OpTolerance, s =>
    {
        const int n = 3, c = 5, h = 9, w = 7;
        var x = s.Rand(1, 2f, n, c, h, w); var ss = s.Rand(2, 1f, n, 2 * c); var y = s.Zeros(n, c, h, w);
        s.B.ScaleShiftForward(x, ss, silu, dropout, y); s.Out("y", y);
        var dy = s.Rand(3, 1f, n, c, h, w); var dx = s.Zeros(n, c, h, w); var dss = s.Rand(4, 1f, n, 2 * c);
        s.B.ScaleShiftBackward(x, ss, silu, dropout, dy, dx, dss); s.Out("dx", dx); s.Out("dscaleshift_overwritten", dss);
    });

    private static Check Attention(string name, int n, int c, int side) => new(name, OpTolerance, s =>
    {
        int p = side * side;
        var qkv = s.Rand(1, 1f, n, 3 * c, side, side); var y = s.Zeros(n, c, side, side); var probs = s.Zeros(n, p, p);
        s.B.AttentionForward(qkv, y, probs); s.Out("y", y); s.Out("probs", probs);
        s.B.AttentionForward(qkv, y, null); s.Out("y_inference", y);
        var dy = s.Rand(2, 1f, n, c, side, side); var dqkv = s.Zeros(n, 3 * c, side, side);
        s.B.AttentionBackward(qkv, probs, dy, dqkv); s.Out("dqkv", dqkv);
    });
}
