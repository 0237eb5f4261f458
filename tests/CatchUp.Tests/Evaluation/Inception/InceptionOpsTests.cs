using CatchUp.Backends.Cpu;
using CatchUp.Evaluation.Inception;
using Xunit;

namespace CatchUp.Tests.Evaluation.Inception;

/// <summary>Each building block of the Inception forward pass against plain loops or hand-computed values.</summary>
public unsafe class InceptionOpsTests
{
    private static float[] Random(int n, int seed, double lo = -1, double hi = 1)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(lo + (hi - lo) * rng.NextDouble());
        return a;
    }

    private static void AssertClose(double[] want, ReadOnlySpan<float> got, string what, double rtol = 1e-5)
    {
        Assert.Equal(want.Length, got.Length);
        double max = want.Max(Math.Abs);
        for (int i = 0; i < want.Length; i++)
        {
            if (!(Math.Abs(got[i] - want[i]) <= rtol * (Math.Abs(want[i]) + max)))
                Assert.Fail($"{what}[{i}]: got {got[i]}, expected {want[i]}");
        }
    }

    /// <summary>Conv (no bias) then inference BatchNorm then ReLU, in double, straight from the definitions.</summary>
    private static double[] ReferenceBasicConv(float[] x, float[] w, float[] gamma, float[] beta, float[] mean, float[] var,
        ConvSpec s, int h, int wd)
    {
        int oh = s.OutputHeight(h), ow = s.OutputWidth(wd);
        var y = new double[s.OutChannels * oh * ow];
        for (int co = 0; co < s.OutChannels; co++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    double acc = 0;
                    for (int ci = 0; ci < s.InChannels; ci++)
                        for (int ky = 0; ky < s.KernelH; ky++)
                            for (int kx = 0; kx < s.KernelW; kx++)
                            {
                                int iy = oy * s.Stride - s.PadH + ky, ix = ox * s.Stride - s.PadW + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                                acc += (double)w[((co * s.InChannels + ci) * s.KernelH + ky) * s.KernelW + kx] * x[(ci * h + iy) * wd + ix];
                            }
                    double bn = (acc - mean[co]) / Math.Sqrt(var[co] + InceptionLayout.BatchNormEps) * gamma[co] + beta[co];
                    y[(co * oh + oy) * ow + ox] = Math.Max(bn, 0);
                }
        return y;
    }

    public static TheoryData<int, int, int, int, int, int, int, int, int, bool> ConvCases => new()
    {
        // cin, cout, kh, kw, stride, padH, padW, height, width, avx512
        { 3, 10, 3, 3, 2, 0, 0, 13, 11, true },   // stem: stride 2, no padding, odd sizes
        { 5, 9, 1, 7, 1, 0, 3, 9, 10, true },     // 1x7
        { 5, 17, 7, 1, 1, 3, 0, 9, 10, true },    // 7x1
        { 6, 8, 1, 3, 1, 0, 1, 5, 4, true },      // 1x3
        { 6, 8, 3, 1, 1, 1, 0, 5, 4, false },     // 3x1
        { 4, 8, 5, 5, 1, 2, 2, 7, 7, true },      // 5x5, padding 2
        { 40, 16, 3, 3, 1, 1, 1, 6, 9, true },    // K = 360 > Kc: accumulation across K blocks
        { 40, 16, 3, 3, 2, 0, 0, 9, 9, false },   // 3x3 stride 2 on the 256-bit path
        { 64, 8, 5, 5, 1, 2, 2, 13, 11, true },   // K = 1600: im2col in 64-column blocks that split output rows
        { 200, 8, 3, 3, 2, 1, 1, 29, 23, false }, // the same with stride 2 and padding
        { 300, 12, 1, 1, 1, 0, 0, 7, 5, true },   // pointwise (no im2col), K > Kc, rows not a multiple of 8
        { 300, 12, 1, 1, 1, 0, 0, 7, 5, false },
    };

    [Theory]
    [MemberData(nameof(ConvCases))]
    public void FoldedConvMatchesConvBatchNormRelu(int cin, int cout, int kh, int kw, int stride, int padH, int padW, int h, int w, bool avx512)
    {
        var spec = new ConvSpec("test", cin, cout, kh, kw, stride, padH, padW);
        float[] x = Random(cin * h * w, 1);
        float[] weights = Random(cout * spec.Fan, 2, -0.5, 0.5);
        float[] gamma = Random(cout, 3, 0.5, 1.5), beta = Random(cout, 4), mean = Random(cout, 5, -0.3, 0.3), var = Random(cout, 6, 0.2, 2);
        double[] want = ReferenceBasicConv(x, weights, gamma, beta, mean, var, spec, h, w);

        var conv = FoldedConv.Fold(spec, weights, gamma, beta, mean, var, InceptionLayout.BatchNormEps);
        GemmPath path = avx512 ? GemmPath.Vector512 : GemmPath.Vector256;
        float[] serial = RunConv(conv, x, h, w, want.Length, path, pool: null);
        AssertClose(want, serial, $"conv {kh}x{kw}/{stride}");

        // Split over a pool, each worker computes whole output positions exactly as the serial pass does.
        using var pool = new WorkerPool(3);
        Assert.Equal(serial, RunConv(conv, x, h, w, want.Length, path, pool));
    }

    /// <summary>Runs the conv into a channel slice of a larger buffer and checks that everything around it stays untouched.</summary>
    private static float[] RunConv(FoldedConv conv, float[] x, int h, int w, int outputLength, GemmPath path, WorkerPool? pool)
    {
        using var ws = new InceptionWorkspace(path, pool);
        const int guard = 37;
        var y = new float[outputLength + 2 * guard];
        Array.Fill(y, float.NaN);
        fixed (float* px = x)
        fixed (float* py = y)
            conv.Forward(ws, px, h, w, py + guard);
        Assert.All(y.AsSpan(0, guard).ToArray().Concat(y.AsSpan(guard + outputLength).ToArray()), v => Assert.True(float.IsNaN(v)));
        return y.AsSpan(guard, outputLength).ToArray();
    }

    [Theory]
    [InlineData(13, 300, 37, 45, true)]
    [InlineData(13, 300, 37, 45, false)]
    [InlineData(8, 5, 32, 32, true)]
    [InlineData(17, 520, 300, 303, true)]  // several strip chunks (the last partial) and three K blocks
    [InlineData(17, 520, 300, 303, false)]
    [InlineData(1, 1, 1, 1, false)]
    public void GemmMatchesTripleLoop(int m, int k, int n, int ldc, bool avx512)
    {
        float[] a = Random(m * k, 7), b = Random(k * n, 8);
        var c = new float[m * ldc];
        Array.Fill(c, -7f);
        var strip = new float[PackedGemm.StripBufferFloats];
        float[] packed = PackedGemm.PackA(a, m, k);
        fixed (float* pa = packed)
        fixed (float* pb = b)
        fixed (float* pc = c)
        fixed (float* ps = strip)
            PackedGemm.Multiply(avx512 ? GemmPath.Vector512 : GemmPath.Vector256, pa, null, m, k, pb, n, n, pc, ldc, relu: false, ps);

        for (int i = 0; i < m; i++)
        {
            var want = new double[n];
            for (int j = 0; j < n; j++)
                for (int kk = 0; kk < k; kk++) want[j] += (double)a[i * k + kk] * b[kk * n + j];
            AssertClose(want, c.AsSpan(i * ldc, n), $"row {i}");
            Assert.All(c.AsSpan(i * ldc + n, ldc - n).ToArray(), v => Assert.Equal(-7f, v));
        }
    }

    [Fact]
    public void AveragePoolCountsPaddingOnlyWhenAsked()
    {
        // 3x3 image 1..9, 3x3 window, stride 1, padding 1. Corner (0, 0) sees 1, 2, 4, 5; the centre sees everything.
        float[] x = Enumerable.Range(1, 9).Select(v => (float)v).ToArray();
        var without = new float[9];
        var with = new float[9];
        fixed (float* px = x)
        fixed (float* p1 = without)
        fixed (float* p2 = with)
        {
            Pooling.Average(px, 1, 3, 3, 3, 1, 1, countIncludePad: false, p1);
            Pooling.Average(px, 1, 3, 3, 3, 1, 1, countIncludePad: true, p2);
        }
        Assert.Equal(new[] { 3f, 3.5f, 4f, 4.5f, 5f, 5.5f, 6f, 6.5f, 7f }, without);
        Assert.Equal(12f / 9, with[0], 6);
        Assert.Equal(5f, with[4], 6);
        Assert.Equal(21f / 9, with[1], 6); // 1 + 2 + 3 + 4 + 5 + 6 over the full window
    }

    [Theory]
    [InlineData(3, 2, 0)]
    [InlineData(3, 1, 1)]
    [InlineData(3, 2, 1)]
    public void PoolsMatchLoops(int kernel, int stride, int pad)
    {
        const int c = 3, h = 9, w = 8;
        float[] x = Random(c * h * w, 9);
        int oh = (h + 2 * pad - kernel) / stride + 1, ow = (w + 2 * pad - kernel) / stride + 1;
        var max = new float[c * oh * ow];
        var avg = new float[c * oh * ow];
        var avgPad = new float[c * oh * ow];
        fixed (float* px = x)
        fixed (float* pm = max)
        fixed (float* pa = avg)
        fixed (float* pp = avgPad)
        {
            Pooling.Max(px, c, h, w, kernel, stride, pad, pm);
            Pooling.Average(px, c, h, w, kernel, stride, pad, countIncludePad: false, pa);
            Pooling.Average(px, c, h, w, kernel, stride, pad, countIncludePad: true, pp);
        }
        for (int ch = 0; ch < c; ch++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    double m = double.NegativeInfinity, sum = 0;
                    int real = 0;
                    for (int ky = 0; ky < kernel; ky++)
                        for (int kx = 0; kx < kernel; kx++)
                        {
                            int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            float v = x[(ch * h + iy) * w + ix];
                            m = Math.Max(m, v);
                            sum += v;
                            real++;
                        }
                    int o = (ch * oh + oy) * ow + ox;
                    Assert.Equal((float)m, max[o]);
                    Assert.Equal(sum / real, avg[o], 1e-6);
                    Assert.Equal(sum / (kernel * kernel), avgPad[o], 1e-6);
                }
    }

    [Theory]
    [InlineData(2, 2)]
    [InlineData(3, 5)]
    [InlineData(8, 8)]
    [InlineData(17, 17)]
    [InlineData(35, 35)]
    public void SeparableBranchPoolMatchesWindowLoops(int h, int w)
    {
        const int c = 3;
        float[] x = Random(c * h * w, 12);
        var expectedMax = new float[x.Length];
        var expectedAvg = new float[x.Length];
        var max = new float[x.Length];
        var avg = new float[x.Length];
        var rows = new float[h * w];
        fixed (float* px = x)
        fixed (float* pem = expectedMax)
        fixed (float* pea = expectedAvg)
        fixed (float* pm = max)
        fixed (float* pa = avg)
        fixed (float* pr = rows)
        {
            Pooling.Max(px, c, h, w, 3, 1, 1, pem);
            Pooling.Average(px, c, h, w, 3, 1, 1, countIncludePad: false, pea);
            Pooling.Window3x3Same(px, c, h, w, max: true, pr, pm);
            Pooling.Window3x3Same(px, c, h, w, max: false, pr, pa);
        }
        Assert.Equal(expectedMax, max);
        for (int i = 0; i < x.Length; i++) Assert.Equal(expectedAvg[i], avg[i], 1e-6);
    }

    [Fact]
    public void BilinearUpsamplingMatchesPyTorchsHandComputedCase()
    {
        // F.interpolate([[0, 1], [2, 3]], size=(4, 4), mode="bilinear", align_corners=False)
        float[] expected =
        [
            0.00f, 0.25f, 0.75f, 1.00f,
            0.50f, 0.75f, 1.25f, 1.50f,
            1.50f, 1.75f, 2.25f, 2.50f,
            2.00f, 2.25f, 2.75f, 3.00f,
        ];
        Assert.Equal(expected, Resize([0, 1, 2, 3], 2, 2, 4, 4));
    }

    [Fact]
    public void BilinearHalvingAveragesPixelPairsAndSameSizeIsIdentity()
    {
        float[] x = Random(6 * 4, 10);
        float[] half = Resize(x, 6, 4, 3, 2);
        for (int oy = 0; oy < 3; oy++)
            for (int ox = 0; ox < 2; ox++)
            {
                double mean = (x[2 * oy * 4 + 2 * ox] + x[2 * oy * 4 + 2 * ox + 1] + x[(2 * oy + 1) * 4 + 2 * ox] + x[(2 * oy + 1) * 4 + 2 * ox + 1]) / 4.0;
                Assert.Equal(mean, half[oy * 2 + ox], 1e-6);
            }
        Assert.Equal(x, Resize(x, 6, 4, 6, 4));
    }

    [Fact]
    public void BilinearNonIntegerScaleMatchesTheDefinition()
    {
        // 3 -> 7 rows, 5 -> 2 columns: source = (d + 0.5) * in / out - 0.5, clamped at 0, edge pixel repeated.
        const int ih = 3, iw = 5, oh = 7, ow = 2;
        float[] x = Random(ih * iw, 11);
        float[] got = Resize(x, ih, iw, oh, ow);
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
            {
                double sy = Math.Max((oy + 0.5) * ih / oh - 0.5, 0), sx = Math.Max((ox + 0.5) * iw / ow - 0.5, 0);
                int y0 = (int)Math.Floor(sy), x0 = (int)Math.Floor(sx);
                int y1 = Math.Min(y0 + 1, ih - 1), x1 = Math.Min(x0 + 1, iw - 1);
                double fy = sy - y0, fx = sx - x0;
                double want = (1 - fy) * ((1 - fx) * x[y0 * iw + x0] + fx * x[y0 * iw + x1]) + fy * ((1 - fx) * x[y1 * iw + x0] + fx * x[y1 * iw + x1]);
                Assert.Equal(want, got[oy * ow + ox], 1e-6);
            }
    }

    private static float[] Resize(float[] x, int ih, int iw, int oh, int ow)
    {
        var y = new float[oh * ow];
        fixed (float* px = x)
        fixed (float* py = y)
            new BilinearResize(ih, iw, oh, ow).Apply(px, py);
        return y;
    }
}
