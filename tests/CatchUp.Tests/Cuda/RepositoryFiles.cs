namespace CatchUp.Tests.Cuda;

/// <summary>Paths in the source tree, found by walking up from the test assembly to CatchUp.sln.</summary>
internal static class RepositoryFiles
{
    public static string Root { get; } = FindRoot();

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "CatchUp.sln"))) return dir.FullName;
        throw new InvalidOperationException($"CatchUp.sln not found above {AppContext.BaseDirectory}");
    }
}
