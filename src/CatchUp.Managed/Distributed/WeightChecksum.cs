using CatchUp.Backends;
using CatchUp.Nn;

namespace CatchUp.Distributed;

/// <summary>
/// A 64-bit FNV-1a hash of the exact bits of a set of parameters. Data-parallel ranks apply identical updates to
/// identical weights, so their checksums must agree; comparing them every so often catches a rank that diverged
/// (a bug, a bit flip, different library versions) before it silently corrupts the run.
/// </summary>
public sealed class WeightChecksum
{
    private float[] _host = [];

    public long Compute(IBackend backend, IEnumerable<Parameter> parameters)
    {
        ulong h = 14695981039346656037UL;
        foreach (var p in parameters)
        {
            if (_host.Length < p.Value.Length) _host = new float[p.Value.Length];
            var host = _host.AsSpan(0, p.Value.Length);
            backend.Download(p.Value, host);
            foreach (uint bits in System.Runtime.InteropServices.MemoryMarshal.Cast<float, uint>(host))
                h = (h ^ bits) * 1099511628211UL;
        }
        return unchecked((long)h);
    }

    /// <summary>Compares the ranks' checksums; every rank gets the same answer. Returns null when they agree.</summary>
    public static string? Compare(ICommunicator comm, long local)
    {
        Span<long> value = [local], min = [0], max = [0];
        comm.AllreduceMinMax(value, min, max);
        return min[0] == max[0] ? null : $"weight checksums differ across the {comm.Size} ranks (min {min[0]:x16}, max {max[0]:x16})";
    }
}
