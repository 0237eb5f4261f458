using ILGPU;
using static CatchUp.Backends.Ilgpu.Kernels.DeviceMath;

namespace CatchUp.Backends.Ilgpu.Kernels;

/// <summary>Element-wise ops of IBackend (native/kernels/elementwise.cu), grid-stride loops over n elements.</summary>
internal static class ElementwiseKernels
{
    public static void Fill(ArrayView<float> y, int n, float value)
    {
        for (long i = GlobalIndex; i < n; i += GridStride) y[i] = value;
    }

    public static void Copy(ArrayView<float> source, ArrayView<float> destination, int n)
    {
        for (long i = GlobalIndex; i < n; i += GridStride) destination[i] = source[i];
    }

    /// <summary>y = a*x + b*y; b == 0 ignores y (as the CPU backend does, so a NaN in y does not leak).</summary>
    public static void Axpby(ArrayView<float> x, ArrayView<float> y, int n, float a, float b)
    {
        for (long i = GlobalIndex; i < n; i += GridStride) y[i] = b == 0f ? a * x[i] : a * x[i] + b * y[i];
    }

    public static void AddScale(ArrayView<float> a, ArrayView<float> b, ArrayView<float> y, int n, float scale)
    {
        for (long i = GlobalIndex; i < n; i += GridStride) y[i] = (a[i] + b[i]) * scale;
    }

    public static void Silu(ArrayView<float> x, ArrayView<float> y, int n)
    {
        for (long i = GlobalIndex; i < n; i += GridStride) y[i] = x[i] * Sigmoid(x[i]);
    }

    /// <summary>dx = dy * s * (1 + x (1 - s)), s = sigmoid(x).</summary>
    public static void SiluBackward(ArrayView<float> x, ArrayView<float> dy, ArrayView<float> dx, int n)
    {
        for (long i = GlobalIndex; i < n; i += GridStride)
        {
            float s = Sigmoid(x[i]);
            dx[i] = dy[i] * s * (1f + x[i] * (1f - s));
        }
    }
}
