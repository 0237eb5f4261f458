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
    public static readonly IlgpuLaunchShape CpuAccelerator = new(8, 64, 4, 64);

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
