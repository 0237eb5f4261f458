using System.Runtime.Intrinsics;
using CatchUp.Tensors;
using static CatchUp.Backends.Cpu.Kernels.SimdMath;

namespace CatchUp.Backends.Cpu.Kernels;

/// <summary>
/// GroupNorm fused with a per-(n,c) shift before it and optional SiLU and inverted dropout after it (see
/// <see cref="IBackend.GroupNormForward"/>). One parallel item per (sample, group); a group's channels are contiguous.
/// Forward: one read of x for the statistics (per-channel sums of x - x[0] in float lanes, channels merged in double
/// with Chan's formula), one pass writing y as gamma*rstd*((x - hi) - lo) + beta with hi + lo = mean - shift (exact
/// centring, so a large mean costs no accuracy). The backward uses the saved float mean/rstd. Backward: pass 1 recomputes the activation, applies the dropout mask and
/// SiLU derivative and keeps dz (gradient w.r.t. the affine output) in per-worker scratch together with per-channel
/// sums; pass 2 writes dx and dshift. The dropout mask is regenerated from the counter RNG (vectorized, bit-exact).
/// </summary>
internal static unsafe class GroupNormKernels
{
    private const int WorkSlot = 2, PartialSlot = 3;

    private struct FwdJob : IParallelJob
    {
        public float* X, Shift, Gamma, Beta, Y, Mean, Rstd;
        public int C, Groups, HW;
        public float Eps, Scale;
        public bool Silu, Drop;
        public ulong Seed;
        public int Threshold;

        public void Execute(int index, int worker)
        {
            int n = index / Groups, g = index % Groups;
            int cpg = C / Groups, hw = HW;
            int tail = hw % Lanes, body = hw - tail;
            var tailMask = TailMask(tail);
            float* tmp = stackalloc float[Lanes];

            // ---- statistics of u = x + shift ----
            double mean = 0, m2 = 0;
            long count = 0;
            for (int ci = 0; ci < cpg; ci++)
            {
                int c = g * cpg + ci;
                float* xp = X + ((long)n * C + c) * hw;
                float sh = Shift != null ? Shift[n * C + c] : 0f;
                float x0 = xp[0];
                var vx0 = Vector512.Create(x0);
                Vector512<float> s1 = default, s2 = default, s1b = default, s2b = default;
                int j = 0;
                for (; j + 2 * Lanes <= body; j += 2 * Lanes)
                {
                    var d = Vector512.Load(xp + j) - vx0;
                    var e = Vector512.Load(xp + j + Lanes) - vx0;
                    s1 += d; s2 = Vector512.FusedMultiplyAdd(d, d, s2);
                    s1b += e; s2b = Vector512.FusedMultiplyAdd(e, e, s2b);
                }
                for (; j < body; j += Lanes)
                {
                    var d = Vector512.Load(xp + j) - vx0;
                    s1 += d; s2 = Vector512.FusedMultiplyAdd(d, d, s2);
                }
                if (tail != 0)
                {
                    var d = (LoadPartial(xp + j, tail, tmp) - vx0) & tailMask;
                    s1b += d; s2b = Vector512.FusedMultiplyAdd(d, d, s2b);
                }
                double t1 = Vector512.Sum(s1 + s1b), t2 = Vector512.Sum(s2 + s2b);
                double cMean = (double)x0 + sh + t1 / hw;
                double cM2 = Math.Max(0.0, t2 - t1 * t1 / hw);
                long total = count + hw;
                double delta = cMean - mean;
                mean += delta * hw / total;
                m2 += cM2 + delta * delta * ((double)count * hw / total);
                count = total;
            }
            double rstd = 1.0 / Math.Sqrt(m2 / count + Eps);
            Mean[index] = (float)mean;
            Rstd[index] = (float)rstd;

            // ---- y = dropout(act(a * x + b)) per channel ----
            var thr = Vector512.Create(Threshold);
            var scale = Vector512.Create(Scale);
            for (int ci = 0; ci < cpg; ci++)
            {
                int c = g * cpg + ci;
                long off = ((long)n * C + c) * hw;
                float* xp = X + off, yp = Y + off;
                float sh = Shift != null ? Shift[n * C + c] : 0f;
                // z = a * ((x - hi) - lo) + beta with hi + lo = mean - shift: x - hi is exact when x is near the mean,
                // so a large mean relative to the spread costs no accuracy (a single FMA a*x + b would round b).
                double cm = mean - sh;
                var hi = Vector512.Create((float)cm);
                var lo = Vector512.Create((float)(cm - (float)cm));
                var a = Vector512.Create((float)(Gamma[c] * rstd));
                var b = Vector512.Create(Beta[c]);
                int j = 0;
                for (; j < body; j += Lanes)
                {
                    var z = Vector512.FusedMultiplyAdd((Vector512.Load(xp + j) - hi) - lo, a, b);
                    if (Silu) z *= Sigmoid(z);
                    if (Drop) z = (z * scale) & KeepMask(Seed, off + j, thr);
                    z.Store(yp + j);
                }
                if (tail != 0)
                {
                    var z = Vector512.FusedMultiplyAdd((LoadPartial(xp + j, tail, tmp) - hi) - lo, a, b);
                    if (Silu) z *= Sigmoid(z);
                    if (Drop) z = (z * scale) & KeepMask(Seed, off + j, thr);
                    StorePartial(z, yp + j, tail, tmp);
                }
            }
        }
    }

