using CatchUp.Tensors;

namespace CatchUp.Backends;

/// <summary>
/// The argument checks of the device backends (CUDA, ILGPU), which cannot let a bad shape reach a kernel. They throw
/// with an interpolated message only on failure: a passing check allocates nothing.
/// </summary>
internal static class DeviceArgumentChecks
{
    public static void SameLength(Tensor a, Tensor b, string op)
    {
        if (a.Length != b.Length) throw new ArgumentException($"{op}: length mismatch {a.ShapeString} vs {b.ShapeString}");
    }

    /// <summary>x [N,Cin,H,W], w [Cout,Cin,k,k] with k in {1,3}, y [N,Cout,H,W]; returns k.</summary>
    public static int Conv(Tensor x, Tensor w, Tensor y)
    {
        int k = w.Rank == 4 ? w.Dim(2) : 0;
        if (!(x.Rank == 4 && w.Rank == 4 && (k == 1 || k == 3) && w.Dim(3) == k && w.Dim(1) == x.C
            && y.Rank == 4 && y.N == x.N && y.C == w.Dim(0) && y.H == x.H && y.W == x.W))
            throw new ArgumentException($"conv2d: x {x.ShapeString}, w {w.ShapeString}, y {y.ShapeString}");
        return k;
    }

    public static void ConvBias(Tensor? bias, int channels, string op)
    {
        if (bias != null && bias.Length != channels) throw new ArgumentException($"{op}: bias {bias.ShapeString} for {channels} channels");
    }

    public static void Resample(Tensor big, Tensor small)
    {
        if (!(big.Rank == 4 && small.Rank == 4 && big.N == small.N && big.C == small.C && big.H == 2 * small.H && big.W == 2 * small.W))
            throw new ArgumentException($"2x resample: shapes {big.ShapeString} and {small.ShapeString} do not match");
    }

    public static void GroupNorm(Tensor x, Tensor? shift, Tensor gamma, Tensor beta, int groups, Tensor mean, Tensor rstd)
    {
        int c = x.C;
        if (!(groups >= 1 && c % groups == 0)) throw new ArgumentException($"GroupNorm: {c} channels not divisible into {groups} groups");
        if (!(gamma.Length == c && beta.Length == c)) throw new ArgumentException("GroupNorm: gamma/beta must have C elements");
        if (!(mean.Length == x.N * groups && rstd.Length == x.N * groups))
            throw new ArgumentException("GroupNorm: mean/rstd must be [N, groups]");
        if (!(shift == null || shift.Length == x.N * c)) throw new ArgumentException("GroupNorm: shift must be [N, C]");
        if (!(x.SampleSize % c == 0 && x.SampleSize > 0)) throw new ArgumentException($"GroupNorm: bad input {x.ShapeString}");
    }

    public static void Linear(Tensor x, Tensor w, int outFeatures, int n)
    {
        if (!(w.Rank == 2 && x.SampleSize == w.Dim(1) && w.Dim(0) == outFeatures && x.N == n))
            throw new ArgumentException($"linear: x {x.ShapeString}, W {w.ShapeString}, out {outFeatures}");
    }

    /// <summary>qkv [N,3C,H,W] and y (or dy) [N,C,H,W]; returns (N, C, P = H*W).</summary>
    public static (int N, int C, int P) Attention(Tensor qkv, Tensor y)
    {
        if (!(qkv.Rank == 4 && qkv.C % 3 == 0)) throw new ArgumentException($"attention: qkv {qkv.ShapeString} must be [N, 3C, H, W]");
        if (!(y.Length * 3 == qkv.Length)) throw new ArgumentException($"attention: y {y.ShapeString} vs qkv {qkv.ShapeString}");
        return (qkv.N, qkv.C / 3, qkv.H * qkv.W);
    }

    public static void AttentionProbs(Tensor? probs, int n, long pp)
    {
        if (!(probs == null || probs.Length == n * pp)) throw new ArgumentException("attention: probs must be [N, P, P]");
    }

