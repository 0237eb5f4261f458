namespace CatchUp.Nn;

/// <summary>Counter-based RNG (stateless hash of seed and index): the same (seed, index) always gives the same number,
/// so dropout masks are regenerated in the backward pass instead of stored, and any thread may draw any element.</summary>
public static class CounterRng
{
    /// <summary>64-bit mix (SplitMix64 finalizer) of seed and counter.</summary>
    public static ulong Hash(ulong seed, ulong index)
    {
        ulong z = seed + 0x9E3779B97F4A7C15UL * (index + 1);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The stream whose element i is element <paramref name="count"/> + i of <paramref name="seed"/>'s:
    /// Hash(Skip(s, k), i) == Hash(s, k + i), since the counter enters Hash only as seed + golden * (index + 1).</summary>
    public static ulong Skip(ulong seed, long count) => seed + 0x9E3779B97F4A7C15UL * (ulong)count;

    /// <summary>FNV-1a of a string: stable across processes (string.GetHashCode is randomized per process).</summary>
    public static ulong StableHash(string s)
    {
        ulong h = 14695981039346656037UL;
        foreach (char c in s) h = (h ^ c) * 1099511628211UL;
        return h;
    }

    /// <summary>Uniform in [0, 1) with 24 bits of resolution.</summary>
    public static float Uniform(ulong seed, ulong index) => (Hash(seed, index) >> 40) * (1f / (1 << 24));
}
