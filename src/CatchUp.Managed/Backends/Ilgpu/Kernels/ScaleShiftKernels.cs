using ILGPU;
using static CatchUp.Backends.Ilgpu.Kernels.DeviceMath;

namespace CatchUp.Backends.Ilgpu.Kernels;

internal readonly record struct ScaleShiftArgs(int Samples, int Channels, int Hw, int Silu, int Drop, ulong Seed, int Threshold, float DropScale);

/// <summary>
/// The ADM ResBlock's scale-shift modulation (native/kernels/scale_shift.cu): y = dropout(act(x (1 + ss[n,c]) + ss[n,C+c])),
/// ss [N, 2C]. The backward runs one group per (sample, channel) row, grid-stride over rows: dx = g (1 + scale),
/// dss[n,c] = sum g x, dss[n,C+c] = sum g, with g = dy through dropout and act'. Masks regenerated from (seed, index).
/// </summary>
internal static class ScaleShiftKernels
{
    public static void Forward(ArrayView<float> x, ArrayView<float> ss, ArrayView<float> y, ScaleShiftArgs a)
    {
        long total = (long)a.Samples * a.Channels * a.Hw;
        for (long i = GlobalIndex; i < total; i += GridStride)
        {
            int row = (int)(i / a.Hw), n = row / a.Channels, c = row - n * a.Channels;
            long s = (long)n * 2 * a.Channels;
            float z = x[i] * (1f + ss[s + c]) + ss[s + a.Channels + c];
            if (a.Silu != 0) z *= Sigmoid(z);
            if (a.Drop != 0) z = DropoutKeep(a.Seed, i, a.Threshold) ? z * a.DropScale : 0f;
            y[i] = z;
        }
    }

    public static void Backward(ArrayView<float> x, ArrayView<float> ss, ArrayView<float> dy, ArrayView<float> dx,
        ArrayView<float> dss, ScaleShiftArgs a)
    {
        var red = SharedMemory.GetDynamic<double>();
        for (int row = Grid.IdxX; row < a.Samples * a.Channels; row += Grid.DimX)
        {
            int n = row / a.Channels, c = row - n * a.Channels;
            long s = (long)n * 2 * a.Channels, off = (long)row * a.Hw;
            float scale = 1f + ss[s + c], shift = ss[s + a.Channels + c];
            double sg = 0, sgx = 0;
            for (int j = Group.IdxX; j < a.Hw; j += Group.DimX)
            {
                float g = dy[off + j];
                if (a.Drop != 0) g = DropoutKeep(a.Seed, off + j, a.Threshold) ? g * a.DropScale : 0f;
                if (a.Silu != 0)
                {
                    float z = x[off + j] * scale + shift, sig = Sigmoid(z);
                    g *= sig * (z * (1f - sig) + 1f);
                }
                dx[off + j] = g * scale;
                sg += g;
                sgx += (double)g * x[off + j];
            }
            var (tg, tgx) = GroupSum2(sg, sgx, red);
            if (Group.IdxX == 0)
            {
                dss[s + c] = (float)tgx;
                dss[s + a.Channels + c] = (float)tg;
            }
        }
    }
}
