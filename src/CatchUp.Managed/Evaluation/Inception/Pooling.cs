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
