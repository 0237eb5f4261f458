using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using CatchUp.Diagnostics;
using CatchUp.Distributed;

namespace CatchUp.Cli;

/// <summary><c>catchup bench allreduce</c>: the in-place float32 sum Allreduce of one gradient-sized buffer through our
/// MPI binding, timed the way a C program times MPI_Allreduce (bench/mpi/allreduce.c), and checked.</summary>
internal static class AllreduceBenchCommand
{
    public static Command Create()
    {
        var floats = new Option<int>("--floats") { Description = "Buffer length in floats (default: the paper MNIST network's 2,211,777 gradients)", DefaultValueFactory = _ => 2_211_777 };
        var repeats = new Option<int>("--repeats") { Description = "Timed Allreduce calls after 5 warm-up calls", DefaultValueFactory = _ => 50 };
        var distributed = DistributedOption.Create();
        var command = new Command("allreduce", "Time an in-place MPI_Allreduce (sum, float32) of a gradient-sized buffer; run under mpirun")
        {
            floats, repeats, distributed,
        };
        command.SetAction(r => CliApp.Guard(() => DistributedOption.Run(r.GetValue(distributed)!, comm => Run(comm, r.GetValue(floats), r.GetValue(repeats)))));
        return command;
    }

    private static int Run(ICommunicator comm, int floats, int repeats)
    {
        if (floats < 1 || repeats < 1) throw new CliUsageException("--floats and --repeats must be at least 1");
        if (comm.Size < 2) throw new CliUsageException("bench allreduce needs several ranks: run it as mpirun -np N catchup bench allreduce");
        var buffer = GC.AllocateArray<float>(floats, pinned: true);
        var times = new double[repeats];
        for (int i = -5; i < repeats; i++)
        {
            buffer.AsSpan().Fill(comm.Rank + 1);
            comm.Barrier();
            long start = Stopwatch.GetTimestamp();
            comm.AllreduceSum(buffer);
            if (i >= 0) times[i] = Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        float expected = comm.Size * (comm.Size + 1) / 2f;
        if (buffer.Any(v => v != expected)) throw new MpiException($"MPI_Allreduce returned wrong sums (expected {expected} everywhere)");

        // The slowest rank decides: report the maximum over ranks of each rank's median.
        Span<double> median = [Statistics.Median(times)];
        var all = new double[comm.Size];
        all[comm.Rank] = median[0];
        comm.AllreduceSum(all);
        double seconds = all.Max();
        if (comm.IsRoot)
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                bench = "allreduce",
                library = comm.Name,
                ranks = comm.Size,
                floats,
                mb = Math.Round(floats * 4.0 / 1e6, 3),
                repeats,
                median_ms = Math.Round(seconds * 1000, 4),
                gb_per_s = Math.Round(floats * 4.0 / seconds / 1e9, 3),
            }));
        return 0;
    }
}
