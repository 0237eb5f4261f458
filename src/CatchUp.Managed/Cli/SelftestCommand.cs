using System.CommandLine;
using System.Text.Json;
using CatchUp.Backends;
using CatchUp.Backends.Cpu;

namespace CatchUp.Cli;

/// <summary><c>catchup selftest</c>: the backend conformance checks (every op, the network, a CUD RK12 step) of the
/// chosen device against the CPU backend, then the network against the PyTorch golden files when they are available.
/// Exit 0 when all pass, 1 otherwise (and 1 when the device cannot be opened).</summary>
internal static class SelftestCommand
{
    public static Command Create()
    {
        var device = DeviceOption.Create();
        var threads = new Option<int>("--threads") { Description = "CPU threads of the reference backend", DefaultValueFactory = _ => Environment.ProcessorCount };
        var golden = new Option<string?>("--golden")
        {
            Description = "Directory with the PyTorch golden files (songunet_small*); default: golden/ next to the executable, when present",
        };
        var command = new Command("selftest", "Check a backend against the CPU reference and PyTorch golden files (use --device cuda on a GPU machine)")
        {
            device, threads, golden,
        };
        command.SetAction(r => CliApp.Guard(() => Run(r.GetValue(device)!, r.GetValue(threads), r.GetValue(golden))));
        return command;
    }

    private static int Run(string device, int threads, string? goldenDir)
    {
        if (threads < 1) throw new CliUsageException("--threads must be at least 1");
        string defaultGolden = Path.Combine(AppContext.BaseDirectory, "golden");
        if (goldenDir is not null && !File.Exists(Path.Combine(goldenDir, PyTorchGoldenCheck.Config)))
            throw new CliUsageException($"--golden {goldenDir}: no {PyTorchGoldenCheck.Config} there");
        goldenDir ??= File.Exists(Path.Combine(defaultGolden, PyTorchGoldenCheck.Config)) ? defaultGolden : null;
        using var candidate = DeviceOption.Open(device, threads);
        // A CPU candidate is checked against a single-threaded CPU backend (thread-count independence).
        using var reference = new CpuBackend(candidate is CpuBackend ? 1 : threads);
        Console.WriteLine($"selftest: {candidate.Name} against {reference.Name}, {BackendConformance.Names.Count} checks");
        var results = BackendConformance.RunAll(reference, candidate, Console.Out);
        if (goldenDir is null) Console.WriteLine("PyTorch golden check skipped: no golden files (pass --golden DIR)");
        else
            foreach (var r in PyTorchGoldenCheck.SmallDecoder(candidate, goldenDir))
            {
                Console.WriteLine(BackendConformance.Describe(r));
                results.Add(r);
            }
        var failed = results.Where(r => !r.Passed).ToList();
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            selftest = candidate.Name,
            golden = goldenDir,
            checks = results.Count,
            passed = results.Count - failed.Count,
            failed = failed.Select(r => new { check = r.Check, error = r.Error, tolerance = r.Tolerance, where = r.Worst }),
            max_error = results.Select(r => new { check = r.Check, error = r.Error }),
        }));
        return failed.Count == 0 ? 0 : 1;
    }
}
