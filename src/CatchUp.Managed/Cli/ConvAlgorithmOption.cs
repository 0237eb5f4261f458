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

    /// <summary>Sets the algorithm on a CPU backend (unwrapping decorators) and prints each shape's choice to
    /// <paramref name="log"/> as auto-tuning makes it. With <paramref name="recordedPlan"/> (a checkpoint's) and auto,
    /// the recorded choices are reused as they are.</summary>
    public static CpuBackend? Apply(IBackend backend, string value, TextWriter log, string? recordedPlan = null)
    {
        var algorithm = Parse(value);
        if (Unwrap(backend) is not CpuBackend cpu) return null;
        cpu.ConvAlgorithm = algorithm;
        if (algorithm == ConvAlgorithm.Auto && !string.IsNullOrEmpty(recordedPlan))
        {
            try { cpu.ConvPlan.Load(recordedPlan); }
            catch (FormatException e) { throw new CliUsageException("checkpoint convolution plan: " + e.Message); }
            foreach (var (shape, choice) in cpu.ConvPlan.Entries) log.WriteLine(ConvPlan.Describe(shape, choice));
        }
        cpu.ConvPlan.Tuned = (shape, choice) => log.WriteLine(ConvPlan.Describe(shape, choice));
        return cpu;
    }

    /// <summary>The CPU backend under a profiling decorator, if any.</summary>
    public static CpuBackend? Unwrap(IBackend backend) => backend switch
    {
        CpuBackend c => c,
        ProfilingBackend p => Unwrap(p.Inner),
        _ => null,
    };
}
