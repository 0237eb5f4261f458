using ILGPU;
using static CatchUp.Backends.Ilgpu.Kernels.DeviceMath;

namespace CatchUp.Backends.Ilgpu.Kernels;

/// <summary>Dynamic-skip concat along channels with the per-sample scales fused in (native/kernels/concat.cu):
/// y[n] = [a[n] * scaleA[n], b[n] * scaleB[n]]. A null scale arrives as a view of ones.</summary>
internal static class ConcatKernels
{
    public static void Forward(ArrayView<float> a, ArrayView<float> b, ArrayView<float> scaleA, ArrayView<float> scaleB,
        ArrayView<float> y, int samples, int sizeA, int sizeB)
    {
        int size = sizeA + sizeB;
        long total = (long)samples * size;
        for (long i = GlobalIndex; i < total; i += GridStride)
        {
            int n = (int)i / size, r = (int)i - n * size;
            if (r < sizeA) y[i] = a[(long)n * sizeA + r] * scaleA[n];
            else y[i] = b[(long)n * sizeB + (r - sizeA)] * scaleB[n];
        }
    }

    public static void Backward(ArrayView<float> dy, ArrayView<float> scaleA, ArrayView<float> scaleB, ArrayView<float> da,
        ArrayView<float> db, int samples, int sizeA, int sizeB)
    {
        int size = sizeA + sizeB;
        long total = (long)samples * size;
        for (long i = GlobalIndex; i < total; i += GridStride)
        {
            int n = (int)i / size, r = (int)i - n * size;
            if (r < sizeA) da[(long)n * sizeA + r] = dy[i] * scaleA[n];
            else db[(long)n * sizeB + (r - sizeA)] = dy[i] * scaleB[n];
        }
    }
}
