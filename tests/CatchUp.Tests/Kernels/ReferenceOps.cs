using CatchUp.Nn;

namespace CatchUp.Tests.Kernels;

/// <summary>Plain double-precision reference loops for the non-convolution ops (NCHW, row-major).</summary>
public static class ReferenceOps
{
    public static double[] AvgPool2x(float[] x, int n, int c, int h, int w)
    {
        int ho = h / 2, wo = w / 2;
        var y = new double[n * c * ho * wo];
        for (int p = 0; p < n * c; p++)
            for (int i = 0; i < ho; i++)
                for (int j = 0; j < wo; j++)
                {
                    double s = 0;
                    for (int a = 0; a < 2; a++)
                        for (int b = 0; b < 2; b++) s += x[(p * h + 2 * i + a) * w + 2 * j + b];
                    y[(p * ho + i) * wo + j] = 0.25 * s;
                }
        return y;
    }

    public static double[] AvgPool2xBackward(float[] dy, int n, int c, int h, int w)
    {
        int ho = h / 2, wo = w / 2;
        var dx = new double[n * c * h * w];
        for (int p = 0; p < n * c; p++)
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++) dx[(p * h + i) * w + j] = 0.25 * dy[(p * ho + i / 2) * wo + j / 2];
        return dx;
    }

    public static double[] Upsample2x(float[] x, int n, int c, int h, int w)
    {
        var y = new double[n * c * 4 * h * w];
        for (int p = 0; p < n * c; p++)
            for (int i = 0; i < 2 * h; i++)
                for (int j = 0; j < 2 * w; j++) y[(p * 2 * h + i) * 2 * w + j] = x[(p * h + i / 2) * w + j / 2];
        return y;
    }

    public static double[] Upsample2xBackward(float[] dy, int n, int c, int h, int w)
    {
        var dx = new double[n * c * h * w];
        for (int p = 0; p < n * c; p++)
            for (int i = 0; i < 2 * h; i++)
                for (int j = 0; j < 2 * w; j++) dx[(p * h + i / 2) * w + j / 2] += dy[(p * 2 * h + i) * 2 * w + j];
        return dx;
    }

    /// <summary>Inverted-dropout multiplier of element i: 0 or 1/(1-p) (1 when p = 0).</summary>
    public static double DropoutFactor(float p, ulong seed, long i)
        => p <= 0f ? 1.0 : CounterRng.Uniform(seed, (ulong)i) >= p ? 1.0 / (1.0 - p) : 0.0;

    public static double Sigmoid(double z) => 1.0 / (1.0 + Math.Exp(-z));

    public static (double[] Y, double[] Mean, double[] Rstd) GroupNorm(float[] x, float[]? shift, float[] gamma, float[] beta,
        int n, int c, int hw, int groups, double eps, bool silu, float p, ulong seed)
    {
        int cpg = c / groups;
        var y = new double[x.Length];
        var mean = new double[n * groups];
        var rstd = new double[n * groups];
        for (int s = 0; s < n; s++)
            for (int g = 0; g < groups; g++)
            {
                double sum = 0, sq = 0;
                for (int ch = g * cpg; ch < (g + 1) * cpg; ch++)
                    for (int j = 0; j < hw; j++) sum += U(x, shift, s, ch, c, hw, j);
                double m = sum / (cpg * hw);
                for (int ch = g * cpg; ch < (g + 1) * cpg; ch++)
                    for (int j = 0; j < hw; j++) { double d = U(x, shift, s, ch, c, hw, j) - m; sq += d * d; }
                double r = 1.0 / Math.Sqrt(sq / (cpg * hw) + eps);
                mean[s * groups + g] = m;
                rstd[s * groups + g] = r;
                for (int ch = g * cpg; ch < (g + 1) * cpg; ch++)
                    for (int j = 0; j < hw; j++)
                    {
                        long i = ((long)s * c + ch) * hw + j;
                        double z = gamma[ch] * (U(x, shift, s, ch, c, hw, j) - m) * r + beta[ch];
                        if (silu) z *= Sigmoid(z);
                        y[i] = z * DropoutFactor(p, seed, i);
                    }
            }
        return (y, mean, rstd);
    }

    private static double U(float[] x, float[]? shift, int s, int ch, int c, int hw, int j)
        => (double)x[((long)s * c + ch) * hw + j] + (shift != null ? shift[s * c + ch] : 0.0);

    /// <summary>Returns dx, dshift [N,C], dgamma, dbeta (fresh, not accumulated).</summary>
    public static (double[] Dx, double[] Dshift, double[] Dgamma, double[] Dbeta) GroupNormBackward(float[] x, float[]? shift,
        float[] gamma, float[] beta, int n, int c, int hw, int groups, double eps, bool silu, float p, ulong seed, float[] dy)
    {
        var (_, mean, rstd) = GroupNorm(x, shift, gamma, beta, n, c, hw, groups, eps, silu, p, seed);
        int cpg = c / groups, m = cpg * hw;
        var dx = new double[x.Length];
        var dshift = new double[n * c];
        var dgamma = new double[c];
        var dbeta = new double[c];
        var dz = new double[m];
        var xh = new double[m];
        for (int s = 0; s < n; s++)
            for (int g = 0; g < groups; g++)
            {
                double mu = mean[s * groups + g], r = rstd[s * groups + g];
                double sdxh = 0, sdxhx = 0;
                for (int k = 0; k < m; k++)
                {
                    int ch = g * cpg + k / hw, j = k % hw;
                    long i = ((long)s * c + ch) * hw + j;
                    xh[k] = (U(x, shift, s, ch, c, hw, j) - mu) * r;
                    double z = gamma[ch] * xh[k] + beta[ch];
                    double gz = dy[i] * DropoutFactor(p, seed, i);
                    if (silu) { double sg = Sigmoid(z); gz *= sg * (1 + z * (1 - sg)); }
                    dz[k] = gz;
                    dgamma[ch] += gz * xh[k];
                    dbeta[ch] += gz;
                    sdxh += gz * gamma[ch];
                    sdxhx += gz * gamma[ch] * xh[k];
                }
                for (int k = 0; k < m; k++)
                {
                    int ch = g * cpg + k / hw, j = k % hw;
                    long i = ((long)s * c + ch) * hw + j;
                    double du = r * (dz[k] * gamma[ch] - sdxh / m - xh[k] * sdxhx / m);
                    dx[i] = du;
                    dshift[s * c + ch] += du;
                }
            }
        return (dx, dshift, dgamma, dbeta);
    }

    public static double[] Linear(float[] x, float[] w, float[]? b, int n, int inF, int outF)
    {
        var y = new double[n * outF];
        for (int s = 0; s < n; s++)
            for (int o = 0; o < outF; o++)
            {
                double acc = b != null ? b[o] : 0.0;
                for (int i = 0; i < inF; i++) acc += (double)x[s * inF + i] * w[o * inF + i];
                y[s * outF + o] = acc;
            }
        return y;
    }

    public static (double[] Dx, double[] Dw, double[] Db) LinearBackward(float[] x, float[] w, float[] dy, int n, int inF, int outF)
    {
        var dx = new double[n * inF];
        var dw = new double[outF * inF];
        var db = new double[outF];
        for (int s = 0; s < n; s++)
            for (int o = 0; o < outF; o++)
            {
                double g = dy[s * outF + o];
                db[o] += g;
                for (int i = 0; i < inF; i++)
                {
                    dx[s * inF + i] += g * w[o * inF + i];
                    dw[o * inF + i] += g * x[s * inF + i];
                }
            }
        return (dx, dw, db);
    }

    public static double[] PositionalEmbedding(float[] t, int channels)
    {
        int half = channels / 2;
        var y = new double[t.Length * channels];
        for (int s = 0; s < t.Length; s++)
            for (int i = 0; i < half; i++)
            {
                double f = Math.Pow(1.0 / 10000.0, (double)i / (half - 1));
                y[s * channels + i] = Math.Sin(t[s] * f);
                y[s * channels + half + i] = Math.Cos(t[s] * f);
            }
        return y;
    }

    /// <summary>Returns y [N,C,P] and probs [N,P,P].</summary>
    public static (double[] Y, double[] Probs) Attention(float[] qkv, int n, int c, int p)
    {
        var y = new double[n * c * p];
        var probs = new double[n * p * p];
        double scale = 1.0 / Math.Sqrt(c);
        for (int s = 0; s < n; s++)
        {
            int b = s * 3 * c * p;
            for (int i = 0; i < p; i++)
            {
                var row = new double[p];
                double mx = double.NegativeInfinity;
                for (int j = 0; j < p; j++)
                {
                    double acc = 0;
                    for (int ch = 0; ch < c; ch++) acc += (double)qkv[b + (3 * ch) * p + i] * qkv[b + (3 * ch + 1) * p + j];
                    row[j] = acc * scale;
                    mx = Math.Max(mx, row[j]);
                }
                double sum = 0;
                for (int j = 0; j < p; j++) { row[j] = Math.Exp(row[j] - mx); sum += row[j]; }
                for (int j = 0; j < p; j++) probs[(s * p + i) * p + j] = row[j] / sum;
            }
            for (int ch = 0; ch < c; ch++)
                for (int i = 0; i < p; i++)
                {
                    double acc = 0;
                    for (int j = 0; j < p; j++) acc += probs[(s * p + i) * p + j] * qkv[b + (3 * ch + 2) * p + j];
                    y[(s * c + ch) * p + i] = acc;
                }
        }
        return (y, probs);
    }

    public static double[] AttentionBackward(float[] qkv, float[] dy, int n, int c, int p)
    {
        var (_, probs) = Attention(qkv, n, c, p);
        var dqkv = new double[qkv.Length];
        double scale = 1.0 / Math.Sqrt(c);
        for (int s = 0; s < n; s++)
        {
            int b = s * 3 * c * p;
            double W(int i, int j) => probs[(s * p + i) * p + j];
            var dS = new double[p * p];
            for (int i = 0; i < p; i++)
            {
                var dw = new double[p];
                double dot = 0;
                for (int j = 0; j < p; j++)
                {
                    double acc = 0;
                    for (int ch = 0; ch < c; ch++) acc += (double)dy[(s * c + ch) * p + i] * qkv[b + (3 * ch + 2) * p + j];
                    dw[j] = acc;
                    dot += acc * W(i, j);
                }
                for (int j = 0; j < p; j++) dS[i * p + j] = W(i, j) * (dw[j] - dot);
            }
            for (int ch = 0; ch < c; ch++)
                for (int i = 0; i < p; i++)
                {
                    double dq = 0, dk = 0, dv = 0;
                    for (int j = 0; j < p; j++)
                    {
                        dq += dS[i * p + j] * qkv[b + (3 * ch + 1) * p + j];
                        dk += dS[j * p + i] * qkv[b + (3 * ch) * p + j];
                        dv += W(j, i) * dy[(s * c + ch) * p + j];
                    }
                    dqkv[b + (3 * ch) * p + i] = dq * scale;
                    dqkv[b + (3 * ch + 1) * p + i] = dk * scale;
                    dqkv[b + (3 * ch + 2) * p + i] = dv;
                }
        }
        return dqkv;
    }

    public static double[] ConcatScaled(float[] a, float[] b, float[]? sa, float[]? sb, int n)
    {
        int la = a.Length / n, lb = b.Length / n;
        var y = new double[a.Length + b.Length];
        for (int s = 0; s < n; s++)
        {
            for (int i = 0; i < la; i++) y[s * (la + lb) + i] = (double)a[s * la + i] * (sa?[s] ?? 1f);
            for (int i = 0; i < lb; i++) y[s * (la + lb) + la + i] = (double)b[s * lb + i] * (sb?[s] ?? 1f);
        }
        return y;
    }

    public static (double Loss, double[] Grad) Mse(float[] a, float[] b, double gradScale)
    {
        double s = 0;
        var g = new double[a.Length];
        for (int i = 0; i < a.Length; i++)
        {
            double d = (double)a[i] - b[i];
            s += d * d;
            g[i] = gradScale * 2 * d / a.Length;
        }
        return (s / a.Length, g);
    }

    /// <summary>muLogvar [N, 2C, H, W] flattened per sample as [mu (C*H*W), logvar (C*H*W)].</summary>
    public static (double Loss, double[] Grad) Kl(float[] ml, int n, double gradScale)
    {
        int sample = ml.Length / n, half = sample / 2;
        double total = 0;
        var g = new double[ml.Length];
        for (int s = 0; s < n; s++)
        {
            double acc = 0;
            for (int i = 0; i < half; i++)
            {
                double mu = ml[s * sample + i], lv = ml[s * sample + half + i];
                acc += -1 - lv + mu * mu + Math.Exp(lv);
                g[s * sample + i] = gradScale * mu / ((double)n * half);
                g[s * sample + half + i] = gradScale * 0.5 * (Math.Exp(lv) - 1) / ((double)n * half);
            }
            total += 0.5 * acc;
        }
        return (total / n / half, g);
    }
}
