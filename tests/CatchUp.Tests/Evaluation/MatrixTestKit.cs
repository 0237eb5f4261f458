namespace CatchUp.Tests.Evaluation;

/// <summary>Small dense-matrix helpers for the metric tests (row-major n x n double arrays).</summary>
internal static class MatrixTestKit
{
    public static double[] RandomSymmetric(int n, int seed)
    {
        var rng = new Random(seed);
        var a = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = i; j < n; j++)
                a[i * n + j] = a[j * n + i] = rng.NextDouble() * 2 - 1;
        return a;
    }

    /// <summary>B B^T + ridge I for a random B: symmetric positive definite.</summary>
    public static double[] RandomSpd(int n, int seed, double ridge = 0.1)
    {
        var rng = new Random(seed);
        var b = new double[n * n];
        for (int i = 0; i < b.Length; i++) b[i] = rng.NextDouble() * 2 - 1;
        var a = Multiply(b, Transpose(b, n), n);
        for (int i = 0; i < n; i++) a[i * n + i] += ridge;
        return a;
    }

    public static double[] Multiply(double[] a, double[] b, int n)
    {
        var c = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < n; k++)
                for (int j = 0; j < n; j++)
                    c[i * n + j] += a[i * n + k] * b[k * n + j];
        return c;
    }

    public static double[] Transpose(double[] a, int n)
    {
        var t = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) t[j * n + i] = a[i * n + j];
        return t;
    }

    public static double[] Diagonal(params double[] d)
    {
        int n = d.Length;
        var a = new double[n * n];
        for (int i = 0; i < n; i++) a[i * n + i] = d[i];
        return a;
    }

    public static double MaxAbsDifference(double[] a, double[] b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max();

    /// <summary>Rotation by <paramref name="angle"/> in the (i, j) plane of n-space.</summary>
    public static double[] Rotation(int n, int i, int j, double angle)
    {
        var r = Diagonal(Enumerable.Repeat(1.0, n).ToArray());
        r[i * n + i] = Math.Cos(angle); r[i * n + j] = -Math.Sin(angle);
        r[j * n + i] = Math.Sin(angle); r[j * n + j] = Math.Cos(angle);
        return r;
    }
}
