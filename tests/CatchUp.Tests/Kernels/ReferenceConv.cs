using CatchUp.Backends.Cpu.Kernels;

namespace CatchUp.Tests.Kernels;

/// <summary>The product's float64 reference (<see cref="ConvReference"/>) for float arrays, and the loss in double throughout.</summary>
internal static class ReferenceConv
{
    public static double[] Forward(float[] x, float[] w, float[]? b, int n, int cin, int cout, int h, int wd, int k) =>
        ConvReference.Forward(x, w, b, n, cin, cout, h, wd, k);

    /// <summary>Gradients of sum(y * dy): dx, dw, db (fresh, not accumulated).</summary>
    public static (double[] dx, double[] dw, double[] db) Backward(float[] x, float[] w, float[] dy, int n, int cin, int cout, int h, int wd, int k) =>
        ConvReference.Backward(x, w, dy, n, cin, cout, h, wd, k);

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
