using CatchUp.Backends.Cpu;
using CatchUp.Backends.Cpu.Kernels;
using CatchUp.Tensors;
using Xunit;

namespace CatchUp.Tests.Kernels;

public class ConvKernelTests
{
    private const double Rtol = 1e-4;

    internal static float[] Random(int n, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return a;
    }

    internal static Tensor Make(CpuBackend be, float[] data, params int[] shape)
    {
        var t = be.Allocate(shape);
        be.Upload(data, t);
        return t;
    }

    /// <summary>|got - want| within Rtol relative to the element, with a floor of Rtol * max|want| for cancellations.</summary>
    private static void AssertClose(double[] want, float[] got, string what, double[]? offset = null)
    {
        Assert.Equal(want.Length, got.Length);
        double max = 0;
        foreach (double v in want) max = Math.Max(max, Math.Abs(v));
        for (int i = 0; i < want.Length; i++)
        {
            double expect = want[i] + (offset != null ? offset[i] : 0);
            double tol = Rtol * (Math.Abs(expect) + max + 1e-6);
            if (!(Math.Abs(got[i] - expect) <= tol))
                Assert.Fail($"{what}[{i}]: got {got[i]}, expected {expect} (tol {tol})");
        }
    }

    public static IEnumerable<object[]> Shapes()
    {
        // n, cin, cout, h, w, k
        int[][] list =
        [
            [1, 1, 1, 1, 1, 3], [1, 1, 1, 1, 1, 1], [3, 1, 5, 2, 2, 3], [1, 3, 1, 7, 7, 3], [3, 5, 17, 7, 7, 3],
            [1, 17, 5, 8, 8, 3], [3, 17, 3, 13, 13, 3], [1, 64, 17, 7, 8, 3], [3, 3, 64, 13, 7, 3], [1, 64, 64, 13, 13, 3],
            [3, 1, 32, 8, 8, 3], [1, 64, 1, 8, 13, 3], [1, 5, 3, 1, 13, 3], [3, 13, 9, 13, 1, 3], [3, 64, 5, 2, 1, 3],
            [3, 5, 17, 7, 7, 1], [1, 17, 64, 8, 8, 1], [3, 64, 3, 13, 13, 1], [1, 3, 1, 1, 1, 1], [3, 1, 17, 2, 7, 1],
            [1, 64, 64, 7, 7, 1], [3, 9, 33, 13, 8, 1],
        ];
        foreach (var s in list) yield return s.Cast<object>().ToArray();
    }

