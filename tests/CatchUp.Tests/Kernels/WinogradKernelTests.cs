using CatchUp.Backends.Cpu;
using CatchUp.Backends.Cpu.Kernels;
using CatchUp.Tensors;
using Xunit;
using Xunit.Abstractions;

namespace CatchUp.Tests.Kernels;

/// <summary>Every convolution algorithm against the float64 nested-loop reference: forward, dx (overwritten), dw and
/// dbias (accumulated), as the largest error relative to the largest reference magnitude of each tensor.</summary>
public class WinogradKernelTests(ITestOutputHelper output)
{
    /// <summary>Bounds on max|got - ref| / max|ref| (the README states the measured errors).</summary>
    internal static double Bound(ConvAlgorithm a) => a switch
    {
        ConvAlgorithm.Direct => 2e-6,
        ConvAlgorithm.Winograd2 => 4e-6,
        ConvAlgorithm.Winograd4 => 2e-5,
        _ => throw new ArgumentOutOfRangeException(nameof(a)),
    };

    private static float[] Random(int n, int seed, float scale = 1f) => ConvKernelTests.Random(n, seed, scale);
    private static Tensor Make(CpuBackend be, float[] data, params int[] shape) => ConvKernelTests.Make(be, data, shape);

    private static double RelErr(double[] want, float[] got, double[]? offset = null)
    {
        Assert.Equal(want.Length, got.Length);
        double max = 0, err = 0;
        for (int i = 0; i < want.Length; i++)
        {
            max = Math.Max(max, Math.Abs(want[i]));
            double e = Math.Abs(got[i] - (want[i] + (offset != null ? offset[i] : 0)));
            err = double.IsNaN(e) ? double.PositiveInfinity : Math.Max(err, e);
        }
        return err / Math.Max(max, 1e-30);
    }

    /// <summary>(y, dx, dw, db) relative errors of one algorithm on one shape.</summary>
    internal static (double y, double dx, double dw, double db) Errors(ConvAlgorithm alg, int threads, int n, int cin, int cout, int h, int wd,
        bool withBias = true, bool withDx = true)
    {
        using var be = new CpuBackend(threads) { ConvAlgorithm = alg };
        float[] x = Random(n * cin * h * wd, 1), w = Random(cout * cin * 9, 2, 0.5f), b = Random(cout, 3), dy = Random(n * cout * h * wd, 4);
        float[] dw0 = Random(w.Length, 5, 0.01f), db0 = Random(cout, 6, 0.01f);
        using var tx = Make(be, x, n, cin, h, wd);
        using var tw = Make(be, w, cout, cin, 3, 3);
        using var tb = withBias ? Make(be, b, cout) : null;
        using var ty = Make(be, Random(n * cout * h * wd, 7), n, cout, h, wd);
        using var tdy = Make(be, dy, n, cout, h, wd);
        using var tdx = withDx ? Make(be, Random(x.Length, 8), n, cin, h, wd) : null;
        using var tdw = Make(be, dw0, cout, cin, 3, 3);
        using var tdb = withBias ? Make(be, db0, cout) : null;

        be.Conv2dForward(tx, tw, tb, ty);
        double ey = RelErr(ReferenceConv.Forward(x, w, withBias ? b : null, n, cin, cout, h, wd, 3), ty.ToArray());
        be.Conv2dBackward(tx, tw, tdy, tdx, tdw, tdb);
        var (rdx, rdw, rdb) = ReferenceConv.Backward(x, w, dy, n, cin, cout, h, wd, 3);
        double edx = tdx != null ? RelErr(rdx, tdx.ToArray()) : 0;
        double edw = RelErr(rdw, tdw.ToArray(), dw0.Select(v => (double)v).ToArray());
        double edb = tdb != null ? RelErr(rdb, tdb.ToArray(), db0.Select(v => (double)v).ToArray()) : 0;
        return (ey, edx, edw, edb);
    }

