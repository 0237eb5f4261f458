namespace CatchUp.Objectives;

/// <summary>Cd and Pd are baselines distilled from a frozen pre-trained model (SPEC section 4).</summary>
public enum ObjectiveKind { Rf, Curvature, Cud, Cd, Pd }
public enum StepSizeStrategy { Uniform, Rule, Fixed }
public enum TeacherKind { Train, Ema }

/// <summary>What the loss is (SPEC sections 1-4). Defaults are the paper's.</summary>
public sealed record ObjectiveOptions
{
    public ObjectiveKind Kind { get; init; } = ObjectiveKind.Cud;
    /// <summary>CUD order k: 1 = RK12, 2 = RK23, 3 = RK34.</summary>
    public int Order { get; init; } = 1;
    public StepSizeStrategy StepSize { get; init; } = StepSizeStrategy.Uniform;
    public TeacherKind Teacher { get; init; } = TeacherKind.Train;
    /// <summary>Learned noise coupling (reparameterized encoder + KL). Always on for Curvature.</summary>
    public bool Encoder { get; init; }
    public float WeightPrior { get; init; } = 20f;
    /// <summary>Weight of the catch-up (teacher) term, w_T, for RK12.</summary>
    public float WeightTeacher { get; init; } = 1f;
    /// <summary>Weight of the ground-truth velocity term, w_gt, for RK12.</summary>
    public float WeightGroundTruth { get; init; } = 1f;
    /// <summary>The "dynamic weight" ablation: w_T = 2i/I, w_gt = 2(1 - i/I). The paper reports it does not work.</summary>
    public bool DynamicWeight { get; init; }
    /// <summary>Discrete-time ablation: t on the grid {1..TN}/TN and dt = 1/TN.</summary>
    public bool DiscreteTime { get; init; }
    public int CatchUpSteps { get; init; } = 16;
    public float TimeEpsilon { get; init; } = 1e-5f;

    public bool UsesEncoder => Kind == ObjectiveKind.Curvature || (Encoder && Kind != ObjectiveKind.Cd && Kind != ObjectiveKind.Pd);
    public bool NeedsPretrained => Kind is ObjectiveKind.Cd or ObjectiveKind.Pd;
    public int ExtraHeads => Kind == ObjectiveKind.Cud ? Order - 1 : 0;

    public string Describe() => Kind switch
    {
        ObjectiveKind.Rf => "rf",
        ObjectiveKind.Curvature => "curvature",
        ObjectiveKind.Cd => "cd",
        ObjectiveKind.Pd => "pd",
        _ => $"cud-rk{Order}{Order + 1}" + (UsesEncoder ? "+encoder" : ""),
    };
}