    private struct BwdJob : IParallelJob
    {
        public float* X, Shift, Gamma, Beta, Mean, Rstd, Dy, Dx, Dshift, PartGamma, PartBeta, Work;
        public long WorkStride;
        public int C, Groups, HW, HWPad;
        public float Scale;
        public bool Silu, Drop;
        public ulong Seed;
        public int Threshold;

        public void Execute(int index, int worker)
        {
            int n = index / Groups, g = index % Groups;
            int cpg = C / Groups, hw = HW;
            int tail = hw % Lanes, body = hw - tail;
            var tailMask = TailMask(tail);
            float* tmp = stackalloc float[Lanes];
            float* work = Work + worker * WorkStride;
            float mean = Mean[index], r = Rstd[index];
            var vr = Vector512.Create(r);
            var thr = Vector512.Create(Threshold);
            var scale = Vector512.Create(Scale);

            // ---- pass 1: dz = d(loss)/d(gamma*xhat + beta), per-channel sums ----
            double sumA = 0, sumB = 0;
            for (int ci = 0; ci < cpg; ci++)
            {
                int c = g * cpg + ci;
                long off = ((long)n * C + c) * hw;
                float* xp = X + off, dyp = Dy + off, dz = work + (long)ci * HWPad;
                float sh = Shift != null ? Shift[n * C + c] : 0f;
                double cm = (double)mean - sh;
                var hi = Vector512.Create((float)cm);
                var lo = Vector512.Create((float)(cm - (float)cm));
                var gam = Vector512.Create(Gamma[c]);
                var bet = Vector512.Create(Beta[c]);
                Vector512<float> sdz = default, sdzx = default;
                for (int j = 0; j < hw; j += Lanes)
                {
                    bool full = j < body;
                    var xv = full ? Vector512.Load(xp + j) : LoadPartial(xp + j, tail, tmp);
                    var gv = full ? Vector512.Load(dyp + j) : LoadPartial(dyp + j, tail, tmp);
                    var xh = ((xv - hi) - lo) * vr;
                    if (Drop) gv = (gv * scale) & KeepMask(Seed, off + j, thr);
                    if (Silu)
                    {
                        var z = Vector512.FusedMultiplyAdd(xh, gam, bet);
                        var s = Sigmoid(z);
                        gv *= s * Vector512.FusedMultiplyAdd(z, Vector512<float>.One - s, Vector512<float>.One);
                    }
                    if (!full) gv &= tailMask;
                    gv.Store(dz + j);
                    sdz += gv;
                    sdzx = Vector512.FusedMultiplyAdd(gv, xh, sdzx);
                }
                float tz = Vector512.Sum(sdz), tzx = Vector512.Sum(sdzx);
                PartBeta[n * C + c] = tz;
                PartGamma[n * C + c] = tzx;
                sumA += (double)Gamma[c] * tz;
                sumB += (double)Gamma[c] * tzx;
            }
            long m = (long)cpg * hw;
            var kA = Vector512.Create((float)(-r * sumA / m));
            var kB = Vector512.Create((float)(-r * sumB / m));

            // ---- pass 2: du = r*(gamma*dz - mean(dxhat) - xhat*mean(dxhat*xhat)); dx = du, dshift = sum du ----
            for (int ci = 0; ci < cpg; ci++)
            {
                int c = g * cpg + ci;
                long off = ((long)n * C + c) * hw;
                float* xp = X + off, dxp = Dx + off, dz = work + (long)ci * HWPad;
                float sh = Shift != null ? Shift[n * C + c] : 0f;
                double cm = (double)mean - sh;
                var hi = Vector512.Create((float)cm);
                var lo = Vector512.Create((float)(cm - (float)cm));
                var k1 = Vector512.Create(r * Gamma[c]);
                Vector512<float> sdu = default;
                int j = 0;
                for (; j < body; j += Lanes)
                {
                    var xh = ((Vector512.Load(xp + j) - hi) - lo) * vr;
                    var du = Vector512.FusedMultiplyAdd(k1, Vector512.Load(dz + j), Vector512.FusedMultiplyAdd(kB, xh, kA));
                    du.Store(dxp + j);
                    sdu += du;
                }
                if (tail != 0)
                {
                    var xh = ((LoadPartial(xp + j, tail, tmp) - hi) - lo) * vr;
                    var du = Vector512.FusedMultiplyAdd(k1, Vector512.Load(dz + j), Vector512.FusedMultiplyAdd(kB, xh, kA));
                    StorePartial(du, dxp + j, tail, tmp);
                    sdu += du & tailMask;
                }
                if (Dshift != null) Dshift[n * C + c] = Vector512.Sum(sdu);
            }
        }
    }

