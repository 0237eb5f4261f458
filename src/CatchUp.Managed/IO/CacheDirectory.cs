namespace CatchUp.IO;

/// <summary>
/// The per-user cache folder for derived data (e.g. real-feature statistics): <c>$XDG_CACHE_HOME/catchup</c> when that
/// variable holds an absolute path (the XDG base-directory rule), else <c>~/.cache/catchup</c>. Never the repository.
/// </summary>
public static class CacheDirectory
{
    public const string Variable = "XDG_CACHE_HOME";

    /// <summary>The folder (not created here; writers create it).</summary>
    public static string Root
    {
        get
        {
            string? xdg = Environment.GetEnvironmentVariable(Variable);
            if (!string.IsNullOrEmpty(xdg) && Path.IsPathFullyQualified(xdg)) return Path.Combine(xdg, "catchup");
            string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            if (string.IsNullOrEmpty(home))
                throw new IOException($"no cache directory: neither ${Variable} nor a home directory is set");
            return Path.Combine(home, ".cache", "catchup");
        }
    }

    /// <summary>A file in the cache folder (the folder is created).</summary>
    public static string File(string name)
    {
        string root = Root;
        Directory.CreateDirectory(root);
        return Path.Combine(root, name);
    }
}