    public static IEnumerable<object[]> Cases()
    {
        // n, cin, cout, h, w: the paper MNIST network's 3x3 shapes (28/14/7 maps, 1->64, 64->64, 128->64, 64->1), then
        // odd sizes: partial tiles, partial channel blocks, 1-pixel maps, a block of tiles spanning samples
        int[][] shapes =
        [
            [2, 1, 64, 28, 28], [2, 64, 64, 28, 28], [2, 128, 64, 14, 14], [3, 64, 64, 7, 7], [2, 64, 1, 28, 28],
            [1, 1, 1, 1, 1], [3, 5, 17, 7, 7], [1, 17, 5, 8, 8], [3, 3, 64, 13, 7], [1, 5, 3, 1, 13], [3, 13, 9, 13, 1],
            [3, 64, 5, 2, 1], [5, 9, 70, 5, 6],
        ];
        foreach (var alg in new[] { ConvAlgorithm.Direct, ConvAlgorithm.Winograd2, ConvAlgorithm.Winograd4 })
            foreach (var s in shapes)
                yield return [alg, s[0], s[1], s[2], s[3], s[4]];
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesFloat64Reference(ConvAlgorithm alg, int n, int cin, int cout, int h, int w)
    {
        var e = Errors(alg, 2, n, cin, cout, h, w);
        output.WriteLine($"{alg} {n}x{cin}->{cout}@{h}x{w}: y {e.y:E2} dx {e.dx:E2} dw {e.dw:E2} db {e.db:E2}");
        double bound = Bound(alg);
        Assert.True(e.y <= bound, $"y error {e.y:E3} > {bound:E1}");
        Assert.True(e.dx <= bound, $"dx error {e.dx:E3} > {bound:E1}");
        Assert.True(e.dw <= bound, $"dw error {e.dw:E3} > {bound:E1}");
        Assert.True(e.db <= bound, $"db error {e.db:E3} > {bound:E1}");
    }

    [Theory]
    [InlineData(ConvAlgorithm.Winograd2)]
    [InlineData(ConvAlgorithm.Winograd4)]
    public void NullBiasNullDxAndOneThread(ConvAlgorithm alg)
    {
        foreach (var (bias, dx) in new[] { (false, false), (false, true), (true, false) })
        {
            var e = Errors(alg, 2, 3, 17, 9, 7, 7, bias, dx);
            Assert.True(Math.Max(Math.Max(e.y, e.dx), Math.Max(e.dw, e.db)) <= Bound(alg));
        }
        var one = Errors(alg, 1, 3, 17, 9, 7, 7);
        Assert.True(Math.Max(Math.Max(one.y, one.dx), Math.Max(one.dw, one.db)) <= Bound(alg));
    }

    private static float[][] RunAll(ConvAlgorithm alg, int threads)
    {
        int n = 13, cin = 17, cout = 20, h = 9, wd = 11;
        using var be = new CpuBackend(threads) { ConvAlgorithm = alg };
        using var tx = Make(be, Random(n * cin * h * wd, 21), n, cin, h, wd);
        using var tw = Make(be, Random(cout * cin * 9, 22), cout, cin, 3, 3);
        using var tb = Make(be, Random(cout, 23), cout);
        using var tdy = Make(be, Random(n * cout * h * wd, 24), n, cout, h, wd);
        using var ty = be.Allocate([n, cout, h, wd]);
        using var tdx = be.Allocate([n, cin, h, wd]);
        using var tdw = be.Allocate([cout, cin, 3, 3]);
        using var tdb = be.Allocate([cout]);
        be.Conv2dForward(tx, tw, tb, ty);
        be.Conv2dBackward(tx, tw, tdy, tdx, tdw, tdb);
        return [ty.ToArray(), tdx.ToArray(), tdw.ToArray(), tdb.ToArray()];
    }

    [Theory]
    [InlineData(ConvAlgorithm.Winograd2)]
    [InlineData(ConvAlgorithm.Winograd4)]
    public void DeterministicAcrossThreadCounts(ConvAlgorithm alg)
    {
        var a = RunAll(alg, 2);
        var b = RunAll(alg, 1);
        var c = RunAll(alg, 3);
        for (int i = 0; i < 4; i++) { Assert.Equal(a[i], b[i]); Assert.Equal(a[i], c[i]); }
    }

    /// <summary>Without AVX-512 the tiles are moved element by element and the GEMMs use the AVX2 / scalar kernels.</summary>
    [Theory]
    [InlineData("V256")]
    [InlineData("Scalar")]
    public void FallbackPathsMatchReference(string simd) => ConvKernelTests.WithSimd(simd, () =>
    {
        foreach (var alg in new[] { ConvAlgorithm.Winograd2, ConvAlgorithm.Winograd4 })
            foreach (var (n, cin, cout, h, w) in new[] { (3, 5, 17, 7, 7), (2, 17, 9, 13, 10), (1, 3, 1, 1, 5) })
            {
                var e = Errors(alg, 2, n, cin, cout, h, w);
                Assert.True(Math.Max(Math.Max(e.y, e.dx), Math.Max(e.dw, e.db)) <= Bound(alg), $"{simd} {alg} {n}x{cin}->{cout}@{h}x{w}: {e}");
            }
    });

    /// <summary>The unrolled transforms equal the matrices of Lavin and Gray: each unit input gives a column of the
    /// 2-d transform's matrix (B^T x B, A^T x A and A x A^T).</summary>
    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public unsafe void UnrolledTransformsEqualTheirMatrices(int m)
    {
        var set = WinogradTransforms.For(m);
        int a = m + 2;
        var at = new double[a * m];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < a; j++) at[i * a + j] = set.AT[i * a + j];
        var aMat = new double[a * m]; // A = (A^T)^T, a x m
        for (int i = 0; i < a; i++)
            for (int j = 0; j < m; j++) aMat[i * m + j] = at[j * a + i];
        foreach (var (kind, l, nin, nout) in new[]
        {
            (WinogradTransforms.Kind.Input, set.BT, a, a), (WinogradTransforms.Kind.Output, at, a, m), (WinogradTransforms.Kind.OutputGradient, aMat, m, a),
        })
        {
            float* x = stackalloc float[36 * 16];
            float* y = stackalloc float[36 * 16];
            float* tmp = stackalloc float[36 * 16];
            for (int k = 0; k < nin * nin; k++)
            {
                // lane k % 16 holds the unit input e_k (the other lanes zero); its output is L e_k L^T
                new Span<float>(x, 36 * 16).Clear();
                x[k * 16 + (k % 16)] = 1f;
                WinogradTransforms.Transform(m, kind, x, 16, tmp, y, 16);
                int lane0 = k % 16, i1 = k / nin, i2 = k % nin;
                for (int o1 = 0; o1 < nout; o1++)
                    for (int o2 = 0; o2 < nout; o2++)
                    {
                        double want = l[o1 * nin + i1] * l[o2 * nin + i2];
                        Assert.Equal(want, y[(o1 * nout + o2) * 16 + lane0], 5);
                    }
            }
        }
    }
}