    /// <summary>Forward, dx, dw, dbias against the double reference; dw/dbias pre-filled to check accumulation and dx
    /// pre-filled with garbage to check it is overwritten.</summary>
    private static void CheckAgainstReference(int threads, int n, int cin, int cout, int h, int wd, int k, bool withBias = true, bool withDx = true)
    {
        using var be = new CpuBackend(threads);
        float[] x = Random(n * cin * h * wd, 1), w = Random(cout * cin * k * k, 2, 0.5f), b = Random(cout, 3), dy = Random(n * cout * h * wd, 4);
        float[] dw0 = Random(w.Length, 5), db0 = Random(cout, 6);
        using var tx = Make(be, x, n, cin, h, wd);
        using var tw = Make(be, w, cout, cin, k, k);
        using var tb = withBias ? Make(be, b, cout) : null;
        using var ty = Make(be, Random(n * cout * h * wd, 7), n, cout, h, wd);
        using var tdy = Make(be, dy, n, cout, h, wd);
        using var tdx = withDx ? Make(be, Random(x.Length, 8), n, cin, h, wd) : null;
        using var tdw = Make(be, dw0, cout, cin, k, k);
        using var tdb = withBias ? Make(be, db0, cout) : null;

        be.Conv2dForward(tx, tw, tb, ty);
        AssertClose(ReferenceConv.Forward(x, w, withBias ? b : null, n, cin, cout, h, wd, k), ty.ToArray(), "y");

        be.Conv2dBackward(tx, tw, tdy, tdx, tdw, tdb);
        var (rdx, rdw, rdb) = ReferenceConv.Backward(x, w, dy, n, cin, cout, h, wd, k);
        if (tdx != null) AssertClose(rdx, tdx.ToArray(), "dx");
        AssertClose(rdw, tdw.ToArray(), "dw", dw0.Select(v => (double)v).ToArray());
        if (tdb != null) AssertClose(rdb, tdb.ToArray(), "db", db0.Select(v => (double)v).ToArray());
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesReference(int n, int cin, int cout, int h, int w, int k) => CheckAgainstReference(2, n, cin, cout, h, w, k);

    [Theory]
    [InlineData(3, 5, 17, 7, 7, 3)]
    [InlineData(1, 64, 1, 8, 13, 3)]
    [InlineData(3, 9, 33, 13, 8, 1)]
    public void MatchesReferenceSingleThread(int n, int cin, int cout, int h, int w, int k) => CheckAgainstReference(1, n, cin, cout, h, w, k);

    [Fact]
    public void MatchesReferenceMnist28x28()
    {
        CheckAgainstReference(2, 2, 64, 64, 28, 28, 3);
    }

    [Theory]
    [InlineData("V256")]
    [InlineData("Scalar")]
    public void FallbackPathsMatchReference(string simd) => WithSimd(simd, () =>
    {
        CheckAgainstReference(2, 3, 5, 17, 7, 7, 3);
        CheckAgainstReference(2, 1, 64, 1, 8, 13, 3);
        CheckAgainstReference(2, 3, 9, 33, 13, 8, 1);
        CheckAgainstReference(2, 1, 17, 64, 13, 13, 3);
    });

    /// <summary>Runs <paramref name="body"/> with the kernels forced onto one SIMD path ("V256", "Scalar").</summary>
    internal static void WithSimd(string simd, Action body)
    {
        Conv2dKernels.ForceSimd = Enum.Parse<ConvSimd>(simd);
        try { body(); }
        finally { Conv2dKernels.ForceSimd = null; }
    }

    [Fact]
    public void LaneSumWeightGradientPathMatchesReference()
    {
        Conv2dKernels.ForceLaneSums = true;
        try
        {
            CheckAgainstReference(2, 3, 5, 17, 7, 7, 3);
            CheckAgainstReference(2, 3, 9, 33, 13, 8, 1);
            CheckAgainstReference(1, 1, 64, 64, 13, 13, 3);
        }
        finally { Conv2dKernels.ForceLaneSums = false; }
    }

    [Theory]
    [InlineData(3)]
    [InlineData(1)]
    public void NullBiasAndNullDx(int k)
    {
        CheckAgainstReference(2, 3, 17, 9, 7, 7, k, withBias: false, withDx: false);
        CheckAgainstReference(2, 3, 17, 9, 7, 7, k, withBias: false, withDx: true);
        CheckAgainstReference(2, 3, 17, 9, 7, 7, k, withBias: true, withDx: false);
    }

    [Fact]
    public void BackwardAccumulatesWeightGradsAndOverwritesDx()
    {
        using var be = new CpuBackend(2);
        int n = 3, cin = 5, cout = 7, h = 6, wd = 5;
        using var tx = Make(be, Random(n * cin * h * wd, 11), n, cin, h, wd);
        using var tw = Make(be, Random(cout * cin * 9, 12), cout, cin, 3, 3);
        using var tdy = Make(be, Random(n * cout * h * wd, 13), n, cout, h, wd);
        using var tdx = be.Allocate([n, cin, h, wd]);
        using var tdw = be.Allocate([cout, cin, 3, 3]);
        using var tdb = be.Allocate([cout]);
        be.Conv2dBackward(tx, tw, tdy, tdx, tdw, tdb);
        float[] dx1 = tdx.ToArray(), dw1 = tdw.ToArray(), db1 = tdb.ToArray();
        be.Conv2dBackward(tx, tw, tdy, tdx, tdw, tdb);
        Assert.Equal(dx1, tdx.ToArray());
        Assert.Equal(dw1.Select(v => v * 2).ToArray(), tdw.ToArray());
        Assert.Equal(db1.Select(v => v * 2).ToArray(), tdb.ToArray());
    }

    private static (float[] y, float[] dx, float[] dw, float[] db) RunAll(int threads, int n, int cin, int cout, int h, int wd, int k)
    {
        using var be = new CpuBackend(threads);
        using var tx = Make(be, Random(n * cin * h * wd, 21), n, cin, h, wd);
        using var tw = Make(be, Random(cout * cin * k * k, 22), cout, cin, k, k);
        using var tb = Make(be, Random(cout, 23), cout);
        using var tdy = Make(be, Random(n * cout * h * wd, 24), n, cout, h, wd);
        using var ty = be.Allocate([n, cout, h, wd]);
        using var tdx = be.Allocate([n, cin, h, wd]);
        using var tdw = be.Allocate([cout, cin, k, k]);
        using var tdb = be.Allocate([cout]);
        be.Conv2dForward(tx, tw, tb, ty);
        be.Conv2dBackward(tx, tw, tdy, tdx, tdw, tdb);
        return (ty.ToArray(), tdx.ToArray(), tdw.ToArray(), tdb.ToArray());
    }

    [Theory]
    [InlineData(3)]
    [InlineData(1)]
    public void DeterministicAcrossRunsAndThreadCounts(int k)
    {
        var a = RunAll(2, 13, 17, 20, 9, 11, k);
        var b = RunAll(2, 13, 17, 20, 9, 11, k);
        var c = RunAll(1, 13, 17, 20, 9, 11, k);
        // same thread count: bit-identical
        Assert.Equal(a.y, b.y); Assert.Equal(a.dx, b.dx); Assert.Equal(a.dw, b.dw); Assert.Equal(a.db, b.db);
        // the work split depends on N only, so other thread counts give the same bits too
        Assert.Equal(a.y, c.y); Assert.Equal(a.dx, c.dx); Assert.Equal(a.dw, c.dw); Assert.Equal(a.db, c.db);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(1)]
    public void FiniteDifferenceGradients(int k)
    {
        int n = 2, cin = 3, cout = 2, h = 4, wd = 3;
        float[] x = Random(n * cin * h * wd, 31), w = Random(cout * cin * k * k, 32), b = Random(cout, 33), r = Random(n * cout * h * wd, 34);
        using var be = new CpuBackend(2);
        using var tx = Make(be, x, n, cin, h, wd);
        using var tw = Make(be, w, cout, cin, k, k);
        using var tr = Make(be, r, n, cout, h, wd);
        using var tdx = be.Allocate([n, cin, h, wd]);
        using var tdw = be.Allocate([cout, cin, k, k]);
        using var tdb = be.Allocate([cout]);
        be.Conv2dBackward(tx, tw, tr, tdx, tdw, tdb); // dL/dy = r for L = sum(y * r)
        float[] dx = tdx.ToArray(), dw = tdw.ToArray(), db = tdb.ToArray();

        double[] xd = x.Select(v => (double)v).ToArray(), wdd = w.Select(v => (double)v).ToArray();
        double[] bd = b.Select(v => (double)v).ToArray(), rd = r.Select(v => (double)v).ToArray();
        const double eps = 1e-3;
        double Loss() => ReferenceConv.LossDouble(xd, wdd, bd, rd, n, cin, cout, h, wd, k);
        double Fd(double[] a, int i)
        {
            double keep = a[i];
            a[i] = keep + eps; double lp = Loss();
            a[i] = keep - eps; double lm = Loss();
            a[i] = keep;
            return (lp - lm) / (2 * eps);
        }
        foreach (int i in new[] { 0, 5, 13, x.Length - 1 }) Assert.Equal(Fd(xd, i), dx[i], 3e-4);
        foreach (int i in new[] { 0, 4, w.Length / 2, w.Length - 1 }) Assert.Equal(Fd(wdd, i), dw[i], 3e-4);
        for (int i = 0; i < cout; i++) Assert.Equal(Fd(bd, i), db[i], 3e-4);
    }
}
