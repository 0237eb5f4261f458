namespace CatchUp.Evaluation.Inception;

/// <summary>
/// Unfolds one CHW image for a convolution: row (ci * kh + dy) * kw + dx of the [C kh kw, Ho Wo] result holds the input
/// pixel each output position reads through tap (dy, dx) of channel ci, zero where the tap falls in the padding.
/// Row order matches PyTorch's [Cout, Cin, kh, kw] weight layout flattened to [Cout, Cin kh kw].
/// </summary>
internal static unsafe class Im2Col
{
    public static void Unfold(float* x, int channels, int height, int width, int kernelH, int kernelW, int stride, int padH, int padW,
        int outH, int outW, float* columns)
    {
        int n = outH * outW;
        float* row = columns;
        for (int ci = 0; ci < channels; ci++)
        {
            float* plane = x + (long)ci * height * width;
            for (int dy = 0; dy < kernelH; dy++)
            {
                for (int dx = 0; dx < kernelW; dx++, row += n)
                {
                    // Output columns ox whose input column ox * stride - padW + dx lies inside [0, width).
                    int shift = dx - padW;
                    int oxLo = shift >= 0 ? 0 : Math.Min(outW, (-shift + stride - 1) / stride);
                    int oxHi = Math.Clamp((width - 1 - shift) / stride + 1, oxLo, outW);
                    if (width - 1 - shift < 0) oxHi = oxLo;
                    for (int oy = 0; oy < outH; oy++)
                    {
                        float* dst = row + oy * outW;
                        int iy = oy * stride - padH + dy;
                        if ((uint)iy >= (uint)height)
                        {
                            new Span<float>(dst, outW).Clear();
                            continue;
                        }
                        new Span<float>(dst, oxLo).Clear();
                        new Span<float>(dst + oxHi, outW - oxHi).Clear();
                        float* src = plane + (long)iy * width + shift;
                        if (stride == 1)
                        {
                            new ReadOnlySpan<float>(src + oxLo, oxHi - oxLo).CopyTo(new Span<float>(dst + oxLo, oxHi - oxLo));
                        }
                        else
                        {
                            for (int ox = oxLo; ox < oxHi; ox++) dst[ox] = src[ox * stride];
                        }
                    }
                }
            }
        }
    }
}
