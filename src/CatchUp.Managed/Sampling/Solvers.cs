namespace CatchUp.Sampling;

/// <summary>The solvers by name, and how "--nfe K" maps to their steps.</summary>
public static class Solvers
{
    public static IReadOnlyList<string> Names { get; } = ["euler", "heun", "dpm2", "dpm3", "deis2", "rk45"];

    /// <summary>euler, dpm2, dpm3, deis2: N = K steps; heun: K odd, (K+1)/2 steps; rk45: adaptive, K ignored.
    /// An unknown name or an impossible NFE is an <see cref="ArgumentException"/> with a message for the user.</summary>
    public static OdeSolver Create(string name, int nfe, SolverSettings? settings = null)
    {
        if (name != "rk45" && nfe < 1) throw new ArgumentException($"--nfe must be at least 1 (got {nfe})");
        return name switch
        {
            "euler" => new EulerSolver(nfe),
            "heun" when nfe % 2 == 0 => throw new ArgumentException($"heun needs an odd NFE (it uses (NFE+1)/2 steps, the last one Euler); got {nfe}"),
            "heun" => new HeunSolver(nfe),
            "dpm2" => new DpmSolver2(nfe),
            "dpm3" => new DpmSolver3(nfe),
            "deis2" => new Deis2Solver(nfe),
            "rk45" => new DormandPrinceSolver(settings ?? SolverSettings.Default),
            _ => throw new ArgumentException($"unknown solver '{name}' (choose one of {string.Join(", ", Names)})"),
        };
    }
}
