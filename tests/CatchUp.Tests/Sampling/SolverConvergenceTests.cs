using CatchUp.Sampling;
using Xunit;
using Xunit.Abstractions;
using static CatchUp.Tests.Sampling.SolverHarness;

namespace CatchUp.Tests.Sampling;

public class SolverConvergenceTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Fields() => [["exp"], ["gauss"], ["sin"]];
    /// <summary>Fields with z''(1) != 0, where an uncorrected Euler warm-up step leaves an O(h^2) global error.
    /// (For dz/dt = -t z, z'' = (t^2 - 1) z vanishes at t = 1.)</summary>
    public static IEnumerable<object[]> CurvedAtStart() => [["exp"], ["sin"]];

    private static AnalyticField Field(string name) => name switch
    {
        "exp" => AnalyticField.Exponential(Cpu, 1.3),
        "gauss" => AnalyticField.Gaussian(Cpu, 1.0),
        _ => AnalyticField.Nonlinear(Cpu),
    };

    /// <summary>Errors at NFE n and 2n (heun: 2n-1 and 4n-1, the same step halving) and the observed order log2(e(n)/e(2n)).</summary>
    private (double Coarse, double Fine, double Order) Measure(string solver, string field, int n)
    {
        int coarseNfe = solver == "heun" ? 2 * n - 1 : n, fineNfe = solver == "heun" ? 4 * n - 1 : 2 * n;
        var f = Field(field);
        using var coarse = Solvers.Create(solver, coarseNfe);
        using var fine = Solvers.Create(solver, fineNfe);
        var (e1, nfe1, calls1) = Run(coarse, f);
        var (e2, nfe2, calls2) = Run(fine, f);
        Assert.Equal((coarseNfe, coarseNfe), (nfe1, calls1));
        Assert.Equal((fineNfe, fineNfe), (nfe2, calls2));
        double order = Math.Log2(e1 / e2);
        output.WriteLine($"{solver} on {field}: steps {n} -> {2 * n}: error {e1:E3} -> {e2:E3}, observed order {order:F2}");
        return (e1, e2, order);
    }

    [Theory]
    [MemberData(nameof(Fields))]
    public void EulerIsFirstOrder(string field)
    {
        var (_, fine, order) = Measure("euler", field, 32);
        Assert.InRange(order, 0.9, 1.1);
        Assert.True(fine < 0.1);
    }

    [Theory]
    [MemberData(nameof(Fields))]
    public void HeunIsSecondOrder(string field)
    {
        var (_, _, order) = Measure("heun", field, 16);
        Assert.InRange(order, 1.8, 2.2);
    }

    [Theory]
    [MemberData(nameof(Fields))]
    public void Dpm2IsSecondOrder(string field)
    {
        var (_, _, order) = Measure("dpm2", field, 32);
        Assert.InRange(order, 1.8, 2.2);
    }

    [Theory]
    [MemberData(nameof(Fields))]
    public void Dpm3IsThirdOrder(string field)
    {
        var (_, _, order) = Measure("dpm3", field, 16);
        Assert.InRange(order, 2.75, 3.3);
    }

    [Theory]
    [MemberData(nameof(CurvedAtStart))]
    public void Deis2IsSecondOrderAsItsEulerWarmUpLimitsIt(string field)
    {
        var (_, _, order) = Measure("deis2", field, 32);
        Assert.InRange(order, 1.8, 2.3);
    }

    [Fact]
    public void Deis2IsThirdOrderWhereTheWarmUpIsExactToSecondOrder()
    {
        var (_, _, order) = Measure("deis2", "gauss", 16);
        Assert.InRange(order, 2.75, 3.3);
    }

    [Theory]
    [MemberData(nameof(CurvedAtStart))]
    public void Dpm3CorrectedWarmUpBeatsDeis2AtTheSameNfe(string field)
    {
        var (dpm3, _, _) = Measure("dpm3", field, 16);
        var (deis2, _, _) = Measure("deis2", field, 16);
        Assert.True(dpm3 < deis2 / 4, $"dpm3 {dpm3:E2} vs deis2 {deis2:E2}");
    }

    [Fact]
    public void OnAFieldLinearInTimeHeunErrsOnlyInItsFinalEulerStep()
    {
        // dz/dt = c + d t: every Euler step of size h errs by d h^2 / 2; the trapezoid steps are exact.
        var f = AnalyticField.LinearInTime(Cpu, 0.5, 2.0);
        using var heun = Solvers.Create("heun", 5);            // M = 3 steps, the last one Euler: error d / (2 M^2)
        using var euler = Solvers.Create("euler", 4);          // N Euler steps: error d / (2 N)
        Assert.Equal(2.0 / 18, Run(heun, f).Error, 1e-5);
        Assert.Equal(2.0 / 8, Run(euler, f).Error, 1e-5);
    }
}
