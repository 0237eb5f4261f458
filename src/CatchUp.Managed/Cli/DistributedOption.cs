using System.CommandLine;
using CatchUp.Distributed;

namespace CatchUp.Cli;

/// <summary>The <c>--distributed auto|mpi|none</c> option and the rules for running a command body on every rank.</summary>
internal static class DistributedOption
{
    public static Option<string> Create() => new("--distributed")
    {
        Description = "auto (MPI when started by mpirun/srun) | mpi | none",
        DefaultValueFactory = _ => "auto",
    };

    /// <summary>
    /// Opens the communicator and runs <paramref name="body"/> on this rank. In a job of several ranks, a failure on
    /// one rank cannot be allowed to leave the others waiting in a collective: it prints its error and aborts the
    /// whole job (MPI_Abort, non-zero exit). A single process reports errors as every command does.
    /// </summary>
    public static int Run(string mode, Func<ICommunicator, int> body)
    {
        ICommunicator comm;
        try { comm = CommunicatorFactory.Create(mode); }
        catch (ArgumentException e) { throw new CliUsageException(e.Message); }
        using (comm)
        {
            if (comm.Size == 1) return body(comm);
            try { return body(comm); }
            catch (CliUsageException e)
            {
                // Argument problems are found identically on every rank before any collective: one line, a clean exit.
                if (comm.IsRoot) Console.Error.WriteLine($"catchup: error: {e.Message}");
                return 1;
            }
            catch (Exception e)
            {
                Console.Error.WriteLine($"catchup: error: rank {comm.Rank}: {(CliApp.IsUserError(e) ? e.Message : e.ToString())}");
                Console.Error.Flush();
                comm.Abort(1);
                return 1;
            }
        }
    }

    /// <summary>A check every rank makes identically before any collective: rank 0 reports it, every rank exits 1.</summary>
    public static void RequireDivisible(ICommunicator comm, int batch, string flag)
    {
        if (batch % comm.Size != 0)
            throw new CliUsageException($"{flag} {batch} is the global batch: it must be divisible by the {comm.Size} ranks");
    }
}
