namespace CatchUp.Nn;

/// <summary>
/// How a forward pass runs. <see cref="SaveForBackward"/> keeps what the backward needs (training step with gradient);
/// without it the pass is inference-only. <see cref="Dropout"/> turns dropout on (training mode, also used by the
/// no-gradient catch-up passes); <see cref="Seed"/> picks the dropout masks of this pass.
/// </summary>
public readonly record struct ForwardMode(bool SaveForBackward, bool Dropout, ulong Seed)
{
    public static ForwardMode Inference => new(false, false, 0);
    public static ForwardMode Train(ulong seed) => new(true, true, seed);
    public static ForwardMode NoGradWithDropout(ulong seed) => new(false, true, seed);
}
