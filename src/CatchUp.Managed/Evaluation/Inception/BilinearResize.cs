namespace CatchUp.Evaluation.Inception;

/// <summary>
/// Bilinear resampling of single planes with PyTorch's <c>F.interpolate(mode="bilinear", align_corners=False)</c>
/// convention (no antialiasing): output pixel d samples source coordinate (d + 0.5) * in / out - 0.5, clamped at 0,
/// between pixels floor(src) and the next one (the last pixel repeats at the far edge).
/// </summary>
internal sealed unsafe class BilinearResize
{
    private readonly int[] _y0, _y1, _x0, _x1;
    private readonly float[] _wy, _wx;

    public BilinearResize(int inHeight, int inWidth, int outHeight, int outWidth)
    {
        if (inHeight < 1 || inWidth < 1 || outHeight < 1 || outWidth < 1)
            throw new ArgumentException($"cannot resize {inHeight}x{inWidth} to {outHeight}x{outWidth}");
        InHeight = inHeight;
        InWidth = inWidth;
        OutHeight = outHeight;
        OutWidth = outWidth;
        (_y0, _y1, _wy) = Taps(inHeight, outHeight);
        (_x0, _x1, _wx) = Taps(inWidth, outWidth);
    }

    public int InHeight { get; }
    public int InWidth { get; }
    public int OutHeight { get; }
    public int OutWidth { get; }

    /// <summary>For each output index: the two source indices and the weight of the second.</summary>
    private static (int[] Lo, int[] Hi, float[] Weight) Taps(int inSize, int outSize)
    {
        var lo = new int[outSize];
        var hi = new int[outSize];
        var weight = new float[outSize];
        double scale = (double)inSize / outSize;
        for (int d = 0; d < outSize; d++)
        {
            double src = Math.Max((d + 0.5) * scale - 0.5, 0.0);
            int i0 = Math.Min((int)src, inSize - 1);
            lo[d] = i0;
            hi[d] = i0 < inSize - 1 ? i0 + 1 : i0;
            weight[d] = (float)(src - i0);
        }
        return (lo, hi, weight);
    }

    /// <summary>Resizes one InHeight x InWidth plane into one OutHeight x OutWidth plane.</summary>
    public void Apply(float* src, float* dst)
    {
        for (int oy = 0; oy < OutHeight; oy++)
        {
            float* r0 = src + (long)_y0[oy] * InWidth;
            float* r1 = src + (long)_y1[oy] * InWidth;
            float wy1 = _wy[oy], wy0 = 1f - wy1;
            float* o = dst + (long)oy * OutWidth;
            for (int ox = 0; ox < OutWidth; ox++)
            {
                int a = _x0[ox], b = _x1[ox];
                float wx1 = _wx[ox], wx0 = 1f - wx1;
                o[ox] = wy0 * (wx0 * r0[a] + wx1 * r0[b]) + wy1 * (wx0 * r1[a] + wx1 * r1[b]);
            }
        }
    }
}
