using ILGPU;

namespace CatchUp.Backends.Ilgpu.Kernels;

// The implicit-GEMM views of a stride-1, padding k/2 convolution (x [N,Cin,H,W], w [Cout,Cin,k,k]):
//   forward         y[n] (Cout x HW) = W (Cout x Cin k k) * ConvPatches(x[n]) (Cin k k x HW);
//   backward data   dx[n] (Cin x HW) = FilterByInput(w) (Cin x Cout k k) * ConvPatches(dy[n], flipped) (Cout k k x HW);
//   backward filter dW (Cout x Cin k k) += ChannelRows(dy) (Cout x N HW) * PatchRows(x) (N HW x Cin k k).
// Out-of-image taps read as zero; nothing is materialized.

/// <summary>Im2col of sample <c>batch</c> of an image [N, C, H, W]: row (c, ky, kx), column pixel p = py W + px, value
/// image[n, c, py + Sign (ky - pad), px + Sign (kx - pad)]. Sign = -1 flips the filter taps (the data gradient).</summary>
internal readonly record struct ConvPatches(ArrayView<float> Image, int Channels, int Height, int Width, int Kernel, int Sign)
    : IMatrixOperand
{
    public float Load(int batch, int row, int col)
    {
        int kk = Kernel * Kernel, c = row / kk, tap = row - c * kk, ky = tap / Kernel, kx = tap - ky * Kernel, pad = Kernel / 2;
        int py = col / Width, px = col - py * Width;
        int iy = py + Sign * (ky - pad), ix = px + Sign * (kx - pad);
        if (iy < 0 || iy >= Height || ix < 0 || ix >= Width) return 0f;
        return Image[(((long)batch * Channels + c) * Height + iy) * Width + ix];
    }
}

/// <summary>w [Cout, Cin, k, k] read as a Cin x (Cout k k) matrix: row ci, column (co, tap).</summary>
internal readonly record struct FilterByInput(ArrayView<float> Weights, int InChannels, int Taps) : IMatrixOperand
{
    public float Load(int batch, int row, int col)
    {
        int co = col / Taps, tap = col - co * Taps;
        return Weights[((long)co * InChannels + row) * Taps + tap];
    }
}

/// <summary>An image [N, C, HW] read as a C x (N HW) matrix: row c, column (n, p).</summary>
internal readonly record struct ChannelRows(ArrayView<float> Image, int Channels, int Pixels) : IMatrixOperand
{
    public float Load(int batch, int row, int col)
    {
        int n = col / Pixels, p = col - n * Pixels;
        return Image[((long)n * Channels + row) * Pixels + p];
    }
}

/// <summary>Im2col of all samples, transposed: row (n, p), column (c, ky, kx); the filter gradient's right factor.</summary>
internal readonly record struct PatchRows(ArrayView<float> Image, int Channels, int Height, int Width, int Kernel) : IMatrixOperand
{
    public float Load(int batch, int row, int col)
    {
        int pixels = Height * Width, n = row / pixels, p = row - n * pixels;
        return new ConvPatches(Image, Channels, Height, Width, Kernel, 1).Load(n, col, p);
    }
}
