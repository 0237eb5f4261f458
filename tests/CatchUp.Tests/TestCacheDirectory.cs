using System.Runtime.CompilerServices;
using CatchUp.IO;

namespace CatchUp.Tests;

/// <summary>
/// Points XDG_CACHE_HOME at a fresh temp folder before any test runs (and for the processes the tests start), so the
/// suite never writes caches into the user's home or the repository. Deleted when the test process exits.
/// </summary>
internal static class TestCacheDirectory
{
    public static string Home { get; private set; } = "";

    /// <summary>The catchup folder inside it: where every cache of the test run must land.</summary>
    public static string Catchup => Path.Combine(Home, "catchup");

#pragma warning disable CA2255 // a module initializer is the one hook that runs before every test class
    [ModuleInitializer]
    internal static void Initialize()
#pragma warning restore CA2255
    {
        Home = Directory.CreateTempSubdirectory("catchup-test-cache-").FullName;
        Environment.SetEnvironmentVariable(CacheDirectory.Variable, Home);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(Home, recursive: true); }
            catch (IOException) { }
        };
    }
}
