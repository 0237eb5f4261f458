using CatchUp.Backends.Cpu;
using CatchUp.Tensors;
using Xunit;

namespace CatchUp.Tests.Kernels;

/// <summary>The multi-tensor sum of squares behind the trainer's gradient check.</summary>
public sealed class SumSquaresTests : IDisposable
{
    private readonly CpuBackend _be = new(2);

    public void Dispose() => _be.Dispose();

    [Fact]
    public void SumsEveryTensorInDouble()
    {
        using var a = _be.FromArray([1f, 2f, 3f], 3);
        using var b = _be.FromArray([0.5f, -4f], 2);
        using var c = _be.FromArray([MathF.ScaleB(1f, 66)], 1);   // 2^66: its square overflows float, not double
        Assert.Equal(1 + 4 + 9 + 0.25 + 16, _be.SumSquares([a, b]));
        Assert.Equal(30.25 + Math.ScaleB(1, 132), _be.SumSquares([a, b, c]));
        Assert.Equal(0, _be.SumSquares(Array.Empty<Tensor>()));
    }

    [Fact]
    public void NonFiniteValuesPropagate()
    {
        using var a = _be.FromArray([1f, 2f], 2);
        using var nan = _be.FromArray([0f, float.NaN], 2);
        using var inf = _be.FromArray([float.NegativeInfinity], 1);
        Assert.True(double.IsNaN(_be.SumSquares([a, nan])));
        Assert.True(double.IsPositiveInfinity(_be.SumSquares([inf, a])));
    }
}
