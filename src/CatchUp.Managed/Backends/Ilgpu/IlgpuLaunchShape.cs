namespace CatchUp.Backends.Ilgpu;

/// <summary>
/// Launch sizes of the ILGPU kernels, chosen at run time: threads per group (a power of two; every reduction is a
/// shared-memory tree over the group), the cap on groups of a grid-stride launch, and the GEMM tile side (groups of
/// Tile^2 threads). Small groups keep ILGPU's CPU accelerator, which runs one OS thread per simulated GPU thread and
/// makes every barrier a real thread barrier, fast enough for tests.
/// </summary>
public sealed record IlgpuLaunchShape(int GroupSize, int MaxGroups, int Tile, int Depth)
{
    public static readonly IlgpuLaunchShape Gpu = new(256, 1024, 16, 16);
    public static readonly IlgpuLaunchShape CpuAccelerator = new(8, 64, 4, 256);

    /// <summary>CATCHUP_ILGPU_LAUNCH="group,maxGroups,tile,depth" overrides the default shape (for tuning); null when unset.</summary>
    public static IlgpuLaunchShape? FromEnvironment()
    {
        string? text = Environment.GetEnvironmentVariable("CATCHUP_ILGPU_LAUNCH");
        if (string.IsNullOrWhiteSpace(text)) return null;
        var parts = text.Split(',');
        if (parts.Length != 4 || !parts.All(p => int.TryParse(p, out _)))
            throw new ArgumentException($"CATCHUP_ILGPU_LAUNCH={text}: expected group,maxGroups,tile,depth");
        var v = parts.Select(int.Parse).ToArray();
        return new IlgpuLaunchShape(v[0], v[1], v[2], v[3]);
    }

    /// <summary>Threads the largest group needs.</summary>
    public int MaxThreads => Math.Max(GroupSize, Tile * Tile);

    public void Validate(int maxGroupSize)
    {
        if (GroupSize < 1 || (GroupSize & (GroupSize - 1)) != 0 || GroupSize > maxGroupSize)
            throw new ArgumentException($"ILGPU group size {GroupSize}: must be a power of two up to {maxGroupSize}");
        if (Tile < 1 || Tile * Tile > maxGroupSize) throw new ArgumentException($"ILGPU tile {Tile}: Tile^2 must be at most {maxGroupSize}");
        if (Depth < 1) throw new ArgumentException($"ILGPU GEMM depth {Depth}: must be positive");
        if (MaxGroups < 1) throw new ArgumentException("ILGPU launches need at least one group");
    }
}
