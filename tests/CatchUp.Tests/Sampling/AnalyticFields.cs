using CatchUp.Backends;
using CatchUp.Backends.Cpu;
using CatchUp.Sampling;
using CatchUp.Tensors;

namespace CatchUp.Tests.Sampling;

/// <summary>An element-wise velocity field dz/dt = f(z, t) computed on the host in double, with its exact flow from
/// t = 1 to t = 0 and a count of its evaluations.</summary>
internal sealed class AnalyticField(IBackend backend, Func<double, double, double> velocity, Func<double, double> exactAtZero) : IVelocityField
{
    private float[] _z = [], _t = [], _v = [];

    public IBackend Backend => backend;
    public int Calls { get; private set; }

    public void Evaluate(Tensor z, Tensor t, Tensor v)
    {
        Calls++;
        if (_z.Length != z.Length) (_z, _v) = (new float[z.Length], new float[z.Length]);
        if (_t.Length != t.Length) _t = new float[t.Length];
        backend.Download(z, _z);
        backend.Download(t, _t);
        int perSample = z.Length / t.Length;
        for (int i = 0; i < _z.Length; i++) _v[i] = (float)velocity(_z[i], _t[i / perSample]);
        backend.Upload(_v, v);
    }

    /// <summary>max over elements of |z(0) - exact(z(1))|.</summary>
    public double MaxError(float[] z1, float[] z0)
    {
        double worst = 0;
        for (int i = 0; i < z1.Length; i++) worst = Math.Max(worst, Math.Abs(z0[i] - exactAtZero(z1[i])));
        return worst;
    }

    /// <summary>dz/dt = a z: z(0) = z(1) e^{-a}.</summary>
    public static AnalyticField Exponential(IBackend b, double a) => new(b, (z, _) => a * z, z1 => z1 * Math.Exp(-a));

    /// <summary>dz/dt = -k t z: z(t) = z(1) exp(k (1 - t^2) / 2).</summary>
    public static AnalyticField Gaussian(IBackend b, double k) => new(b, (z, t) => -k * t * z, z1 => z1 * Math.Exp(k / 2));

    /// <summary>dz/dt = c + d t (independent of z): z(0) = z(1) - c - d/2. Heun (trapezoid) integrates it exactly.</summary>
    public static AnalyticField LinearInTime(IBackend b, double c, double d) => new(b, (_, t) => c + d * t, z1 => z1 - c - d / 2);

    /// <summary>dz/dt = sin(z) + t: no closed form used; exact value by a reference integration (RK4, 20000 steps, double).</summary>
    public static AnalyticField Nonlinear(IBackend b)
    {
        static double F(double z, double t) => Math.Sin(z) + t;
        return new(b, F, z1 =>
        {
            const int n = 20000;
            double z = z1, h = -1.0 / n;
            for (int i = 0; i < n; i++)
            {
                double t = 1 + i * h;
                double k1 = F(z, t), k2 = F(z + h / 2 * k1, t + h / 2), k3 = F(z + h / 2 * k2, t + h / 2), k4 = F(z + h * k3, t + h);
                z += h / 6 * (k1 + 2 * k2 + 2 * k3 + k4);
            }
            return z;
        });
    }
}

/// <summary>Runs a solver on a small batch of starting values and measures the error at t = 0.</summary>
internal static class SolverHarness
{
    public static readonly CpuBackend Cpu = new(1);

    /// <summary>Two samples of 2x2x2 values in [-1.5, 1.5] (fixed).</summary>
    public static float[] StartValues()
    {
        var z = new float[16];
        for (int i = 0; i < z.Length; i++) z[i] = -1.5f + 3f * i / (z.Length - 1);
        return z;
    }

    public static (double Error, int Nfe, int Calls) Run(OdeSolver solver, AnalyticField field, TrajectoryRecorder? recorder = null)
    {
        var z1 = StartValues();
        using var z = Cpu.FromArray(z1, 2, 2, 2, 2);
        int before = field.Calls;
        int nfe = solver.Solve(field, z, recorder);
        return (field.MaxError(z1, z.ToArray()), nfe, field.Calls - before);
    }
}
