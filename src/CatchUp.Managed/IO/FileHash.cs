using System.Security.Cryptography;

namespace CatchUp.IO;

/// <summary>Content hashes of files, used as cache and result keys.</summary>
public static class FileHash
{
    /// <summary>The SHA-256 of the file's bytes, lower-case hex.</summary>
    public static string Sha256(string path)
    {
        using var stream = System.IO.File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
