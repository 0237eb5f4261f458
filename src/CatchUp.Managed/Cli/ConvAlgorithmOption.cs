using System.CommandLine;
using CatchUp.Backends;
using CatchUp.Backends.Cpu;

namespace CatchUp.Cli;

/// <summary>The <c>--conv-algorithm auto|direct|winograd2|winograd4</c> option (CPU backend; ignored on GPUs).</summary>
internal static class ConvAlgorithmOption
{
    public static Option<string> Create() => new("--conv-algorithm")
    {
        Description = "3x3 convolutions on the CPU: auto (fastest accurate one per layer shape, measured at start-up), direct, winograd2, winograd4",
        DefaultValueFactory = _ => "auto",
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
