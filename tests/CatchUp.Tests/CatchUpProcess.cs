using System.Text;
using CliWrap;
using CliWrap.Buffered;

namespace CatchUp.Tests;

/// <summary>Runs the built <c>catchup</c> as a user does, in its own process (or as the ranks of an <c>mpirun</c> job),
/// through CliWrap: captured output, a timeout that kills, environment variables.</summary>
internal static class CatchUpProcess
{
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "catchup.dll");

    /// <summary>Open MPI as root, on loopback only, never binding ranks to cores (the tests share 2 cores).</summary>
    public static readonly IReadOnlyDictionary<string, string?> MpiEnvironment = new Dictionary<string, string?>
    {
        ["OMPI_ALLOW_RUN_AS_ROOT"] = "1",
        ["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1",
        ["OMPI_MCA_oob_tcp_if_include"] = "lo",
        ["OMPI_MCA_btl_tcp_if_include"] = "lo",
        ["OMPI_MCA_rmaps_base_oversubscribe"] = "1",
    };

    public sealed record Result(int Exit, string Stdout, string Stderr, TimeSpan Elapsed);

    public static Result Run(params string[] args) => Run(args, TimeSpan.FromMinutes(4));

    public static Result Run(string[] args, TimeSpan timeout, IReadOnlyDictionary<string, string?>? environment = null) =>
        Execute(CliWrap.Cli.Wrap("dotnet").WithArguments([Dll, .. args]), timeout, environment);

    /// <summary><c>mpirun -np N dotnet catchup.dll ARGS</c> with Open MPI's launcher.</summary>
    public static Result Mpirun(int ranks, string[] args, TimeSpan? timeout = null, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var env = new Dictionary<string, string?>(MpiEnvironment);
        foreach (var (k, v) in environment ?? new Dictionary<string, string?>()) env[k] = v;
        return Execute(MpirunCommand(ranks, args), timeout ?? TimeSpan.FromMinutes(4), env);
    }

    public static Command MpirunCommand(int ranks, string[] args) =>
        CliWrap.Cli.Wrap(RequireTool("mpirun.openmpi")).WithArguments(["-np", $"{ranks}", "--bind-to", "none", "dotnet", Dll, .. args]);

    /// <summary>The same job under MPICH's Hydra launcher (<c>mpirun.mpich</c>): ranks load libmpich.so.12.</summary>
    public static Result MpirunMpich(int ranks, string[] args, TimeSpan? timeout = null) =>
        Execute(CliWrap.Cli.Wrap(RequireTool("mpirun.mpich")).WithArguments(["-np", $"{ranks}", "dotnet", Dll, .. args]),
            timeout ?? TimeSpan.FromMinutes(4), null);

    /// <summary>The test machine's set-up (build.sh) installs Open MPI; without it these tests must fail, not skip.</summary>
    public static string RequireTool(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
            if (dir.Length > 0 && File.Exists(Path.Combine(dir, name))) return Path.Combine(dir, name);
        throw new InvalidOperationException($"{name} is not installed: run ./build.sh --target=Test, whose set-up installs Debian's openmpi-bin and mpich");
    }

    /// <summary>Starts catchup in the background; <see cref="Background.Kill"/> kills it (and its children) at once.</summary>
    public static Background Start(params string[] args) => new(CliWrap.Cli.Wrap("dotnet").WithArguments([Dll, .. args]));

    public sealed class Background : IDisposable
    {
        private readonly CancellationTokenSource _kill = new();
        private readonly StringBuilder _stderr = new();
        private readonly CommandTask<CommandResult> _task;

        public Background(Command command) =>
            _task = command.WithValidation(CommandResultValidation.None).WithStandardErrorPipe(PipeTarget.ToStringBuilder(_stderr)).ExecuteAsync(_kill.Token);

        public bool HasExited => _task.Task.IsCompleted;
        public string Stderr => _stderr.ToString();

        public void Kill()
        {
            _kill.Cancel();
            try { _task.Task.Wait(); } catch (AggregateException e) when (e.InnerException is OperationCanceledException) { }
        }

        public void Dispose()
        {
            if (!HasExited) Kill();
            _kill.Dispose();
        }
    }

    private static Result Execute(Command command, TimeSpan timeout, IReadOnlyDictionary<string, string?>? environment)
    {
        using var cts = new CancellationTokenSource(timeout);
        var configured = command.WithValidation(CommandResultValidation.None);
        if (environment is not null) configured = configured.WithEnvironmentVariables(environment);
        try
        {
            var r = configured.ExecuteBufferedAsync(Encoding.UTF8, cts.Token).Task.GetAwaiter().GetResult();
            return new Result(r.ExitCode, r.StandardOutput, r.StandardError, r.RunTime);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{command.TargetFilePath} {command.Arguments} did not finish within {timeout.TotalSeconds:F0} s (killed)");
        }
    }
}