    private static void Check(Tensor x, Tensor? shift, Tensor gamma, Tensor beta, int groups, Tensor mean, Tensor rstd)
    {
        int c = x.C;
        if (groups < 1 || c % groups != 0) throw new ArgumentException($"GroupNorm: {c} channels not divisible into {groups} groups");
        if (gamma.Length != c || beta.Length != c) throw new ArgumentException("GroupNorm: gamma/beta must have C elements");
        if (mean.Length != x.N * groups || rstd.Length != x.N * groups) throw new ArgumentException("GroupNorm: mean/rstd must be [N, groups]");
        if (shift != null && shift.Length != x.N * c) throw new ArgumentException("GroupNorm: shift must be [N, C]");
        if (x.SampleSize % c != 0 || x.SampleSize == 0) throw new ArgumentException($"GroupNorm: bad input {x.ShapeString}");
    }

    public static void Forward(WorkerPool pool, Tensor x, Tensor? shift, Tensor gamma, Tensor beta, int groups, float eps, bool silu,
        DropoutSpec dropout, Tensor y, Tensor mean, Tensor rstd)
    {
        Check(x, shift, gamma, beta, groups, mean, rstd);
        if (y.Length != x.Length) throw new ArgumentException("GroupNorm: y must match x");
        var job = new FwdJob
        {
            X = x.Ptr, Shift = shift != null ? shift.Ptr : null, Gamma = gamma.Ptr, Beta = beta.Ptr, Y = y.Ptr,
            Mean = mean.Ptr, Rstd = rstd.Ptr, C = x.C, Groups = groups, HW = x.SampleSize / x.C, Eps = eps, Silu = silu,
            Drop = dropout.Active, Seed = dropout.Seed, Threshold = DropThreshold(dropout.P),
            Scale = dropout.Active ? 1f / (1f - dropout.P) : 1f,
        };
        pool.For(x.N * groups, ref job);
    }

    public static void Backward(WorkerPool pool, Tensor x, Tensor? shift, Tensor gamma, Tensor beta, int groups, bool silu, DropoutSpec dropout,
        Tensor mean, Tensor rstd, Tensor dy, Tensor dx, Tensor? dshift, Tensor dgamma, Tensor dbeta)
    {
        Check(x, shift, gamma, beta, groups, mean, rstd);
        if (dy.Length != x.Length || dx.Length != x.Length) throw new ArgumentException("GroupNorm: dy/dx must match x");
        int n = x.N, c = x.C, hw = x.SampleSize / c;
        int hwPad = RoundUp(hw, Lanes);
        long stride = RoundUp(c / groups * hwPad, Lanes);
        float* work = pool.Scratch(0, WorkSlot, stride * pool.Threads);
        float* part = pool.Scratch(0, PartialSlot, 2L * n * c);
        var job = new BwdJob
        {
            X = x.Ptr, Shift = shift != null ? shift.Ptr : null, Gamma = gamma.Ptr, Beta = beta.Ptr, Mean = mean.Ptr, Rstd = rstd.Ptr,
            Dy = dy.Ptr, Dx = dx.Ptr, Dshift = dshift != null ? dshift.Ptr : null, PartGamma = part, PartBeta = part + (long)n * c,
            Work = work, WorkStride = stride, C = c, Groups = groups, HW = hw, HWPad = hwPad, Silu = silu,
            Drop = dropout.Active, Seed = dropout.Seed, Threshold = DropThreshold(dropout.P),
            Scale = dropout.Active ? 1f / (1f - dropout.P) : 1f,
        };
        pool.For(n * groups, ref job);
        float* dg = dgamma.Ptr, db = dbeta.Ptr, pg = part, pb = part + (long)n * c;
        for (int ch = 0; ch < c; ch++)
        {
            double sg = 0, sb = 0;
            for (int i = 0; i < n; i++) { sg += pg[(long)i * c + ch]; sb += pb[(long)i * c + ch]; }
            dg[ch] += (float)sg;
            db[ch] += (float)sb;
        }
    }
}
