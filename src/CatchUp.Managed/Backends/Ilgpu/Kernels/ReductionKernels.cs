using ILGPU;
using static CatchUp.Backends.Ilgpu.Kernels.DeviceMath;

namespace CatchUp.Backends.Ilgpu.Kernels;

/// <summary>Reductions and bias broadcasts shared by several ops (native/kernels/reduce.cu). Every reduction has a fixed
/// order for a given launch shape, so results are deterministic run to run.</summary>
internal static class ReductionKernels
{
    /// <summary>dst[c] += sum over rows r of src[r * cols + c] (double accumulation, rows in order).</summary>
    public static void SumRowsAccumulate(ArrayView<float> src, ArrayView<float> dst, int rows, int cols)
    {
        for (long c = GlobalIndex; c < cols; c += GridStride)
        {
            double s = 0;
            for (int r = 0; r < rows; r++) s += src[(long)r * cols + c];
            dst[c] += (float)s;
        }
    }

    /// <summary>db[c] += sum over n, h, w of dy[n, c, h, w]: one group per channel, grid-stride over channels.</summary>
    public static void ChannelSumAccumulate(ArrayView<float> dy, ArrayView<float> db, int samples, int channels, int hw)
    {
        var red = SharedMemory.GetDynamic<double>();
        for (int c = Grid.IdxX; c < channels; c += Grid.DimX)
        {
            double s = 0;
            for (int n = 0; n < samples; n++)
            {
                long p = ((long)n * channels + c) * hw;
                for (int j = Group.IdxX; j < hw; j += Group.DimX) s += dy[p + j];
            }
            double total = GroupSum(s, red);
            if (Group.IdxX == 0) db[c] += (float)total;
        }
    }

    public static void AddChannelBias(ArrayView<float> y, ArrayView<float> bias, int samples, int channels, int hw)
    {
        long total = (long)samples * channels * hw;
        for (long i = GlobalIndex; i < total; i += GridStride) y[i] += bias[((int)i / hw) % channels];
    }

    public static void AddRowBias(ArrayView<float> y, ArrayView<float> bias, int rows, int cols)
    {
        long total = (long)rows * cols;
        for (long i = GlobalIndex; i < total; i += GridStride) y[i] += bias[(int)i % cols];
    }

    /// <summary>partials[offset + group] = sum of x[i]^2 over the group's grid-stride share.</summary>
    public static void SumSquaresPartial(ArrayView<float> x, ArrayView<double> partials, int n, int offset)
    {
        var red = SharedMemory.GetDynamic<double>();
        double s = 0;
        for (long i = GlobalIndex; i < n; i += GridStride) s += (double)x[i] * x[i];
        double total = GroupSum(s, red);
        if (Group.IdxX == 0) partials[offset + Grid.IdxX] = total;
    }

    /// <summary>result[0] = sum of partials[0 .. count) in one group (second stage of every scalar reduction).</summary>
    public static void FinishSum(ArrayView<double> partials, ArrayView<double> result, int count)
    {
        var red = SharedMemory.GetDynamic<double>();
        double s = 0;
        for (int i = Group.IdxX; i < count; i += Group.DimX) s += partials[i];
        double total = GroupSum(s, red);
        if (Group.IdxX == 0 && Grid.IdxX == 0) result[0] = total;
    }
}
