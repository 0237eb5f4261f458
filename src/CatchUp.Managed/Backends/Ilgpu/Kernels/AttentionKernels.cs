using ILGPU;
using static CatchUp.Backends.Ilgpu.Kernels.DeviceMath;

namespace CatchUp.Backends.Ilgpu.Kernels;

/// <summary>The row-wise parts of one-head self-attention (native/kernels/attention.cu); the four products run on
/// <see cref="GemmKernels"/>. Rows are contiguous [rows, cols]; one group per row, grid-stride over rows.</summary>
internal static class AttentionKernels
{
    /// <summary>In place: s[row, :] = softmax(s[row, :]).</summary>
    public static void SoftmaxRows(ArrayView<float> s, int rows, int cols)
    {
        var red = SharedMemory.GetDynamic<double>();
        for (int row = Grid.IdxX; row < rows; row += Grid.DimX)
        {
            long o = (long)row * cols;
            float m = -3.402823466e38f;
            for (int j = Group.IdxX; j < cols; j += Group.DimX) m = s[o + j] > m ? s[o + j] : m;
            m = GroupMax(m, red);
            double sum = 0;
            for (int j = Group.IdxX; j < cols; j += Group.DimX)
            {
                float e = Exp(s[o + j] - m);
                s[o + j] = e;
                sum += e;
            }
            float inv = (float)(1.0 / GroupSum(sum, red));
            for (int j = Group.IdxX; j < cols; j += Group.DimX) s[o + j] *= inv;
        }
    }

    /// <summary>In place: dw[row, :] = w (dw - sum_j w[row, j] dw[row, j]) (softmax backward).</summary>
    public static void SoftmaxBackwardRows(ArrayView<float> w, ArrayView<float> dw, int rows, int cols)
    {
        var red = SharedMemory.GetDynamic<double>();
        for (int row = Grid.IdxX; row < rows; row += Grid.DimX)
        {
            long o = (long)row * cols;
            double dot = 0;
            for (int j = Group.IdxX; j < cols; j += Group.DimX) dot += (double)w[o + j] * dw[o + j];
            float d = (float)GroupSum(dot, red);
            for (int j = Group.IdxX; j < cols; j += Group.DimX) dw[o + j] = w[o + j] * (dw[o + j] - d);
        }
    }
}
