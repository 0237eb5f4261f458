using CatchUp.Tensors;

namespace CatchUp.Backends.Cpu;

/// <summary>Random operands of one 3x3 convolution shape for timing (auto-tuning and <c>bench conv</c>): input, weight,
/// bias, output and the three gradients, values uniform in [-1, 1).</summary>
internal sealed class ConvWorkspace : IDisposable
{
    public ConvWorkspace(CpuBackend be, ConvShape s, int batch, Random rng)
    {
        Tensor T(params int[] shape)
        {
            var t = be.Allocate(shape);
            var span = t.Span;
            for (int i = 0; i < span.Length; i++) span[i] = (float)(rng.NextDouble() * 2 - 1);
            return t;
        }
        X = T(batch, s.Cin, s.H, s.W); W = T(s.Cout, s.Cin, 3, 3); B = T(s.Cout); Y = T(batch, s.Cout, s.H, s.W);
        Dy = T(batch, s.Cout, s.H, s.W); Dx = T(batch, s.Cin, s.H, s.W); Dw = T(s.Cout, s.Cin, 3, 3); Db = T(s.Cout);
    }

    public Tensor X { get; }
    public Tensor W { get; }
    public Tensor B { get; }
    public Tensor Y { get; }
    public Tensor Dy { get; }
    public Tensor Dx { get; }
    public Tensor Dw { get; }
    public Tensor Db { get; }

    public void Dispose()
    {
        foreach (var t in new[] { X, W, B, Y, Dy, Dx, Dw, Db }) t.Dispose();
    }
}
