namespace CatchUp.Distributed;

/// <summary>Opens the communicator a <c>--distributed</c> value names. The MPI library is loaded only when used.</summary>
public static class CommunicatorFactory
{
    public static readonly string[] Modes = ["auto", "mpi", "none"];

    /// <summary>
    /// <c>none</c>: one process. <c>auto</c>: MPI when an MPI launcher started this process, else one process.
    /// <c>mpi</c>: MPI, and an error without a launcher. The library is the launcher's (Open MPI's libmpi.so.40 or
    /// MPICH's libmpich.so.12) unless <see cref="MpiLauncher.LibraryVariable"/> names one.
    /// </summary>
    public static ICommunicator Create(string mode, MpiLauncher? launcher = null, Func<string, string?>? environment = null)
    {
        var env = environment ?? Environment.GetEnvironmentVariable;
        launcher ??= MpiLauncher.Detect(env);
        switch (mode.Trim().ToLowerInvariant())
        {
            case "none":
                return SingleProcessCommunicator.Instance;
            case "auto":
                return launcher.Launched ? MpiCommunicator.Initialize(launcher, env(MpiLauncher.LibraryVariable)) : SingleProcessCommunicator.Instance;
            case "mpi":
                if (!launcher.Launched)
                    throw new MpiException("--distributed mpi: this process was not started by an MPI launcher; run it as mpirun -np N catchup ...");
                return MpiCommunicator.Initialize(launcher, env(MpiLauncher.LibraryVariable));
            default:
                throw new ArgumentException($"--distributed {mode}: expected auto, mpi or none");
        }
    }
}
