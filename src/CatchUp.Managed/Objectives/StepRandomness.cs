using CatchUp.Nn;

namespace CatchUp.Objectives;

/// <summary>
/// Every random draw of training iteration i comes from the counter RNG keyed by (run seed, i, purpose), so a run
/// is reproducible from its seed and a resumed run draws exactly what the uninterrupted run would have drawn.
/// </summary>
public readonly struct StepRandomness(ulong runSeed, long iteration)
{
    public ulong Stream(string purpose) => CounterRng.Hash(CounterRng.Hash(runSeed, (ulong)iteration), CounterRng.StableHash(purpose));

    public float Uniform(string purpose, long index) => CounterRng.Uniform(Stream(purpose), (ulong)index);

    /// <summary>Fills <paramref name="destination"/> with elements <paramref name="offset"/>.. of the purpose's standard normals.</summary>
    public void Normal(string purpose, Span<float> destination, long offset = 0) => FillNormal(Stream(purpose), destination, offset);

    public ulong DropoutSeed(string pass) => CounterRng.Hash(Stream("dropout"), CounterRng.StableHash(pass));

    /// <summary>Standard normals (Box-Muller on the counter uniforms 2k, 2k+1), elements <paramref name="offset"/>.. of the
    /// stream: any slice of the sequence can be drawn on its own (a data-parallel rank draws its samples' part).</summary>
    public static void FillNormal(ulong stream, Span<float> destination, long offset = 0)
    {
        long end = offset + destination.Length;
        for (long g = offset & ~1L; g < end; g += 2)
        {
            double u1 = 1.0 - CounterRng.Uniform(stream, (ulong)g);       // (0, 1]
            double u2 = CounterRng.Uniform(stream, (ulong)g + 1);
            double r = Math.Sqrt(-2.0 * Math.Log(u1)), a = 2 * Math.PI * u2;
            if (g >= offset) destination[(int)(g - offset)] = (float)(r * Math.Cos(a));
            if (g + 1 < end) destination[(int)(g + 1 - offset)] = (float)(r * Math.Sin(a));
        }
    }
}
