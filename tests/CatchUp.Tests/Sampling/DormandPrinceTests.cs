using CatchUp.Sampling;
using Xunit;
using Xunit.Abstractions;
using static CatchUp.Tests.Sampling.SolverHarness;

namespace CatchUp.Tests.Sampling;

public class DormandPrinceTests(ITestOutputHelper output)
{
    private (double Error, int Nfe, DormandPrinceSolver Solver) Solve(AnalyticField field, double tolerance, double endTime = 1e-3)
    {
        var solver = new DormandPrinceSolver(new SolverSettings { RelativeTolerance = tolerance, AbsoluteTolerance = tolerance, EndTime = endTime });
        var (error, nfe, calls) = Run(solver, field);
        Assert.Equal(calls, nfe);
        Assert.Equal(2 + 6 * (solver.AcceptedSteps + solver.RejectedSteps), nfe);
        output.WriteLine($"tol {tolerance:E0} end {endTime}: error {error:E3}, NFE {nfe}, accepted {solver.AcceptedSteps}, rejected {solver.RejectedSteps}");
        return (error, nfe, solver);
    }

    public static IEnumerable<object[]> Fields() => [["exp"], ["gauss"], ["sin"]];

    private static AnalyticField Field(string name) => name switch
    {
        "exp" => AnalyticField.Exponential(Cpu, 1.3),
        "gauss" => AnalyticField.Gaussian(Cpu, 2.0),
        _ => AnalyticField.Nonlinear(Cpu),
    };

    [Theory]
    [MemberData(nameof(Fields))]
    public void MeetsItsToleranceAndSpendsFewerEvaluationsWhenLooser(string name)
    {
        var field = Field(name);
        var (tight, tightNfe, _) = Solve(field, 1e-6, endTime: 0);
        var (standard, standardNfe, _) = Solve(field, 1e-5, endTime: 0);
        var (loose, looseNfe, _) = Solve(field, 1e-3, endTime: 0);
        // Global error of a tolerance-controlled solve: a small multiple of the tolerance times the solution's scale (<= 5 here).
        Assert.True(tight < 5 * 5e-6, $"tol 1e-6: error {tight:E2}");
        Assert.True(standard < 5 * 5e-5, $"tol 1e-5: error {standard:E2}");
        Assert.True(loose < 5 * 5e-3, $"tol 1e-3: error {loose:E2}");
        Assert.True(tight < loose);
        Assert.True(looseNfe < standardNfe && standardNfe < tightNfe, $"NFE {looseNfe}, {standardNfe}, {tightNfe}");
    }

    [Theory]
    [MemberData(nameof(Fields))]
    public void StopsAtTheEndTimeThenTakesOneFreeEulerStepToZero(string name)
    {
        var field = Field(name);
        var recorder = new TrajectoryRecorder();
        var solver = new DormandPrinceSolver(SolverSettings.Default);
        var (error, nfe, _) = Run(solver, field, recorder);
        Assert.Equal(2 + 6 * (solver.AcceptedSteps + solver.RejectedSteps), nfe);
        Assert.Equal(solver.AcceptedSteps + 1, recorder.Steps);
        Assert.Equal(1.0, recorder.Times[0]);
        Assert.Equal(1e-3, recorder.Times[^2]);
        Assert.Equal(0.0, recorder.Times[^1]);
        Assert.True(error < 1e-4, $"error {error:E2}");
    }

    [Fact]
    public void ANonFiniteFieldIsAnErrorNotAHang()
    {
        var field = new AnalyticField(Cpu, (z, t) => t < 0.5 ? double.NaN : z, z => z);
        var solver = new DormandPrinceSolver(SolverSettings.Default);
        var e = Assert.Throws<InvalidOperationException>(() => Run(solver, field));
        Assert.Contains("rk45", e.Message);
    }
}
