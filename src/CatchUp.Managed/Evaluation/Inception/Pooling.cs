using System.Numerics;

namespace CatchUp.Evaluation.Inception;

/// <summary>
/// Square-window pooling over every plane of a CHW image, with PyTorch's semantics (floor output size, no ceil mode):
/// max pooling ignores padding (it acts as -infinity); average pooling divides by the number of real pixels when
/// <c>countIncludePad</c> is false (TensorFlow's behaviour, used by the FID Inception) and by the window clipped to the
/// padded image when true.
/// </summary>
internal static unsafe class Pooling
{
    public static int OutputSize(int size, int kernel, int stride, int pad) => (size + 2 * pad - kernel) / stride + 1;

    public static void Max(float* x, int channels, int height, int width, int kernel, int stride, int pad, float* y)
    {
        int outH = OutputSize(height, kernel, stride, pad), outW = OutputSize(width, kernel, stride, pad);
        for (int c = 0; c < channels; c++)
        {
            float* plane = x + (long)c * height * width;
            float* dst = y + (long)c * outH * outW;
            for (int oy = 0; oy < outH; oy++)
            {
                int y0 = Math.Max(oy * stride - pad, 0), y1 = Math.Min(oy * stride - pad + kernel, height);
                for (int ox = 0; ox < outW; ox++)
                {
                    int x0 = Math.Max(ox * stride - pad, 0), x1 = Math.Min(ox * stride - pad + kernel, width);
                    float m = float.NegativeInfinity;
                    for (int iy = y0; iy < y1; iy++)
                    {
                        float* r = plane + (long)iy * width;
                        for (int ix = x0; ix < x1; ix++) m = MathF.Max(m, r[ix]);
                    }
                    dst[oy * outW + ox] = m;
                }
            }
        }
    }

    public static void Average(float* x, int channels, int height, int width, int kernel, int stride, int pad, bool countIncludePad, float* y)
    {
        int outH = OutputSize(height, kernel, stride, pad), outW = OutputSize(width, kernel, stride, pad);
        for (int c = 0; c < channels; c++)
        {
            float* plane = x + (long)c * height * width;
            float* dst = y + (long)c * outH * outW;
            for (int oy = 0; oy < outH; oy++)
            {
                int ys = oy * stride - pad;
                int y0 = Math.Max(ys, 0), y1 = Math.Min(ys + kernel, height);
                int paddedRows = Math.Min(ys + kernel, height + pad) - ys;
                for (int ox = 0; ox < outW; ox++)
                {
                    int xs = ox * stride - pad;
                    int x0 = Math.Max(xs, 0), x1 = Math.Min(xs + kernel, width);
                    float sum = 0f;
                    for (int iy = y0; iy < y1; iy++)
                    {
                        float* r = plane + (long)iy * width;
                        for (int ix = x0; ix < x1; ix++) sum += r[ix];
                    }
                    int count = countIncludePad ? paddedRows * (Math.Min(xs + kernel, width + pad) - xs) : (y1 - y0) * (x1 - x0);
                    dst[oy * outW + ox] = sum / count;
                }
            }
        }
    }

    /// <summary>
    /// The Mixed blocks' pool branch, 3x3 window, stride 1, padding 1, padding ignored (max pooling, or average pooling with
    /// count_include_pad=False), as two vectorized 3-tap passes: along rows into <paramref name="rows"/> (one plane of
    /// scratch), then down columns; averages divide each window sum by its real pixel count. Needs height, width >= 2.
    /// </summary>
    public static void Window3x3Same(float* x, int channels, int height, int width, bool max, float* rows, float* y)
    {
        if (height < 2 || width < 2) throw new ArgumentException($"3x3 window pooling needs at least 2x2 pixels, got {height}x{width}");
        int plane = height * width;
        for (int c = 0; c < channels; c++)
        {
            float* src = x + (long)c * plane;
            float* dst = y + (long)c * plane;
            // Along rows: every interior index of the flattened plane, then the two row ends that wrapped around.
            Taps3(src, src + 1, src + 2, rows + 1, plane - 2, max);
            for (int r = 0; r < plane; r += width)
            {
                rows[r] = Op(src[r], src[r + 1], max);
                rows[r + width - 1] = Op(src[r + width - 2], src[r + width - 1], max);
            }
            // Down columns: interior rows, then the first and last row which have one neighbour.
            Taps3(rows, rows + width, rows + 2 * width, dst + width, plane - 2 * width, max);
            Taps2(rows, rows + width, dst, width, max);
            Taps2(rows + plane - 2 * width, rows + plane - width, dst + plane - width, width, max);
            if (!max) DivideByCounts(dst, height, width);
        }
    }

    private static float Op(float a, float b, bool max) => max ? MathF.Max(a, b) : a + b;

    private static void Taps3(float* a, float* b, float* c, float* dst, int n, bool max)
    {
        int i = 0;
        int step = Vector<float>.Count;
        for (; i <= n - step; i += step)
        {
            Vector<float> va = Vector.Load(a + i), vb = Vector.Load(b + i), vc = Vector.Load(c + i);
            (max ? Vector.Max(Vector.Max(va, vb), vc) : va + vb + vc).Store(dst + i);
        }
        for (; i < n; i++) dst[i] = max ? MathF.Max(MathF.Max(a[i], b[i]), c[i]) : a[i] + b[i] + c[i];
    }

    private static void Taps2(float* a, float* b, float* dst, int n, bool max)
    {
        for (int i = 0; i < n; i++) dst[i] = Op(a[i], b[i], max);
    }

    /// <summary>Window sums to means: 3 real rows and columns inside, 2 on the border.</summary>
    private static void DivideByCounts(float* sums, int height, int width)
    {
        for (int r = 0; r < height; r++)
        {
            float rowsCount = r == 0 || r == height - 1 ? 2f : 3f;
            float* row = sums + (long)r * width;
            row[0] /= rowsCount * 2f;
            row[width - 1] /= rowsCount * 2f;
            var divisor = new Vector<float>(rowsCount * 3f);
            int i = 1, step = Vector<float>.Count;
            for (; i <= width - 1 - step; i += step) (Vector.Load(row + i) / divisor).Store(row + i);
            for (; i < width - 1; i++) row[i] /= rowsCount * 3f;
        }
    }

    /// <summary>Mean of each of <paramref name="channels"/> planes of <paramref name="size"/> pixels, accumulated in double.</summary>
    public static void GlobalAverage(float* x, int channels, int size, Span<double> means)
    {
        for (int c = 0; c < channels; c++)
        {
            float* plane = x + (long)c * size;
            double sum = 0;
            for (int i = 0; i < size; i++) sum += plane[i];
            means[c] = sum / size;
        }
    }
}
