using CatchUp.Sampling;
using Xunit;
using static CatchUp.Tests.Sampling.SolverHarness;

namespace CatchUp.Tests.Sampling;

/// <summary>The fixed-step solvers against SPEC section 7's formulas, written out literally here in double precision.</summary>
public class SpecFormulaTests
{
    private static double F(double z, double t) => Math.Sin(z) + t * z;

    private static double Euler(double z, int n)
    {
        for (int i = n; i >= 1; i--) z -= F(z, (double)i / n) / n;
        return z;
    }

    private static double Heun(double z, int nfe)
    {
        int m = (nfe + 1) / 2;
        for (int i = m; i >= 1; i--)
        {
            double v = F(z, (double)i / m);
            if (i > 1) v = (v + F(z - v / m, (double)(i - 1) / m)) / 2;
            z -= v / m;
        }
        return z;
    }

    private static double Dpm2(double z, int n)
    {
        double previous = F(z, 1);
        z -= previous / n;                                     // first step Euler from t = 1
        for (int i = n - 1; i >= 1; i--)
        {
            double v = F(z, (double)i / n);
            double d = (v - previous) * n;
            z = z - v / n - d / (2.0 * n * n);
            previous = v;
        }
        return z;
    }

    [Theory]
    [InlineData("euler", 7)]
    [InlineData("heun", 1)]
    [InlineData("heun", 9)]
    [InlineData("dpm2", 1)]
    [InlineData("dpm2", 2)]
    [InlineData("dpm2", 7)]
    public void SolverFollowsTheSpecFormula(string solver, int nfe)
    {
        var field = new AnalyticField(Cpu, F, z1 => solver switch
        {
            "euler" => Euler(z1, nfe),
            "heun" => Heun(z1, nfe),
            _ => Dpm2(z1, nfe),
        });
        using var s = Solvers.Create(solver, nfe);
        var (difference, used, calls) = Run(s, field);
        Assert.True(difference < 2e-6, $"{solver} differs from the SPEC formula by {difference:E2}");
        Assert.Equal((nfe, nfe), (used, calls));
    }
}
