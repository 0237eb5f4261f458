using CatchUp.Sampling;
using Xunit;
using static CatchUp.Tests.Sampling.SolverHarness;

namespace CatchUp.Tests.Sampling;

public class StraightnessTests
{
    private static double StraightnessOf(AnalyticField field, OdeSolver solver)
    {
        var recorder = new TrajectoryRecorder();
        Run(solver, field, recorder);
        return TrajectoryStraightness.Compute(recorder.Z, recorder.Times);
    }

    [Theory]
    [InlineData("euler", 8)]
    [InlineData("heun", 5)]
    [InlineData("dpm3", 6)]
    [InlineData("rk45", 0)]
    public void AStraightLineFieldHasStraightnessZero(string solver, int nfe)
    {
        // dz/dt = c: every path is the straight line z(t) = z(1) + c (t - 1), at constant speed.
        var field = new AnalyticField(Cpu, (_, _) => 0.7, z1 => z1 - 0.7);
        using var s = Solvers.Create(solver, nfe);
        Assert.Equal(0.0, StraightnessOf(field, s), 1e-9);
    }

    [Fact]
    public void AFieldLinearInTimeHasTheVarianceOfItsStepVelocities()
    {
        // dz/dt = c + d t with Euler steps at t_i = i/N: each step's velocity is c + d t_i and z_first - z_last is their
        // mean, so the straightness is d^2 Var(t_i) = d^2 (N^2 - 1) / (12 N^2).
        var field = AnalyticField.LinearInTime(Cpu, 0.5, 2.0);
        using var euler = Solvers.Create("euler", 4);
        Assert.Equal(4.0 * 15 / (12 * 16), StraightnessOf(field, euler), 1e-5);
    }

    [Fact]
    public void ACurvedFieldHasPositiveStraightness()
    {
        using var euler = Solvers.Create("euler", 16);
        Assert.True(StraightnessOf(AnalyticField.Gaussian(Cpu, 2.0), euler) > 1e-2);
    }

    [Fact]
    public void TimesMustDecrease()
    {
        float[][] z = [[0f], [1f], [2f]];
        Assert.Throws<ArgumentException>(() => TrajectoryStraightness.Compute(z, [1.0, 1.0, 0.0]));
        Assert.Throws<ArgumentException>(() => TrajectoryStraightness.Compute(z, [1.0, 0.0]));
    }
}
