using CatchUp.Nn;

namespace CatchUp.Objectives;

/// <summary>
/// Every random draw of training iteration i comes from the counter RNG keyed by (run seed, i, purpose), so a run
/// is reproducible from its seed and a resumed run draws exactly what the uninterrupted run would have drawn.
/// </summary>
public readonly struct StepRandomness(ulong runSeed, long iteration)
{
    public ulong Stream(string purpose) => CounterRng.Hash(CounterRng.Hash(runSeed, (ulong)iteration), CounterRng.StableHash(purpose));

    public float Uniform(string purpose, int index) => CounterRng.Uniform(Stream(purpose), (ulong)index);

    /// <summary>Fills <paramref name="destination"/> with standard normals (Box-Muller on counter uniforms).</summary>
    public void Normal(string purpose, Span<float> destination) => FillNormal(Stream(purpose), destination);

    public ulong DropoutSeed(string pass) => CounterRng.Hash(Stream("dropout"), CounterRng.StableHash(pass));

    public static void FillNormal(ulong stream, Span<float> destination)
    {
        for (int i = 0; i < destination.Length; i += 2)
        {
            double u1 = 1.0 - CounterRng.Uniform(stream, (ulong)i);       // (0, 1]
            double u2 = CounterRng.Uniform(stream, (ulong)i + 1);
            double r = Math.Sqrt(-2.0 * Math.Log(u1)), a = 2 * Math.PI * u2;
            destination[i] = (float)(r * Math.Cos(a));
            if (i + 1 < destination.Length) destination[i + 1] = (float)(r * Math.Sin(a));
        }
    }
}
