using System.Diagnostics;
using CatchUp.Tensors;

namespace CatchUp.Backends;

/// <summary>
/// Decorates a backend and accumulates wall time per op (synchronizing after each call, so it is exact on devices
/// that queue work). Generated from <see cref="IBackend"/>'s op list; memory calls pass through untimed.
/// </summary>
public sealed class ProfilingBackend : IBackend
{
    private readonly IBackend _inner;
    private readonly Dictionary<string, (long Ticks, long Calls)> _ops = new();

    public ProfilingBackend(IBackend inner) => _inner = inner;

    /// <summary>The decorated backend.</summary>
    public IBackend Inner => _inner;

    public string Name => _inner.Name + " (profiled)";
    public int Threads { get => _inner.Threads; set => _inner.Threads = value; }

    /// <summary>Seconds and call counts per op since the last <see cref="Reset"/>, slowest first.</summary>
    public IReadOnlyList<(string Op, double Seconds, long Calls)> Report() =>
        _ops.Select(kv => (kv.Key, kv.Value.Ticks / (double)Stopwatch.Frequency, kv.Value.Calls))
            .OrderByDescending(r => r.Item2).ToList();

    public void Reset() => _ops.Clear();

    private static long Begin() => Stopwatch.GetTimestamp();

    private void End(string op, long start)
    {
        _inner.Synchronize();
        long elapsed = Stopwatch.GetTimestamp() - start;
        _ops[op] = _ops.TryGetValue(op, out var v) ? (v.Ticks + elapsed, v.Calls + 1) : (elapsed, 1);
    }

