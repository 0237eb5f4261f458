using System.Text.RegularExpressions;

namespace CatchUp.Cli;

/// <summary>The one line a command prints at its end: the exact command that comes next, paths filled in.</summary>
internal static partial class NextStep
{
    public static string Command(params string[] args) => "catchup " + string.Join(' ', args.Select(Quote));

    public static void Print(string what, params string[] args) => Console.WriteLine($"next, {what}: {Command(args)}");

    /// <summary>A run directory as the user would type it (no trailing separator).</summary>
    public static string Dir(string path) => Path.TrimEndingDirectorySeparator(path);

    private static string Quote(string arg) => Plain().IsMatch(arg) ? arg : "'" + arg.Replace("'", "'\\''") + "'";

    [GeneratedRegex(@"^[A-Za-z0-9_./,:=+@%-]+$")]
    private static partial Regex Plain();
}
