using Xunit;

namespace CatchUp.Tests.Kernels;

/// <summary>
/// Reusable finite-difference gradient checker.
///
/// Usage: keep every input of the op under test in a host <c>float[]</c>; write <c>loss</c> as a closure that uploads
/// those arrays, runs the forward and returns a scalar in double — typically <see cref="Project"/> of the output with a
/// fixed random vector r, so that the analytic gradient is the op's backward run with dy = r. Then call
/// <see cref="Verify"/> with one <see cref="Input"/> (name, the host array that <c>loss</c> reads, the analytic
/// gradient of the same shape) per input to check. For a few random indices per input the checker perturbs
/// <c>Values[i]</c> in place by ±step (restoring it afterwards), takes the central difference
/// (L(x+) - L(x-)) / (x+ - x-) in double (using the actually representable float perturbation), and requires
/// |numeric - analytic| &lt;= rtol * max(|numeric|, |analytic|) + atol * max_j |analytic_j|.
/// The absolute term is scaled by the largest analytic entry of that input so tiny components are not held to a
/// relative bound that float32 forward noise cannot meet.
/// </summary>
public static class GradCheck
{
    public readonly record struct Input(string Name, float[] Values, float[] Analytic);

    /// <summary>Central difference of <paramref name="loss"/> w.r.t. buffer[index].</summary>
    public static double Numeric(Func<double> loss, float[] buffer, int index, float step)
    {
        float orig = buffer[index];
        float plus = orig + step, minus = orig - step;
        buffer[index] = plus;
        double lp = loss();
        buffer[index] = minus;
        double lm = loss();
        buffer[index] = orig;
        return (lp - lm) / ((double)plus - minus);
    }

    /// <summary>Returns the worst |numeric - analytic| / tolerance seen (at most 1 when it passes).</summary>
    public static double Verify(Func<double> loss, IEnumerable<Input> inputs, int samples = 10, float step = 1e-2f,
        double rtol = 1e-2, double atol = 2e-3, int seed = 1234)
    {
        var rng = new Random(seed);
        double worst = 0;
        foreach (var input in inputs)
        {
            Xunit.Assert.Equal(input.Values.Length, input.Analytic.Length);
            double scale = 0;
            foreach (float g in input.Analytic) scale = Math.Max(scale, Math.Abs(g));
            var indices = input.Values.Length <= samples
                ? Enumerable.Range(0, input.Values.Length).ToArray()
                : Enumerable.Range(0, samples).Select(_ => rng.Next(input.Values.Length)).ToArray();
            foreach (int i in indices)
            {
                double num = Numeric(loss, input.Values, i, step);
                double ana = input.Analytic[i];
                double tol = rtol * Math.Max(Math.Abs(num), Math.Abs(ana)) + atol * scale;
                if (!(Math.Abs(num - ana) <= tol))
                    Xunit.Assert.Fail($"gradient of {input.Name}[{i}]: analytic {ana:G6}, numeric {num:G6}, tolerance {tol:G3}");
                worst = Math.Max(worst, Math.Abs(num - ana) / tol);
            }
        }
        return worst;
    }

    /// <summary>sum_i y[i] * r[i] in double (the random-projection loss).</summary>
    public static double Project(float[] y, float[] r)
    {
        Xunit.Assert.Equal(r.Length, y.Length);
        double s = 0;
        for (int i = 0; i < y.Length; i++) s += (double)y[i] * r[i];
        return s;
    }

    /// <summary>Deterministic uniform values in [lo, hi).</summary>
    public static float[] Random(int n, int seed, float lo = -1f, float hi = 1f)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = lo + (hi - lo) * (float)rng.NextDouble();
        return a;
    }
}
