namespace CatchUp.Distributed;

public enum MpiLauncherKind { None, OpenMpi, Hydra, Slurm }

/// <summary>Which MPI launcher started this process, read from the variables each one sets for its ranks.</summary>
public sealed record MpiLauncher(MpiLauncherKind Kind, int Rank, int Size)
{
    /// <summary>Names the MPI library to load instead of the launcher's default (a path or a soname).</summary>
    public const string LibraryVariable = "CATCHUP_MPI_LIBRARY";

    public bool Launched => Kind != MpiLauncherKind.None;

    public static MpiLauncher Detect(Func<string, string?>? environment = null)
    {
        var env = environment ?? Environment.GetEnvironmentVariable;
        int? Int(string name) => int.TryParse(env(name), out int v) ? v : null;
        if (Int("OMPI_COMM_WORLD_SIZE") is int ompiSize) return new(MpiLauncherKind.OpenMpi, Int("OMPI_COMM_WORLD_RANK") ?? 0, ompiSize);
        if (Int("PMIX_RANK") is int pmixRank) return new(MpiLauncherKind.Slurm, pmixRank, Int("SLURM_NTASKS") ?? 0);
        if (Int("PMI_SIZE") is int pmiSize) return new(MpiLauncherKind.Hydra, Int("PMI_RANK") ?? 0, pmiSize);
        return new(MpiLauncherKind.None, 0, 1);
    }
}
