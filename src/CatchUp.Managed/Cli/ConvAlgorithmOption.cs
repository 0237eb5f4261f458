using System.CommandLine;
using CatchUp.Backends;
using CatchUp.Backends.Cpu;

namespace CatchUp.Cli;

/// <summary>The <c>--conv-algorithm auto|direct|winograd2|winograd4</c> option (CPU backend; ignored on GPUs).</summary>
internal static class ConvAlgorithmOption
{
    public static Option<string> Create() => new("--conv-algorithm")
    {
        Description = "3x3 convolutions on the CPU: auto (default: the fastest accurate one per layer shape, measured once per shape on this "
            + "machine and kept in the per-user cache, conv-plan.tsv), direct, winograd2 or winograd4",
        // auto is repeatable: the machine's cache gives every run the same choices (rank 0's under mpirun), and a
        // resumed run reuses the choices recorded in its checkpoint.
        DefaultValueFactory = _ => "auto",
    };

    public static ConvAlgorithm Parse(string value)
    {
        try { return ConvAlgorithmNames.Parse(value); }
        catch (ArgumentException e) { throw new CliUsageException("--conv-algorithm: " + e.Message); }
    }

    /// <summary>Sets the algorithm on a CPU backend (through decorators), with this machine's cache for <c>auto</c>, and
    /// prints each shape's choice to <paramref name="log"/> as auto-tuning makes it; other backends ignore it.</summary>
    public static void Apply(IBackend backend, string value, TextWriter log)
    {
        var algorithm = Parse(value);
        if (CpuBackend.Find(backend) is not CpuBackend cpu) return;
        cpu.ConvAlgorithm = algorithm;
        if (algorithm == ConvAlgorithm.Auto) cpu.ConvPlan.Cache = ConvPlanCache.ForThisMachine();
        cpu.ConvPlan.Tuned = (shape, choice) => log.WriteLine(ConvPlan.Describe(shape, choice));
    }
}
