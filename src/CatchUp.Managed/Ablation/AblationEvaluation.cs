using CatchUp.Backends;
using CatchUp.Evaluation;

namespace CatchUp.Ablation;

/// <summary>
/// The ablation's evaluation phase: every trained method (and each of its sampled heads) on the
/// <see cref="AblationPlan.Points"/> grid, through the same <see cref="EvalGrid"/> as <c>catchup eval --run</c> (so its
/// points are stored in OUT/&lt;method&gt;/eval/points and a re-run skips them), plus a 4-step Euler grid per model in OUT.
/// </summary>
public static class AblationEvaluation
{
    public static readonly SolverPoint GridPoint = new("euler", 4);

    /// <summary>One grid target per (method, head): the method's run, named as in the results.</summary>
    public static List<GridTarget> Targets(string outDir, IReadOnlyList<AblationMethod> plan) =>
        plan.SelectMany(m => m.Heads.Select(h => new GridTarget(AblationPlan.RowName(m.Name, h), Path.Combine(outDir, m.Name), h))).ToList();

    public static List<EvalRow> Evaluate(string outDir, IReadOnlyList<AblationMethod> plan, IBackend backend, SampleEvaluator evaluator,
        int count, int batch, ulong seed, TextWriter log)
    {
        var targets = Targets(outDir, plan);
        var rows = EvalGrid.Evaluate(targets, AblationPlan.Points, new EvalGridOptions(count, batch, seed), backend, evaluator, log);
        foreach (var t in targets)
            File.Copy(EvalGrid.PointPath(t, GridPoint, "png"), Path.Combine(outDir, $"grid_{t.Name}_euler4.png"), overwrite: true);
        return rows;
    }
}