    public static void Concat(Tensor a, Tensor b, Tensor? scaleA, Tensor? scaleB, Tensor y)
    {
        if (!(a.N == y.N && b.N == y.N && a.SampleSize + b.SampleSize == y.SampleSize))
            throw new ArgumentException($"concat: {a.ShapeString} + {b.ShapeString} != {y.ShapeString}");
        if (!((scaleA == null || scaleA.Length == y.N) && (scaleB == null || scaleB.Length == y.N)))
            throw new ArgumentException("concat: scales must have N elements");
    }

    public static void ScaleAddPerSample(Tensor x, Tensor? a, Tensor y, Tensor? b)
    {
        SameLength(x, y, "scale-add per sample");
        if (!((a == null || a.Length == x.N) && (b == null || b.Length == x.N)))
            throw new ArgumentException($"per-sample scales must have {x.N} entries");
    }

    public static void SelectPerSample(Tensor mask, Tensor ifTrue, Tensor ifFalse, Tensor y)
    {
        if (!(ifTrue.Length == y.Length && ifFalse.Length == y.Length)) throw new ArgumentException("select operands differ in shape");
        if (!(mask.Length == y.N)) throw new ArgumentException($"mask has {mask.Length} entries for a batch of {y.N}");
    }

    public static void Reparameterize(Tensor muLogvar, Tensor noise, Tensor x1)
    {
        if (!(muLogvar.C == 2 * x1.C && noise.Length == x1.Length && muLogvar.Length == 2 * x1.Length))
            throw new ArgumentException($"reparameterize: {muLogvar.ShapeString} -> {x1.ShapeString}");
    }

    public static void ReparameterizeBackward(Tensor muLogvar, Tensor noise, Tensor dx1, Tensor dMuLogvar)
    {
        if (!(muLogvar.Length == 2 * dx1.Length && dMuLogvar.Length == muLogvar.Length && noise.Length == dx1.Length))
            throw new ArgumentException($"reparameterize backward: {muLogvar.ShapeString} / {dx1.ShapeString}");
    }

    public static void CatchUpPoint(Tensor z, Tensor k1, Tensor? k2, Tensor? k3, Tensor t, Tensor dt, Tensor y, Tensor time)
    {
        int n = z.N;
        if (!(k1.Length == z.Length && y.Length == z.Length && (k2 == null || k2.Length == z.Length) && (k3 == null || k3.Length == z.Length)))
            throw new ArgumentException($"catch-up point: z {z.ShapeString}, k1 {k1.ShapeString}, y {y.ShapeString} differ");
        if (!(t.Length == n && dt.Length == n && time.Length == n))
            throw new ArgumentException($"catch-up point: t, dt and time must have {n} entries");
        if (!(y.Handle != z.Handle && y.Handle != k1.Handle && y.Handle != k2?.Handle && y.Handle != k3?.Handle))
            throw new ArgumentException("catch-up point: y must not alias z or the k's");
    }

    /// <summary>Checks the Adam state and returns the bias corrections (1 - beta1^step, 1 - beta2^step).</summary>
    public static (float Bc1, float Bc2) Adam(Tensor param, Tensor grad, Tensor m, Tensor v, AdamSpec spec)
    {
        if (!(grad.Length == param.Length && m.Length == param.Length && v.Length == param.Length))
            throw new ArgumentException($"Adam state shapes differ from the parameter {param.ShapeString}");
        if (spec.Step < 1) throw new ArgumentOutOfRangeException(nameof(spec), "Adam step counts from 1");
        return ((float)(1 - Math.Pow(spec.Beta1, spec.Step)), (float)(1 - Math.Pow(spec.Beta2, spec.Step)));
    }

    public static void Mse(Tensor a, Tensor b, Tensor? grad)
    {
        if (!(a.Length == b.Length && (grad == null || grad.Length == a.Length)))
            throw new ArgumentException($"mse: {a.ShapeString} vs {b.ShapeString}");
    }

    /// <summary>Returns half the sample size (the mu part).</summary>
    public static int Kl(Tensor muLogvar, Tensor? grad)
    {
        if (!(muLogvar.SampleSize % 2 == 0)) throw new ArgumentException($"kl: odd channel count in {muLogvar.ShapeString}");
        if (!(grad == null || grad.Length == muLogvar.Length)) throw new ArgumentException("kl: grad shape mismatch");
        return muLogvar.SampleSize / 2;
    }
}