    public Tensor Allocate(ReadOnlySpan<int> shape) => _inner.Allocate(shape);
    public void Free(Tensor t) => _inner.Free(t);
    public void Upload(ReadOnlySpan<float> source, Tensor destination) => _inner.Upload(source, destination);
    public void Download(Tensor source, Span<float> destination) => _inner.Download(source, destination);
    public void Synchronize() => _inner.Synchronize();
    public void Fill(Tensor y, float value) { long s = Begin(); _inner.Fill(y, value); End("Fill", s); }
    public void Copy(Tensor source, Tensor destination) { long s = Begin(); _inner.Copy(source, destination); End("Copy", s); }
    public void Axpby(float a, Tensor x, float b, Tensor y) { long s = Begin(); _inner.Axpby(a, x, b, y); End("Axpby", s); }
    public void AddScale(Tensor a, Tensor b, float scale, Tensor y) { long s = Begin(); _inner.AddScale(a, b, scale, y); End("AddScale", s); }
    public void Silu(Tensor x, Tensor y) { long s = Begin(); _inner.Silu(x, y); End("Silu", s); }
    public void SiluBackward(Tensor x, Tensor dy, Tensor dx) { long s = Begin(); _inner.SiluBackward(x, dy, dx); End("SiluBackward", s); }
    public void Conv2dForward(Tensor x, Tensor w, Tensor? bias, Tensor y) { long s = Begin(); _inner.Conv2dForward(x, w, bias, y); End("Conv2dForward", s); }
    public void Conv2dBackward(Tensor x, Tensor w, Tensor dy, Tensor? dx, Tensor dw, Tensor? dbias) { long s = Begin(); _inner.Conv2dBackward(x, w, dy, dx, dw, dbias); End("Conv2dBackward", s); }
    public void AvgPool2x(Tensor x, Tensor y) { long s = Begin(); _inner.AvgPool2x(x, y); End("AvgPool2x", s); }
    public void AvgPool2xBackward(Tensor dy, Tensor dx) { long s = Begin(); _inner.AvgPool2xBackward(dy, dx); End("AvgPool2xBackward", s); }
    public void Upsample2x(Tensor x, Tensor y) { long s = Begin(); _inner.Upsample2x(x, y); End("Upsample2x", s); }
    public void Upsample2xBackward(Tensor dy, Tensor dx) { long s = Begin(); _inner.Upsample2xBackward(dy, dx); End("Upsample2xBackward", s); }
    public void GroupNormForward(Tensor x, Tensor? shift, Tensor gamma, Tensor beta, int groups, float eps, bool silu, DropoutSpec dropout, Tensor y, Tensor mean, Tensor rstd) { long s = Begin(); _inner.GroupNormForward(x, shift, gamma, beta, groups, eps, silu, dropout, y, mean, rstd); End("GroupNormForward", s); }
    public void GroupNormBackward(Tensor x, Tensor? shift, Tensor gamma, Tensor beta, int groups, bool silu, DropoutSpec dropout, Tensor mean, Tensor rstd, Tensor dy, Tensor dx, Tensor? dshift, Tensor dgamma, Tensor dbeta) { long s = Begin(); _inner.GroupNormBackward(x, shift, gamma, beta, groups, silu, dropout, mean, rstd, dy, dx, dshift, dgamma, dbeta); End("GroupNormBackward", s); }
    public void ScaleShiftForward(Tensor x, Tensor scaleShift, bool silu, DropoutSpec dropout, Tensor y) { long s = Begin(); _inner.ScaleShiftForward(x, scaleShift, silu, dropout, y); End("ScaleShiftForward", s); }
    public void ScaleShiftBackward(Tensor x, Tensor scaleShift, bool silu, DropoutSpec dropout, Tensor dy, Tensor dx, Tensor dScaleShift) { long s = Begin(); _inner.ScaleShiftBackward(x, scaleShift, silu, dropout, dy, dx, dScaleShift); End("ScaleShiftBackward", s); }
    public void LinearForward(Tensor x, Tensor w, Tensor? bias, Tensor y) { long s = Begin(); _inner.LinearForward(x, w, bias, y); End("LinearForward", s); }
    public void LinearBackward(Tensor x, Tensor w, Tensor dy, Tensor? dx, Tensor dw, Tensor? dbias) { long s = Begin(); _inner.LinearBackward(x, w, dy, dx, dw, dbias); End("LinearBackward", s); }
    public void PositionalEmbedding(Tensor t, Tensor y) { long s = Begin(); _inner.PositionalEmbedding(t, y); End("PositionalEmbedding", s); }
    public void AttentionForward(Tensor qkv, Tensor y, Tensor? probs) { long s = Begin(); _inner.AttentionForward(qkv, y, probs); End("AttentionForward", s); }
    public void AttentionBackward(Tensor qkv, Tensor probs, Tensor dy, Tensor dqkv) { long s = Begin(); _inner.AttentionBackward(qkv, probs, dy, dqkv); End("AttentionBackward", s); }
    public void ConcatScaled(Tensor a, Tensor b, Tensor? scaleA, Tensor? scaleB, Tensor y) { long s = Begin(); _inner.ConcatScaled(a, b, scaleA, scaleB, y); End("ConcatScaled", s); }
    public void ConcatScaledBackward(Tensor dy, Tensor? scaleA, Tensor? scaleB, Tensor da, Tensor db) { long s = Begin(); _inner.ConcatScaledBackward(dy, scaleA, scaleB, da, db); End("ConcatScaledBackward", s); }
    public void ScaleAddPerSample(Tensor x, Tensor? a, float ca, Tensor y, Tensor? b, float cb) { long s = Begin(); _inner.ScaleAddPerSample(x, a, ca, y, b, cb); End("ScaleAddPerSample", s); }
    public void SelectPerSample(Tensor mask, Tensor ifTrue, Tensor ifFalse, Tensor y) { long s = Begin(); _inner.SelectPerSample(mask, ifTrue, ifFalse, y); End("SelectPerSample", s); }
    public void Reparameterize(Tensor muLogvar, Tensor noise, Tensor x1) { long s = Begin(); _inner.Reparameterize(muLogvar, noise, x1); End("Reparameterize", s); }
    public void ReparameterizeBackward(Tensor muLogvar, Tensor noise, Tensor dx1, Tensor dMuLogvar) { long s = Begin(); _inner.ReparameterizeBackward(muLogvar, noise, dx1, dMuLogvar); End("ReparameterizeBackward", s); }
    public void CatchUpPoint(Tensor z, Tensor k1, Tensor? k2, Tensor? k3, Tensor t, Tensor dt, CatchUpStep step, Tensor y, Tensor time) { long s = Begin(); _inner.CatchUpPoint(z, k1, k2, k3, t, dt, step, y, time); End("CatchUpPoint", s); }
    public void AdamStep(Tensor param, Tensor grad, Tensor m, Tensor v, AdamSpec spec) { long s = Begin(); _inner.AdamStep(param, grad, m, v, spec); End("AdamStep", s); }
    public void EmaUpdate(Tensor ema, Tensor param, float decay) { long s = Begin(); _inner.EmaUpdate(ema, param, decay); End("EmaUpdate", s); }
    public double SumSquares(IReadOnlyList<Tensor> tensors) { long s = Begin(); var r = _inner.SumSquares(tensors); End("SumSquaresAll", s); return r; }
    public double SumSquares(Tensor x) { long s = Begin(); var r = _inner.SumSquares(x); End("SumSquares", s); return r; }
    public float MseLoss(Tensor a, Tensor b, Tensor? grad, float gradScale) { long s = Begin(); var r = _inner.MseLoss(a, b, grad, gradScale); End("MseLoss", s); return r; }
    public float KlLoss(Tensor muLogvar, Tensor? grad, float gradScale) { long s = Begin(); var r = _inner.KlLoss(muLogvar, grad, gradScale); End("KlLoss", s); return r; }

    public void Dispose() => _inner.Dispose();
}
