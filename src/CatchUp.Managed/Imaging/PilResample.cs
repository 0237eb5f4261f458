namespace CatchUp.Imaging;

/// <summary>
/// Pillow's separable resampling of 8-bit images (its Resample.c), so that images prepared here match the
/// reference's PIL preprocessing to the byte: per output pixel a window of the filter stretched by the scale factor,
/// weights normalized then rounded to 22-bit fixed point, the horizontal pass first with an 8-bit intermediate, then
/// the vertical pass. Images are interleaved HWC bytes.
/// </summary>
public static class PilResample
{
    public enum Filter { Box, Bicubic }

    private const int PrecisionBits = 32 - 8 - 2;

    public static byte[] Resize(byte[] pixels, int width, int height, int channels, int newWidth, int newHeight, Filter filter)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(newWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(newHeight, 1);
        if (pixels.Length != width * height * channels) throw new ArgumentException($"{pixels.Length} bytes for {width}x{height}x{channels}");
        byte[] current = pixels;
        if (newWidth != width)
        {
            current = Pass(current, lines: height, inSize: width, outSize: newWidth, channels, filter,
                position: channels, line: width * channels, outPosition: channels, outLine: newWidth * channels);
            width = newWidth;
        }
        if (newHeight != height)
            current = Pass(current, lines: width, inSize: height, outSize: newHeight, channels, filter,
                position: width * channels, line: channels, outPosition: width * channels, outLine: channels);
        return current == pixels ? (byte[])pixels.Clone() : current;
    }

    /// <summary>One 1-D pass along an axis: <paramref name="lines"/> lines of <paramref name="inSize"/> samples, the byte
    /// offsets of successive samples and lines given by the strides (in and out).</summary>
    private static byte[] Pass(byte[] source, int lines, int inSize, int outSize, int channels, Filter filter,
        int position, int line, int outPosition, int outLine)
    {
        var (bounds, weights, k) = Coefficients(inSize, outSize, filter);
        var output = new byte[lines * outSize * channels];
        for (int l = 0; l < lines; l++)
            for (int o = 0; o < outSize; o++)
                for (int c = 0; c < channels; c++)
                {
                    int sum = 1 << (PrecisionBits - 1);
                    for (int i = 0; i < bounds[o].Count; i++)
                        sum += source[l * line + (bounds[o].First + i) * position + c] * weights[o * k + i];
                    output[l * outLine + o * outPosition + c] = Clip8(sum);
                }
        return output;
    }

    private static byte Clip8(int sum)
    {
        int v = sum >> PrecisionBits;
        return (byte)Math.Clamp(v, 0, 255);
    }

    private static double Support(Filter f) => f == Filter.Box ? 0.5 : 2.0;

    private static double Weight(Filter f, double x)
    {
        if (f == Filter.Box) return x > -0.5 && x <= 0.5 ? 1.0 : 0.0;
        const double a = -0.5;
        x = Math.Abs(x);
        if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
        return 0.0;
    }

    /// <summary>Pillow's precompute_coeffs + normalize_coeffs_8bpc: window (first, count) and fixed-point weights per output.</summary>
    private static ((int First, int Count)[] Bounds, int[] Weights, int K) Coefficients(int inSize, int outSize, Filter filter)
    {
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = Support(filter) * filterScale;
        int k = (int)Math.Ceiling(support) * 2 + 1;
        var bounds = new (int, int)[outSize];
        var weights = new int[outSize * k];
        var pre = new double[k];
        for (int xx = 0; xx < outSize; xx++)
        {
            double center = (xx + 0.5) * scale, ww = 0, ss = 1.0 / filterScale;
            int xmin = Math.Max((int)(center - support + 0.5), 0);
            int xmax = Math.Min((int)(center + support + 0.5), inSize) - xmin;
            for (int x = 0; x < xmax; x++)
            {
                double w = Weight(filter, (x + xmin - center + 0.5) * ss);
                pre[x] = w;
                ww += w;
            }
            for (int x = 0; x < xmax; x++)
            {
                double w = ww != 0 ? pre[x] / ww : pre[x];
                weights[xx * k + x] = (int)(w < 0 ? -0.5 + w * (1 << PrecisionBits) : 0.5 + w * (1 << PrecisionBits));
            }
            bounds[xx] = (xmin, xmax);
        }
        return (bounds, weights, k);
    }
}
