using CatchUp.Sampling;

namespace CatchUp.Evaluation;

/// <summary>A (solver, NFE) point at which a model is sampled and scored.</summary>
public readonly record struct SolverPoint(string Solver, int Nfe)
{
    /// <summary>The point's file name stem in an evaluation folder, e.g. <c>euler-nfe4</c>.</summary>
    public string FileStem => $"{Solver}-nfe{Nfe}";

    public override string ToString() => $"{Solver} {Nfe}";

    /// <summary>
    /// Every solver at every NFE, in the order given (NFEs ascending, duplicates dropped). Heun takes an odd NFE (its
    /// last step is Euler): at an even budget K it runs at K - 1, the largest odd NFE within it, and
    /// <paramref name="note"/> says so. Only fixed-step solvers make a grid (rk45 picks its own NFE); an unknown
    /// solver or an NFE below 1 is an <see cref="ArgumentException"/> with a message for the user.
    /// </summary>
    public static List<SolverPoint> Grid(IReadOnlyList<string> solvers, IReadOnlyList<int> nfes, Action<string>? note = null)
    {
        if (solvers.Count == 0) throw new ArgumentException("give at least one solver");
        if (nfes.Count == 0) throw new ArgumentException("give at least one NFE");
        var points = new List<SolverPoint>();
        foreach (string solver in solvers.Distinct())
        {
            if (solver == "rk45")
                throw new ArgumentException($"rk45 picks its own NFE, so it has no place on an NFE grid; choose among {string.Join(", ", Solvers.Names.Where(n => n != "rk45"))}");
            var mapped = new List<string>();
            foreach (int k in nfes.Order().Distinct())
            {
                int nfe = solver == "heun" && k % 2 == 0 ? k - 1 : k;
                if (nfe != k) mapped.Add($"{k} -> {nfe}");
                Solvers.Create(solver, nfe).Dispose(); // validates the name and the NFE
                var point = new SolverPoint(solver, nfe);
                if (!points.Contains(point)) points.Add(point);
            }
            if (mapped.Count > 0) note?.Invoke($"{solver} needs an odd NFE (its last step is Euler): NFE {string.Join(", ", mapped)}");
        }
        return points;
    }
}
