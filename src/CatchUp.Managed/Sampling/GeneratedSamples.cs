namespace CatchUp.Sampling;

/// <summary>Samples [Count, Channels, Height, Width] in <see cref="X"/> and the mean NFE per sample that produced them.</summary>
public sealed record GeneratedSamples(float[] X, int Count, int Channels, int Height, int Width, double MeanNfe);

/// <summary>The whole batch's trajectory: <see cref="Z"/>[step] and <see cref="X0Hat"/>[step] hold [Count, C, H, W]
/// each (steps + 1 and steps entries), <see cref="Times"/> the steps + 1 times from 1 to 0.</summary>
public sealed record SampledTrajectory(float[][] Z, float[][] X0Hat, double[] Times)
{
    public int Steps => X0Hat.Length;
    public double Straightness => TrajectoryStraightness.Compute(Z, Times);
}
