using System.CommandLine;
using CatchUp.IO;

namespace CatchUp.Cli;

/// <summary>The <c>catchup</c> command line. Expected failures (bad files, bad flags) print one clear line and exit 1.</summary>
public static class CliApp
{
    public static int Run(string[] args)
    {
        var root = new RootCommand("CatchUp: Catch-Up Distillation for few-step generative models, in .NET")
        {
            TrainCommand.Create(),
            DistillCommand.Create(),
            AblateCommand.Create(),
            ClassifierCommand.Create(),
            EvalCommand.Create(),
            VelocityCommand.Create(),
            SampleCommand.Create(),
            ImportCommand.Create(),
            ExportCommand.Create(),
            BenchCommand.Create(),
            InceptionFeaturesCommand.Create(),
            SelftestCommand.Create(),
            PlotCommand.Create(),
        };
        try
        {
            return root.Parse(args).Invoke();
        }
        catch (Exception e) when (IsUserError(e))
        {
            Console.Error.WriteLine($"catchup: error: {e.Message}");
            return 1;
        }
    }

    /// <summary>Runs a command body, turning expected failures into a message and exit code 1.</summary>
    public static int Guard(Func<int> body)
    {
        try { return body(); }
        catch (Exception e) when (IsUserError(e))
        {
            Console.Error.WriteLine($"catchup: error: {e.Message}");
            return 1;
        }
    }

    internal static bool IsUserError(Exception e) =>
        e is InvalidDataFileException or CliUsageException or Distributed.MpiException or FileNotFoundException or DirectoryNotFoundException
            or UnauthorizedAccessException or IOException or Backends.Cuda.Interop.CudaException
            or Backends.Ilgpu.IlgpuDeviceException;
}

/// <summary>A problem with the command's arguments that the user must fix.</summary>
public sealed class CliUsageException(string message) : Exception(message);
