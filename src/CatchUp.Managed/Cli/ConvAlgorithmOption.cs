using System.CommandLine;
using CatchUp.Backends;
using CatchUp.Backends.Cpu;

namespace CatchUp.Cli;

/// <summary>The <c>--conv-algorithm auto|direct|winograd2|winograd4</c> option (CPU backend; ignored on GPUs).</summary>
internal static class ConvAlgorithmOption
{
    public static Option<string> Create() => new("--conv-algorithm")
    {
        Description = "3x3 convolutions on the CPU: direct (default), winograd2, winograd4, or auto (fastest accurate one per layer shape, measured at start-up; one process only)",
        // Not auto by default: a timing-based choice differs from run to run and from rank to rank, which would break
        // bit-for-bit repeatability and the data-parallel equivalence until the ranks share rank 0's plan.
        DefaultValueFactory = _ => "direct",
    };

    public static ConvAlgorithm Parse(string value)
    {
        try { return ConvAlgorithmNames.Parse(value); }
        catch (ArgumentException e) { throw new CliUsageException("--conv-algorithm: " + e.Message); }
    }

    /// <summary>Sets the algorithm on a CPU backend (through decorators) and prints each shape's choice to
    /// <paramref name="log"/> as auto-tuning makes it; other backends ignore it.</summary>
    public static void Apply(IBackend backend, string value, TextWriter log)
    {
        var algorithm = Parse(value);
        if (CpuBackend.Find(backend) is not CpuBackend cpu) return;
        cpu.ConvAlgorithm = algorithm;
        cpu.ConvPlan.Tuned = (shape, choice) => log.WriteLine(ConvPlan.Describe(shape, choice));
    }
}
