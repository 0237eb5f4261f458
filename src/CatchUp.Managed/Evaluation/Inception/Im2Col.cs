namespace CatchUp.Evaluation.Inception;

/// <summary>
/// Unfolds one CHW image for a convolution: row (ci * kh + dy) * kw + dx of the [C kh kw, Ho Wo] matrix holds the input
/// pixel each output position reads through tap (dy, dx) of channel ci, zero where the tap falls in the padding.
/// Row order matches PyTorch's [Cout, Cin, kh, kw] weight layout flattened to [Cout, Cin kh kw]. Only the column range
/// [first, first + count) is produced, so a caller can unfold a cache-sized block of output positions at a time.
/// </summary>
internal static unsafe class Im2Col
{
    public static void Unfold(float* x, int channels, int height, int width, int kernelH, int kernelW, int stride, int padH, int padW,
        int outH, int outW, int first, int count, float* columns)
    {
        if (stride == 1 && outH == height && outW == width)
        {
            UnfoldSame(x, channels, height, width, kernelH, kernelW, padH, padW, first, count, columns);
            return;
        }
        int end = first + count;
        float* row = columns;
        for (int ci = 0; ci < channels; ci++)
        {
            float* plane = x + (long)ci * height * width;
            for (int dy = 0; dy < kernelH; dy++)
            {
                for (int dx = 0; dx < kernelW; dx++, row += count)
                {
                    // Output columns ox whose input column ox * stride + shift lies inside [0, width).
                    int shift = dx - padW;
                    int validLo = shift >= 0 ? 0 : Math.Min(outW, (-shift + stride - 1) / stride);
                    int validHi = width - 1 - shift < 0 ? validLo : Math.Clamp((width - 1 - shift) / stride + 1, validLo, outW);
                    for (int oy = first / outW; oy * outW < end; oy++)
                    {
                        int lo = Math.Max(first - oy * outW, 0), hi = Math.Min(end - oy * outW, outW);
                        float* dst = row + (oy * outW - first);
                        int iy = oy * stride - padH + dy;
                        int copyLo = Math.Clamp(validLo, lo, hi), copyHi = Math.Clamp(validHi, copyLo, hi);
                        if ((uint)iy >= (uint)height) copyHi = copyLo;
                        new Span<float>(dst + lo, copyLo - lo).Clear();
                        new Span<float>(dst + copyHi, hi - copyHi).Clear();
                        if (copyHi == copyLo) continue;
                        float* src = plane + (long)iy * width + shift;
                        if (stride == 1)
                            new ReadOnlySpan<float>(src + copyLo, copyHi - copyLo).CopyTo(new Span<float>(dst + copyLo, copyHi - copyLo));
                        else
                            for (int ox = copyLo; ox < copyHi; ox++) dst[ox] = src[ox * stride];
                    }
                }
            }
        }
    }

    /// <summary>
    /// Stride 1 with "same" padding: tap (dy, dx) reads the plane shifted by (dy - padH) rows and (dx - padW) columns, so
    /// each row is one contiguous copy, then the few columns that wrapped around a row edge are zeroed.
    /// </summary>
    private static void UnfoldSame(float* x, int channels, int height, int width, int kernelH, int kernelW, int padH, int padW,
        int first, int count, float* columns)
    {
        int end = first + count;
        float* row = columns;
        for (int ci = 0; ci < channels; ci++)
        {
            float* plane = x + (long)ci * height * width;
            for (int dy = 0; dy < kernelH; dy++)
            {
                // Positions whose input row oy + dy - padH exists.
                int lo = Math.Clamp((padH - dy) * width, first, end), hi = Math.Clamp((height + padH - dy) * width, lo, end);
                for (int dx = 0; dx < kernelW; dx++, row += count)
                {
                    long shift = (long)(dy - padH) * width + (dx - padW);
                    new Span<float>(row, lo - first).Clear();
                    new ReadOnlySpan<float>(plane + lo + shift, hi - lo).CopyTo(new Span<float>(row + (lo - first), hi - lo));
                    new Span<float>(row + (hi - first), end - hi).Clear();
                    int left = padW - dx, right = dx - padW; // columns falling off the left / right edge
                    if (left <= 0 && right <= 0) continue;
                    for (int rowStart = lo - lo % width; rowStart < hi; rowStart += width)
                    {
                        int a = left > 0 ? rowStart : rowStart + width - right, b = left > 0 ? rowStart + left : rowStart + width;
                        for (int p = Math.Max(a, lo); p < Math.Min(b, hi); p++) row[p - first] = 0f;
                    }
                }
            }
        }
    }
}
