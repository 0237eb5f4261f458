namespace CatchUp.Backends.Cpu.Kernels;

/// <summary>
/// Plain nested-loop 2-d convolution (k in {1,3}, padding k/2, stride 1, NCHW) accumulating in float64: the reference
/// every fast convolution path (direct, Winograd) is measured against, by the tests, the auto-tuner's accuracy check
/// and <c>bench conv --accuracy</c>.
/// </summary>
public static class ConvReference
{
    public static double[] Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, int n, int cin, int cout, int h, int wd, int k)
    {
        int p = k / 2;
        var y = new double[n * cout * h * wd];
        for (int s = 0; s < n; s++)
            for (int co = 0; co < cout; co++)
                for (int oy = 0; oy < h; oy++)
                    for (int ox = 0; ox < wd; ox++)
                    {
                        double acc = b.IsEmpty ? 0.0 : b[co];
                        for (int ci = 0; ci < cin; ci++)
                            for (int ky = 0; ky < k; ky++)
                            {
                                int iy = oy + ky - p;
                                if ((uint)iy >= (uint)h) continue;
                                for (int kx = 0; kx < k; kx++)
                                {
                                    int ix = ox + kx - p;
                                    if ((uint)ix >= (uint)wd) continue;
                                    acc += (double)w[((co * cin + ci) * k + ky) * k + kx] * x[((s * cin + ci) * h + iy) * wd + ix];
                                }
                            }
                        y[((s * cout + co) * h + oy) * wd + ox] = acc;
                    }
        return y;
    }

    /// <summary>Gradients of sum(y * dy): dx, dw, db (fresh, not accumulated).</summary>
    public static (double[] Dx, double[] Dw, double[] Db) Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> dy,
        int n, int cin, int cout, int h, int wd, int k)
    {
        int p = k / 2;
        var dx = new double[n * cin * h * wd];
        var dw = new double[cout * cin * k * k];
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
                                if ((uint)iy >= (uint)h) continue;
                                for (int kx = 0; kx < k; kx++)
                                {
                                    int ix = ox + kx - p;
                                    if ((uint)ix >= (uint)wd) continue;
                                    int wi = ((co * cin + ci) * k + ky) * k + kx, xi = ((s * cin + ci) * h + iy) * wd + ix;
                                    dw[wi] += g * x[xi];
                                    dx[xi] += g * w[wi];
                                }
                            }
                    }
        return (dx, dw, db);
    }

    /// <summary>max |got - want| / max |want| (infinite when got holds a NaN).</summary>
    public static double RelativeError(ReadOnlySpan<double> want, ReadOnlySpan<float> got)
    {
        if (want.Length != got.Length) throw new ArgumentException($"length {got.Length} != reference length {want.Length}");
        double max = 0, err = 0;
        for (int i = 0; i < want.Length; i++)
        {
            max = Math.Max(max, Math.Abs(want[i]));
            double e = Math.Abs(got[i] - want[i]);
            err = double.IsNaN(e) ? double.PositiveInfinity : Math.Max(err, e);
        }
        return err / Math.Max(max, 1e-30);
    }
}
