namespace CatchUp.Nn;

/// <summary>
/// How a forward pass runs. <see cref="SaveForBackward"/> keeps what the backward needs (training step with gradient);
/// without it the pass is inference-only. <see cref="Dropout"/> turns dropout on (training mode, also used by the
/// no-gradient catch-up passes); <see cref="Seed"/> picks the dropout masks of this pass. <see cref="SampleOffset"/> is
/// the global index of the batch's first sample: masks are keyed by the global element index, so a data-parallel rank
/// draws exactly the masks a single process draws for the same samples.
/// </summary>
public readonly record struct ForwardMode(bool SaveForBackward, bool Dropout, ulong Seed, long SampleOffset = 0)
{
    public static ForwardMode Inference => new(false, false, 0);
    public static ForwardMode Train(ulong seed, long sampleOffset = 0) => new(true, true, seed, sampleOffset);
    public static ForwardMode NoGradWithDropout(ulong seed, long sampleOffset = 0) => new(false, true, seed, sampleOffset);
}
