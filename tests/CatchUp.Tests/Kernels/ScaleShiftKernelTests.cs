using CatchUp.Backends;
using CatchUp.Backends.Cpu;
using CatchUp.Nn;
using CatchUp.Tensors;
using Xunit;
using static CatchUp.Tests.Kernels.GradCheck;

namespace CatchUp.Tests.Kernels;

/// <summary>IBackend.ScaleShiftForward/Backward (the ADM ResBlock's modulation) against a plain double loop and
/// finite differences, with SiLU and dropout on and off, H*W both a multiple of 16 and not.</summary>
public sealed class ScaleShiftKernelTests
{
    public static TheoryData<int, int, int, bool, float> Cases => new()
    {
        // n, c, hw, silu, dropout
        { 2, 3, 25, true, 0.3f },
        { 3, 5, 16, false, 0f },
        { 1, 4, 37, true, 0f },
        { 2, 2, 64, false, 0.5f },
    };

    [Theory, MemberData(nameof(Cases))]
    public void ForwardMatchesThePlainDefinition(int n, int c, int hw, bool silu, float p)
    {
        using var b = new CpuBackend(2);
        var x = Random(n * c * hw, 1, -2f, 2f);
        var ss = Random(n * 2 * c, 2);
        var dropout = new DropoutSpec(p, 99);
        using var tx = b.FromArray(x, n, c, hw);
        using var tss = b.FromArray(ss, n, 2 * c);
        using var y = b.Allocate([n, c, hw]);
        b.ScaleShiftForward(tx, tss, silu, dropout, y);
        var got = y.ToArray();
        for (int i = 0; i < x.Length; i++)
        {
            int row = i / hw, s = row / c, ch = row % c;
            double z = x[i] * (1.0 + ss[s * 2 * c + ch]) + ss[s * 2 * c + c + ch];
            if (silu) z /= 1 + Math.Exp(-z);
            if (p > 0) z = CounterRng.Uniform(dropout.Seed, (ulong)i) >= p ? z / (1 - p) : 0;
            Assert.True(Math.Abs(got[i] - z) <= 1e-5 * (1 + Math.Abs(z)), $"y[{i}]: expected {z}, got {got[i]}");
        }
    }

    [Theory, MemberData(nameof(Cases))]
    public void BackwardMatchesFiniteDifferences(int n, int c, int hw, bool silu, float p)
    {
        using var b = new CpuBackend(2);
        var x = Random(n * c * hw, 3, -2f, 2f);
        var ss = Random(n * 2 * c, 4);
        var r = Random(n * c * hw, 5);
        var dropout = new DropoutSpec(p, 7);
        using var tx = b.FromArray(x, n, c, hw);
        using var tss = b.FromArray(ss, n, 2 * c);
        using var y = b.Allocate([n, c, hw]);
        using var dy = b.FromArray(r, n, c, hw);
        using var dx = b.Allocate([n, c, hw]);
        using var dss = b.FromArray(Random(n * 2 * c, 6), n, 2 * c); // overwritten, not accumulated
        b.ScaleShiftBackward(tx, tss, silu, dropout, dy, dx, dss);
        double Loss()
        {
            b.Upload(x, tx);
            b.Upload(ss, tss);
            b.ScaleShiftForward(tx, tss, silu, dropout, y);
            return Project(y.ToArray(), r);
        }
        Verify(Loss, [new Input("x", x, dx.ToArray()), new Input("scaleShift", ss, dss.ToArray())], samples: 12, step: 1e-3f);
    }
}
