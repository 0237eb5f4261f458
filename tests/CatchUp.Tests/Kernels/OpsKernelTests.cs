using CatchUp.Backends;
using CatchUp.Backends.Cpu;
using CatchUp.Nn;
using CatchUp.Tensors;
using Xunit;
using static CatchUp.Tests.Kernels.GradCheck;

namespace CatchUp.Tests.Kernels;

/// <summary>Non-convolution CPU kernels against <see cref="ReferenceOps"/> and finite differences (<see cref="GradCheck"/>).</summary>
public sealed class OpsKernelTests : IDisposable
{
    private readonly CpuBackend _be = new(2);

    public void Dispose() => _be.Dispose();

    private Tensor T(float[] data, params int[] shape)
    {
        var t = _be.Allocate(shape);
        _be.Upload(data, t);
        return t;
    }

    private Tensor Z(params int[] shape) => _be.Allocate(shape);

    private static int Groups(int c) => Math.Max(Math.Min(32, c / 4), 1);

    /// <summary>|actual - expected| &lt;= rel * (|expected| + max|expected|) element-wise.</summary>
    private static void Close(double[] expected, float[] actual, double rel = 1e-5, string what = "")
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = 0;
        foreach (double e in expected) scale = Math.Max(scale, Math.Abs(e));
        for (int i = 0; i < expected.Length; i++)
        {
            double tol = rel * (Math.Abs(expected[i]) + scale) + 1e-30;
            if (!(Math.Abs(actual[i] - expected[i]) <= tol))
                Assert.Fail($"{what}[{i}]: expected {expected[i]:G9}, got {actual[i]:G9} (tol {tol:G3})");
        }
    }

    // ------------------------------------------------------------------ resample

    public static TheoryData<int, int, int, int> ResampleShapes => new()
    {
        { 1, 1, 2, 2 }, { 3, 5, 28, 28 }, { 2, 3, 14, 6 }, { 1, 2, 64, 64 }, { 3, 1, 4, 66 },
    };

    [Theory, MemberData(nameof(ResampleShapes))]
    public void Resample_MatchesReference(int n, int c, int h, int w)
    {
        var x = Random(n * c * h * w, 1);
        var small = Random(n * c * h * w / 4, 2);
        using var tx = T(x, n, c, h, w);
        using var ts = T(small, n, c, h / 2, w / 2);
        using var pooled = Z(n, c, h / 2, w / 2);
        using var up = Z(n, c, h, w);
        using var dxBig = Z(n, c, h, w);
        using var dxSmall = Z(n, c, h / 2, w / 2);
        _be.AvgPool2x(tx, pooled);
        Close(ReferenceOps.AvgPool2x(x, n, c, h, w), pooled.ToArray(), what: "avgpool");
        _be.AvgPool2xBackward(ts, dxBig);
        Close(ReferenceOps.AvgPool2xBackward(small, n, c, h, w), dxBig.ToArray(), what: "avgpool bwd");
        _be.Upsample2x(ts, up);
        Close(ReferenceOps.Upsample2x(small, n, c, h / 2, w / 2), up.ToArray(), what: "upsample");
        _be.Upsample2xBackward(tx, dxSmall);
        Close(ReferenceOps.Upsample2xBackward(x, n, c, h / 2, w / 2), dxSmall.ToArray(), what: "upsample bwd");
    }

    [Fact]
    public void Resample_GradCheck()
    {
        int n = 2, c = 3, h = 6, w = 4;
        var x = Random(n * c * h * w, 3);
        var r = Random(n * c * h * w / 4, 4);
        var xs = Random(n * c * h * w / 4, 5);
        var r2 = Random(n * c * h * w, 6);
        using var dr = T(r, n, c, h / 2, w / 2);
        using var dr2 = T(r2, n, c, h, w);
        using var gx = Z(n, c, h, w);
        using var gxs = Z(n, c, h / 2, w / 2);
        _be.AvgPool2xBackward(dr, gx);
        _be.Upsample2xBackward(dr2, gxs);
        Verify(() =>
        {
            using var tx = T(x, n, c, h, w);
            using var y = Z(n, c, h / 2, w / 2);
            _be.AvgPool2x(tx, y);
            return Project(y.ToArray(), r);
        }, [new Input("avgpool x", x, gx.ToArray())]);
        Verify(() =>
        {
            using var tx = T(xs, n, c, h / 2, w / 2);
            using var y = Z(n, c, h, w);
            _be.Upsample2x(tx, y);
            return Project(y.ToArray(), r2);
        }, [new Input("upsample x", xs, gxs.ToArray())]);
    }

    // ------------------------------------------------------------------ group norm

    public static TheoryData<int, int, int, int, bool, bool, float> GroupNormCases => new()
    {
        // n, c, h, w, shift, silu, dropout p
        { 1, 3, 5, 5, false, false, 0f },     // odd C, one group, P not a multiple of 16
        { 3, 15, 7, 7, true, true, 0f },      // 3 groups of 5 channels
        { 3, 36, 7, 7, true, true, 0.3f },    // 9 groups, everything on
        { 2, 64, 28, 28, false, true, 0.13f },// 16 groups, the MNIST shape
        { 1, 8, 4, 4, true, false, 0.5f },
        { 2, 256, 4, 4, true, true, 0.13f },  // 32 groups of 8
    };

    private (float[] X, float[]? Shift, float[] Gamma, float[] Beta) GnInputs(int n, int c, int hw, bool shift, int seed, float offset = 0f)
    {
        var x = Random(n * c * hw, seed, -2f + offset, 2f + offset);
        var s = shift ? Random(n * c, seed + 1) : null;
        var g = Random(c, seed + 2, 0.5f, 1.5f);
        var b = Random(c, seed + 3, -0.5f, 0.5f);
        return (x, s, g, b);
    }

    [Theory, MemberData(nameof(GroupNormCases))]
    public void GroupNorm_Forward_MatchesReference(int n, int c, int h, int w, bool useShift, bool silu, float p)
    {
        int hw = h * w, groups = Groups(c);
        const ulong seed = 77;
        var (x, shift, gamma, beta) = GnInputs(n, c, hw, useShift, 10);
        using var tx = T(x, n, c, h, w);
        using var ts = shift != null ? T(shift, n, c) : null;
        using var tg = T(gamma, c);
        using var tb = T(beta, c);
        using var y = Z(n, c, h, w);
        using var mean = Z(n, groups);
        using var rstd = Z(n, groups);
        _be.GroupNormForward(tx, ts, tg, tb, groups, 1e-6f, silu, new DropoutSpec(p, seed), y, mean, rstd);
        var (ey, em, er) = ReferenceOps.GroupNorm(x, shift, gamma, beta, n, c, hw, groups, 1e-6, silu, p, seed);
        Close(ey, y.ToArray(), 1e-5, "y");
        Close(em, mean.ToArray(), 1e-5, "mean");
        Close(er, rstd.ToArray(), 1e-5, "rstd");
    }

    [Fact]
    public void GroupNorm_Forward_AccurateWithLargeMean()
    {
        int n = 2, c = 32, h = 8, w = 8, hw = h * w, groups = 8;
        var (x, _, gamma, beta) = GnInputs(n, c, hw, false, 20, offset: 1000f);
        for (int i = 0; i < x.Length; i++) x[i] = 1000f + (x[i] - 1000f) * 1e-2f; // std ~0.01 around 1000
        using var tx = T(x, n, c, h, w);
        using var tg = T(gamma, c);
        using var tb = T(beta, c);
        using var y = Z(n, c, h, w);
        using var mean = Z(n, groups);
        using var rstd = Z(n, groups);
        _be.GroupNormForward(tx, null, tg, tb, groups, 1e-6f, false, DropoutSpec.None, y, mean, rstd);
        var (ey, _, er) = ReferenceOps.GroupNorm(x, null, gamma, beta, n, c, hw, groups, 1e-6, false, 0f, 0);
        Close(er, rstd.ToArray(), 1e-5, "rstd");
        Close(ey, y.ToArray(), 1e-5, "y"); // needs exact centring: rounding 1000 - mean or a*x + b in float would cost ~3e-3
    }

    [Theory, MemberData(nameof(GroupNormCases))]
    public void GroupNorm_Backward_MatchesReference(int n, int c, int h, int w, bool useShift, bool silu, float p)
    {
        int hw = h * w, groups = Groups(c);
        const ulong seed = 91;
        var (x, shift, gamma, beta) = GnInputs(n, c, hw, useShift, 30);
        var dy = Random(n * c * hw, 35);
        using var tx = T(x, n, c, h, w);
        using var ts = shift != null ? T(shift, n, c) : null;
        using var tg = T(gamma, c);
        using var tb = T(beta, c);
        using var y = Z(n, c, h, w);
        using var mean = Z(n, groups);
        using var rstd = Z(n, groups);
        using var tdy = T(dy, n, c, h, w);
        using var dx = Z(n, c, h, w);
        using var dshift = Z(n, c);
        using var dgamma = Z(c);
        using var dbeta = Z(c);
        var drop = new DropoutSpec(p, seed);
        _be.GroupNormForward(tx, ts, tg, tb, groups, 1e-6f, silu, drop, y, mean, rstd);
        _be.GroupNormBackward(tx, ts, tg, tb, groups, silu, drop, mean, rstd, tdy, dx, dshift, dgamma, dbeta);
        var e = ReferenceOps.GroupNormBackward(x, shift, gamma, beta, n, c, hw, groups, 1e-6, silu, p, seed, dy);
        Close(e.Dx, dx.ToArray(), 2e-5, "dx");
        Close(e.Dshift, dshift.ToArray(), 2e-5, "dshift");
        Close(e.Dgamma, dgamma.ToArray(), 2e-5, "dgamma");
        Close(e.Dbeta, dbeta.ToArray(), 2e-5, "dbeta");
    }

    [Theory]
    [InlineData(false, false, 0f)]
    [InlineData(true, true, 0.3f)]
    [InlineData(true, false, 0.2f)]
    public void GroupNorm_GradCheck(bool useShift, bool silu, float p)
    {
        int n = 3, c = 12, h = 3, w = 5, hw = h * w, groups = Groups(c);
        var drop = new DropoutSpec(p, 4242);
        var (x, shift, gamma, beta) = GnInputs(n, c, hw, useShift, 40);
        var r = Random(n * c * hw, 45);
        shift ??= new float[n * c];
        double Loss()
        {
            using var tx = T(x, n, c, h, w);
            using var ts = T(shift, n, c);
            using var tg = T(gamma, c);
            using var tb = T(beta, c);
            using var y = Z(n, c, h, w);
            using var mean = Z(n, groups);
            using var rstd = Z(n, groups);
            _be.GroupNormForward(tx, useShift ? ts : null, tg, tb, groups, 1e-6f, silu, drop, y, mean, rstd);
            return Project(y.ToArray(), r);
        }
        using var tx = T(x, n, c, h, w);
        using var ts = T(shift, n, c);
        using var tg = T(gamma, c);
        using var tb = T(beta, c);
        using var y = Z(n, c, h, w);
        using var mean = Z(n, groups);
        using var rstd = Z(n, groups);
        using var dy = T(r, n, c, h, w);
        using var dx = Z(n, c, h, w);
        using var dshift = Z(n, c);
        using var dgamma = Z(c);
        using var dbeta = Z(c);
        _be.GroupNormForward(tx, useShift ? ts : null, tg, tb, groups, 1e-6f, silu, drop, y, mean, rstd);
        _be.GroupNormBackward(tx, useShift ? ts : null, tg, tb, groups, silu, drop, mean, rstd, dy, dx, dshift, dgamma, dbeta);
        var inputs = new List<Input>
        {
            new("x", x, dx.ToArray()), new("gamma", gamma, dgamma.ToArray()), new("beta", beta, dbeta.ToArray()),
        };
        if (useShift) inputs.Add(new("shift", shift, dshift.ToArray()));
        Verify(Loss, inputs, samples: 12, step: 1e-2f);
    }

    [Fact]
    public void GroupNorm_ParameterGradsAccumulate_ActivationGradsOverwrite()
    {
        int n = 2, c = 16, h = 4, w = 4, groups = Groups(c);
        var (x, shift, gamma, beta) = GnInputs(n, c, h * w, true, 50);
        var dyv = Random(n * c * h * w, 55);
        using var tx = T(x, n, c, h, w);
        using var ts = T(shift!, n, c);
        using var tg = T(gamma, c);
        using var tb = T(beta, c);
        using var y = Z(n, c, h, w);
        using var mean = Z(n, groups);
        using var rstd = Z(n, groups);
        using var dy = T(dyv, n, c, h, w);
        using var dx = Z(n, c, h, w);
        using var dshift = Z(n, c);
        using var dgamma = Z(c);
        using var dbeta = Z(c);
        var drop = new DropoutSpec(0.2f, 5);
        _be.GroupNormForward(tx, ts, tg, tb, groups, 1e-6f, true, drop, y, mean, rstd);
        _be.GroupNormBackward(tx, ts, tg, tb, groups, true, drop, mean, rstd, dy, dx, dshift, dgamma, dbeta);
        var (dx1, ds1, dg1, db1) = (dx.ToArray(), dshift.ToArray(), dgamma.ToArray(), dbeta.ToArray());
        _be.GroupNormBackward(tx, ts, tg, tb, groups, true, drop, mean, rstd, dy, dx, dshift, dgamma, dbeta);
        Assert.Equal(dx1, dx.ToArray());
        Assert.Equal(ds1, dshift.ToArray());
        Close(dg1.Select(v => 2.0 * v).ToArray(), dgamma.ToArray(), 1e-6, "dgamma x2");
        Close(db1.Select(v => 2.0 * v).ToArray(), dbeta.ToArray(), 1e-6, "dbeta x2");
    }

    // ------------------------------------------------------------------ dropout

    private float[] DropoutOutput(int n, int c, int h, int w, float p, ulong seed, out float[] plain)
    {
        int groups = Groups(c);
        var (x, _, gamma, beta) = GnInputs(n, c, h * w, false, 60);
        using var tx = T(x, n, c, h, w);
        using var tg = T(gamma, c);
        using var tb = T(beta, c);
        using var y = Z(n, c, h, w);
        using var mean = Z(n, groups);
        using var rstd = Z(n, groups);
        _be.GroupNormForward(tx, null, tg, tb, groups, 1e-6f, true, DropoutSpec.None, y, mean, rstd);
        plain = y.ToArray();
        _be.GroupNormForward(tx, null, tg, tb, groups, 1e-6f, true, new DropoutSpec(p, seed), y, mean, rstd);
        return y.ToArray();
    }

    [Fact]
    public void Dropout_KeptFractionScaleAndSeeds()
    {
        const float p = 0.13f;
        int n = 4, c = 64, h = 32, w = 32;
        var a = DropoutOutput(n, c, h, w, p, 1234, out var plain);
        var a2 = DropoutOutput(n, c, h, w, p, 1234, out _);
        var b = DropoutOutput(n, c, h, w, p, 1235, out _);
        Assert.Equal(a, a2);
        int kept = 0, differ = 0, mismatch = 0;
        float scale = 1f / (1f - p);
        for (int i = 0; i < a.Length; i++)
        {
            bool keep = CounterRng.Uniform(1234, (ulong)i) >= p; // the contract, bit for bit
            if (keep)
            {
                kept++;
                if (Math.Abs(a[i] - plain[i] * scale) > 1e-6f * (1 + Math.Abs(plain[i]))) mismatch++;
            }
            else if (a[i] != 0f) mismatch++;
            if ((a[i] == 0f) != (b[i] == 0f)) differ++;
        }
        Assert.Equal(0, mismatch);
        double frac = (double)kept / a.Length;
        Assert.InRange(frac, 1 - p - 0.005, 1 - p + 0.005);
        Assert.True(differ > a.Length * p, $"different seeds should give different masks ({differ} differ)");
    }

    // ------------------------------------------------------------------ linear and embedding

    [Theory]
    [InlineData(1, 5, 3, true)]
    [InlineData(3, 17, 33, true)]
    [InlineData(8, 128, 512, false)]
    public void Linear_MatchesReference(int n, int inF, int outF, bool bias)
    {
        var x = Random(n * inF, 70);
        var w = Random(outF * inF, 71);
        var b = bias ? Random(outF, 72) : null;
        var dyv = Random(n * outF, 73);
        using var tx = T(x, n, inF);
        using var tw = T(w, outF, inF);
        using var tb = b != null ? T(b, outF) : null;
        using var y = Z(n, outF);
        _be.LinearForward(tx, tw, tb, y);
        Close(ReferenceOps.Linear(x, w, b, n, inF, outF), y.ToArray(), 1e-5, "y");
        using var dy = T(dyv, n, outF);
        using var dx = Z(n, inF);
        using var dw = Z(outF, inF);
        using var db = Z(outF);
        _be.LinearBackward(tx, tw, dy, dx, dw, bias ? db : null);
        var e = ReferenceOps.LinearBackward(x, w, dyv, n, inF, outF);
        Close(e.Dx, dx.ToArray(), 1e-5, "dx");
        Close(e.Dw, dw.ToArray(), 1e-5, "dw");
        if (bias) Close(e.Db, db.ToArray(), 1e-5, "db");
        // parameter grads accumulate, dx is overwritten
        _be.LinearBackward(tx, tw, dy, dx, dw, bias ? db : null);
        Close(e.Dx, dx.ToArray(), 1e-5, "dx again");
        Close(e.Dw.Select(v => 2 * v).ToArray(), dw.ToArray(), 1e-5, "dw x2");
        if (bias) Close(e.Db.Select(v => 2 * v).ToArray(), db.ToArray(), 1e-5, "db x2");
    }

    [Fact]
    public void Linear_GradCheck()
    {
        int n = 3, inF = 7, outF = 5;
        var x = Random(n * inF, 80);
        var w = Random(outF * inF, 81);
        var b = Random(outF, 82);
        var r = Random(n * outF, 83);
        double Loss()
        {
            using var tx = T(x, n, inF);
            using var tw = T(w, outF, inF);
            using var tb = T(b, outF);
            using var y = Z(n, outF);
            _be.LinearForward(tx, tw, tb, y);
            return Project(y.ToArray(), r);
        }
        using var tx = T(x, n, inF);
        using var tw = T(w, outF, inF);
        using var dy = T(r, n, outF);
        using var dx = Z(n, inF);
        using var dw = Z(outF, inF);
        using var db = Z(outF);
        _be.LinearBackward(tx, tw, dy, dx, dw, db);
        Verify(Loss, [new("x", x, dx.ToArray()), new("w", w, dw.ToArray()), new("b", b, db.ToArray())]);
    }

    [Theory]
    [InlineData(4, 32)]
    [InlineData(3, 128)]
    public void PositionalEmbedding_MatchesReference(int n, int channels)
    {
        var t = Random(n, 90, 0f, 1000f);
        t[0] = 0f;
        using var tt = T(t, n);
        using var y = Z(n, channels);
        _be.PositionalEmbedding(tt, y);
        var e = ReferenceOps.PositionalEmbedding(t, channels);
        var a = y.ToArray();
        for (int i = 0; i < e.Length; i++) Assert.True(Math.Abs(e[i] - a[i]) <= 1e-7, $"emb[{i}] {a[i]} vs {e[i]}");
    }

    // ------------------------------------------------------------------ attention

    public static TheoryData<int, int, int, int> AttentionShapes => new()
    {
        { 1, 5, 3, 3 }, { 3, 16, 7, 7 }, { 2, 13, 16, 16 }, { 1, 64, 7, 7 }, { 2, 7, 1, 1 },
    };

    [Theory, MemberData(nameof(AttentionShapes))]
    public void Attention_MatchesReference(int n, int c, int h, int w)
    {
        int p = h * w;
        var qkv = Random(n * 3 * c * p, 100, -1.5f, 1.5f);
        var dyv = Random(n * c * p, 101);
        using var tq = T(qkv, n, 3 * c, h, w);
        using var y = Z(n, c, h, w);
        using var probs = Z(n, p, p);
        _be.AttentionForward(tq, y, probs);
        var (ey, ep) = ReferenceOps.Attention(qkv, n, c, p);
        Close(ey, y.ToArray(), 1e-5, "y");
        Close(ep, probs.ToArray(), 1e-5, "probs");
        using var y2 = Z(n, c, h, w);
        _be.AttentionForward(tq, y2, null);
        Assert.Equal(y.ToArray(), y2.ToArray());
        using var dy = T(dyv, n, c, h, w);
        using var dqkv = Z(n, 3 * c, h, w);
        _be.AttentionBackward(tq, probs, dy, dqkv);
        Close(ReferenceOps.AttentionBackward(qkv, dyv, n, c, p), dqkv.ToArray(), 2e-5, "dqkv");
    }

    [Fact]
    public void Attention_GradCheck()
    {
        int n = 2, c = 6, h = 3, w = 4, p = h * w;
        var qkv = Random(n * 3 * c * p, 110, -1.5f, 1.5f);
        var r = Random(n * c * p, 111);
        double Loss()
        {
            using var tq = T(qkv, n, 3 * c, h, w);
            using var y = Z(n, c, h, w);
            _be.AttentionForward(tq, y, null);
            return Project(y.ToArray(), r);
        }
        using var tq = T(qkv, n, 3 * c, h, w);
        using var y = Z(n, c, h, w);
        using var probs = Z(n, p, p);
        using var dy = T(r, n, c, h, w);
        using var dqkv = Z(n, 3 * c, h, w);
        _be.AttentionForward(tq, y, probs);
        _be.AttentionBackward(tq, probs, dy, dqkv);
        Verify(Loss, [new("qkv", qkv, dqkv.ToArray())], samples: 30);
    }

    // ------------------------------------------------------------------ concat

    [Theory]
    [InlineData(1, 3, 5, 4, 4, false)]
    [InlineData(3, 16, 7, 7, 7, true)]
    public void Concat_MatchesReferenceAndGradCheck(int n, int ca, int cb, int h, int w, bool scaled)
    {
        var a = Random(n * ca * h * w, 120);
        var b = Random(n * cb * h * w, 121);
        var sa = scaled ? Random(n, 122, 0.5f, 1.5f) : null;
        var sb = scaled ? Random(n, 123, 0.5f, 1.5f) : null;
        var r = Random(n * (ca + cb) * h * w, 124);
        using var tsa = sa != null ? T(sa, n) : null;
        using var tsb = sb != null ? T(sb, n) : null;
        double Loss()
        {
            using var ta = T(a, n, ca, h, w);
            using var tb = T(b, n, cb, h, w);
            using var y = Z(n, ca + cb, h, w);
            _be.ConcatScaled(ta, tb, tsa, tsb, y);
            return Project(y.ToArray(), r);
        }
        using var ta = T(a, n, ca, h, w);
        using var tb = T(b, n, cb, h, w);
        using var y = Z(n, ca + cb, h, w);
        _be.ConcatScaled(ta, tb, tsa, tsb, y);
        Close(ReferenceOps.ConcatScaled(a, b, sa, sb, n), y.ToArray(), 1e-6, "y");
        using var dy = T(r, n, ca + cb, h, w);
        using var da = Z(n, ca, h, w);
        using var db = Z(n, cb, h, w);
        _be.ConcatScaledBackward(dy, tsa, tsb, da, db);
        Verify(Loss, [new("a", a, da.ToArray()), new("b", b, db.ToArray())]);
    }

    [Fact]
    public void GradCheck_RejectsAWrongGradient()
    {
        var x = Random(6, 160);
        var right = x.Select(v => 3f * v * v).ToArray();              // d/dx sum x^3
        var wrong = right.Select(v => v * 1.05f).ToArray();
        double Loss() => x.Sum(v => (double)v * v * v);
        Verify(Loss, [new Input("x", x, right)]);
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => Verify(Loss, [new Input("x", x, wrong)]));
    }

    // ------------------------------------------------------------------ losses

    [Theory]
    [InlineData(1, 1, 3, 3)]
    [InlineData(3, 4, 28, 28)]
    [InlineData(2, 3, 200, 200)] // several parallel chunks
    public void Mse_MatchesReference(int n, int c, int h, int w)
    {
        var a = Random(n * c * h * w, 130);
        var b = Random(n * c * h * w, 131);
        using var ta = T(a, n, c, h, w);
        using var tb = T(b, n, c, h, w);
        using var g = Z(n, c, h, w);
        float loss = _be.MseLoss(ta, tb, g, 0.7f);
        var (el, eg) = ReferenceOps.Mse(a, b, 0.7);
        Assert.True(Math.Abs(loss - el) <= 1e-6 * el, $"mse {loss} vs {el}");
        Close(eg, g.ToArray(), 1e-6, "grad");
        Assert.Equal(loss, _be.MseLoss(ta, tb, null, 1f));
    }

    [Fact]
    public void Mse_GradCheck()
    {
        int n = 2, c = 3, h = 4, w = 5;
        var a = Random(n * c * h * w, 140);
        var b = Random(n * c * h * w, 141);
        double Loss()
        {
            using var ta = T(a, n, c, h, w);
            using var tb = T(b, n, c, h, w);
            return 1.5 * _be.MseLoss(ta, tb, null, 1f);
        }
        using var ta = T(a, n, c, h, w);
        using var tb = T(b, n, c, h, w);
        using var g = Z(n, c, h, w);
        _be.MseLoss(ta, tb, g, 1.5f);
        Verify(Loss, [new("a", a, g.ToArray())], step: 1e-2f);
    }

    [Theory]
    [InlineData(1, 2, 1, 1)]
    [InlineData(3, 8, 7, 7)]
    public void Kl_MatchesReferenceAndGradCheck(int n, int c2, int h, int w)
    {
        var ml = Random(n * c2 * h * w, 150, -1f, 1f);
        using var t = T(ml, n, c2, h, w);
        using var g = Z(n, c2, h, w);
        float loss = _be.KlLoss(t, g, 0.3f);
        var (el, eg) = ReferenceOps.Kl(ml, n, 0.3);
        Assert.True(Math.Abs(loss - el) <= 1e-6 * Math.Abs(el) + 1e-9, $"kl {loss} vs {el}");
        Close(eg, g.ToArray(), 1e-6, "grad");
        Verify(() =>
        {
            using var tt = T(ml, n, c2, h, w);
            return 0.3 * _be.KlLoss(tt, null, 1f);
        }, [new Input("muLogvar", ml, g.ToArray())], step: 1e-2f);
    }
}
