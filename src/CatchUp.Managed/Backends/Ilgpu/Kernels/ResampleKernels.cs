using ILGPU;
using static CatchUp.Backends.Ilgpu.Kernels.DeviceMath;

namespace CatchUp.Backends.Ilgpu.Kernels;

/// <summary>
/// 2x resampling with the [1,1] filter as two kernels (native/kernels/resample.cu):
/// reduce: dst [planes, h, w] = scale * 2x2 block sums of src [planes, 2h, 2w] (AvgPool2x: 0.25, Upsample2xBackward: 1);
/// expand: dst [planes, 2h, 2w] = scale * src [planes, h, w] repeated over 2x2 blocks (Upsample2x: 1, AvgPool2xBackward: 0.25).
/// </summary>
internal static class ResampleKernels
{
    public static void Reduce(ArrayView<float> src, ArrayView<float> dst, int planes, int h, int w, float scale)
    {
        long total = (long)planes * h * w;
        for (long i = GlobalIndex; i < total; i += GridStride)
        {
            int p = (int)i / (h * w), r = (int)i - p * h * w, y = r / w, x = r - y * w;
            long s = (long)p * 4 * h * w + (long)(2 * y) * (2 * w) + 2 * x;
            dst[i] = scale * ((src[s] + src[s + 1]) + (src[s + 2 * w] + src[s + 2 * w + 1]));
        }
    }

    public static void Expand(ArrayView<float> src, ArrayView<float> dst, int planes, int h, int w, float scale)
    {
        long total = (long)planes * 4 * h * w;
        int w2 = 2 * w;
        for (long i = GlobalIndex; i < total; i += GridStride)
        {
            int p = (int)i / (4 * h * w), r = (int)i - p * 4 * h * w, y = r / w2, x = r - y * w2;
            dst[i] = scale * src[(long)p * h * w + (long)(y >> 1) * w + (x >> 1)];
        }
    }
}
