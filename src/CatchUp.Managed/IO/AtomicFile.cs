namespace CatchUp.IO;

/// <summary>
/// Writes a file so that readers only ever see the old content or the complete new content:
/// the data goes to a temporary file in the same directory, is flushed to disk, and is then renamed over the target.
/// </summary>
internal static class AtomicFile
{
    public static void WriteAllText(string path, string text) =>
        Write(path, stream => stream.Write(System.Text.Encoding.UTF8.GetBytes(text)));

    public static void Write(string path, Action<FileStream> writeContent)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string fullPath = Path.GetFullPath(path);
        string tempPath = fullPath + ".tmp-" + Convert.ToHexString(Guid.NewGuid().ToByteArray(), 0, 6).ToLowerInvariant();
        try
        {
            using (var stream = new FileStream(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 20))
            {
                writeContent(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(tempPath, fullPath, overwrite: true);
        }
        catch
        {
            TryDelete(tempPath);
            throw;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
