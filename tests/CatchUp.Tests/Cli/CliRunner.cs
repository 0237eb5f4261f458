using CatchUp.Cli;

namespace CatchUp.Tests.Cli;

/// <summary>Runs the CLI in-process with stdout and stderr captured (use from tests in the "Console" collection).</summary>
internal static class CliRunner
{
    public static (int Exit, string Stdout, string Stderr) Run(params string[] args)
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var (previousOut, previousErr) = (Console.Out, Console.Error);
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try { return (CliApp.Run(args), stdout.ToString(), stderr.ToString()); }
        finally { Console.SetOut(previousOut); Console.SetError(previousErr); }
    }
}
