namespace CatchUp.Tests.Kernels;

/// <summary>Plain nested-loop 2-d convolution (k in {1,3}, padding k/2, stride 1, NCHW), accumulating in double.</summary>
internal static class ReferenceConv
{
    public static double[] Forward(float[] x, float[] w, float[]? b, int n, int cin, int cout, int h, int wd, int k)
    {
        int p = k / 2;
        var y = new double[n * cout * h * wd];
        for (int s = 0; s < n; s++)
            for (int co = 0; co < cout; co++)
                for (int oy = 0; oy < h; oy++)
                    for (int ox = 0; ox < wd; ox++)
                    {
                        double acc = b != null ? b[co] : 0.0;
                        for (int ci = 0; ci < cin; ci++)
                            for (int ky = 0; ky < k; ky++)
                            {
                                int iy = oy + ky - p;
                                if (iy < 0 || iy >= h) continue;
                                for (int kx = 0; kx < k; kx++)
                                {
                                    int ix = ox + kx - p;
                                    if (ix < 0 || ix >= wd) continue;
                                    acc += (double)w[((co * cin + ci) * k + ky) * k + kx] * x[((s * cin + ci) * h + iy) * wd + ix];
                                }
                            }
                        y[((s * cout + co) * h + oy) * wd + ox] = acc;
                    }
        return y;
    }

    /// <summary>Gradients of sum(y * dy): dx, dw, db (fresh, not accumulated).</summary>
    public static (double[] dx, double[] dw, double[] db) Backward(float[] x, float[] w, float[] dy, int n, int cin, int cout, int h, int wd, int k)
    {
        int p = k / 2;
        var dx = new double[x.Length];
        var dw = new double[w.Length];
        var db = new double[cout];
        for (int s = 0; s < n; s++)
            for (int co = 0; co < cout; co++)
                for (int oy = 0; oy < h; oy++)
                    for (int ox = 0; ox < wd; ox++)
                    {
                        double g = dy[((s * cout + co) * h + oy) * wd + ox];
                        db[co] += g;
                        for (int ci = 0; ci < cin; ci++)
                            for (int ky = 0; ky < k; ky++)
                            {
                                int iy = oy + ky - p;
                                if (iy < 0 || iy >= h) continue;
                                for (int kx = 0; kx < k; kx++)
                                {
                                    int ix = ox + kx - p;
                                    if (ix < 0 || ix >= wd) continue;
                                    int wi = ((co * cin + ci) * k + ky) * k + kx, xi = ((s * cin + ci) * h + iy) * wd + ix;
                                    dw[wi] += g * x[xi];
                                    dx[xi] += g * w[wi];
                                }
                            }
                    }
        return (dx, dw, db);
    }

    /// <summary>Same as <see cref="Forward"/> but in double throughout (for finite differences).</summary>
    public static double LossDouble(double[] x, double[] w, double[] b, double[] r, int n, int cin, int cout, int h, int wd, int k)
    {
        int p = k / 2;
        double loss = 0;
        for (int s = 0; s < n; s++)
            for (int co = 0; co < cout; co++)
                for (int oy = 0; oy < h; oy++)
                    for (int ox = 0; ox < wd; ox++)
                    {
                        double acc = b[co];
                        for (int ci = 0; ci < cin; ci++)
                            for (int ky = 0; ky < k; ky++)
                                for (int kx = 0; kx < k; kx++)
                                {
                                    int iy = oy + ky - p, ix = ox + kx - p;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                                    acc += w[((co * cin + ci) * k + ky) * k + kx] * x[((s * cin + ci) * h + iy) * wd + ix];
                                }
                        loss += acc * r[((s * cout + co) * h + oy) * wd + ox];
                    }
        return loss;
    }
}
