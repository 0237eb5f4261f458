using CatchUp.Evaluation;
using CatchUp.Models;
using CatchUp.Objectives;
using CatchUp.Training;

namespace CatchUp.Ablation;

/// <summary>One trained method of an ablation and the heads it is sampled with (1 = the main output).</summary>
public sealed record AblationMethod(string Name, TrainingOptions Options, int[] Heads);

/// <summary>
/// The CPU-scale version of the paper's comparison (Table 1 / Fig. 5): RF, Curvature and CUD RK12/23/34, plus one
/// design-space ablation (the EMA model as the catch-up teacher), trained with the same network, data, seed and
/// iteration budget, then evaluated at Euler 1, 2, 4, 8, 16 and Heun 3, 7.
/// </summary>
public static class AblationPlan
{
    public static readonly string[] AllMethods = ["rf", "curvature", "cud-rk12", "cud-rk23", "cud-rk34", "cud-rk12-ema-teacher"];

    public static readonly SolverPoint[] Points =
        [new("euler", 1), new("euler", 2), new("euler", 4), new("euler", 8), new("euler", 16), new("heun", 3), new("heun", 7)];

    /// <summary>The quick preset's decoder, and an encoder of the same size (the paper's encoder would cost 4x the
    /// decoder here); everything but the objective is shared.</summary>
    public static TrainingOptions Base(long iterations, int batch, ulong seed, int threads) => TrainingOptions.Quick with
    {
        EncoderModel = new SongUNetConfig
        {
            ImgResolution = 28, InChannels = 1, OutChannels = 2, ModelChannels = 16, ChannelMult = [1, 2, 2],
            NumBlocks = 1, AttnResolutions = [], Dropout = 0.0, PriorShakedrop = false, Phi = 0.75,
        },
        Iterations = iterations, Batch = batch, Seed = seed, Threads = threads,
        CheckpointEvery = Math.Max(1, iterations / 4), SampleEvery = iterations, LogEvery = 10,
    };

    public static AblationMethod Method(string name, TrainingOptions b)
    {
        var cud = new ObjectiveOptions { Kind = ObjectiveKind.Cud, Encoder = true };
        return name switch
        {
            "rf" => new(name, b with { Objective = new ObjectiveOptions { Kind = ObjectiveKind.Rf } }, [1]),
            "curvature" => new(name, b with { Objective = new ObjectiveOptions { Kind = ObjectiveKind.Curvature } }, [1]),
            "cud-rk12" => new(name, b with { Objective = cud with { Order = 1 } }, [1]),
            "cud-rk23" => new(name, b with { Objective = cud with { Order = 2 } }, [1, 2]),
            "cud-rk34" => new(name, b with { Objective = cud with { Order = 3 } }, [1, 3]),
            "cud-rk12-ema-teacher" => new(name, b with { Objective = cud with { Order = 1, Teacher = TeacherKind.Ema } }, [1]),
            _ => throw new ArgumentException($"unknown ablation method '{name}' (known: {string.Join(", ", AllMethods)})"),
        };
    }

    /// <summary>The name a (method, head) pair has in the results: the method, with "-head{j}" for an extra head.</summary>
    public static string RowName(string method, int head) => head == 1 ? method : $"{method}-head{head}";
}
