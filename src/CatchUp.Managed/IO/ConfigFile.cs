using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace CatchUp.IO;

/// <summary>Reading of small JSON config files (model configs): size limit, UTF-8 check and strict JSON parsing, each
/// failure an <see cref="InvalidDataFileException"/> naming the file.</summary>
internal static class ConfigFile
{
    /// <summary>Config files are small; anything larger is rejected before it is read.</summary>
    public const int MaxFileBytes = 1 << 20;

    public static string ReadText(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
            throw new InvalidDataFileException(path, Directory.Exists(path) ? "is a directory, not a config file" : "file not found");
        byte[] bytes;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (stream.CanSeek)
            {
                if (stream.Length > MaxFileBytes)
                    throw new InvalidDataFileException(path, $"file is {stream.Length} bytes, larger than the {MaxFileBytes}-byte limit for a config");
                bytes = new byte[stream.Length];
                stream.ReadExactly(bytes);
            }
            else bytes = ReadBounded(stream, path); // a pipe (/dev/stdin, <(...)): read up to the limit, never more
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataFileException(path, $"cannot read file: {e.Message}", e);
        }
        if (!Utf8.IsValid(bytes))
            throw new InvalidDataFileException(path, "file is not valid UTF-8");
        return Encoding.UTF8.GetString(bytes);
    }

    private static byte[] ReadBounded(Stream stream, string path)
    {
        var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int n;
        while ((n = stream.Read(chunk)) > 0)
        {
            if (buffer.Length + n > MaxFileBytes)
                throw new InvalidDataFileException(path, $"more than the {MaxFileBytes}-byte limit for a config");
            buffer.Write(chunk, 0, n);
        }
        return buffer.ToArray();
    }

    /// <summary>Parses a config's JSON text; the root must be an object. The caller disposes the document.</summary>
    public static JsonDocument ParseObject(string json, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(sourceName);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            throw new InvalidDataFileException(sourceName, $"not valid JSON ({e.Message})", e);
        }
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            var kind = document.RootElement.ValueKind;
            document.Dispose();
            throw new InvalidDataFileException(sourceName, $"a config must be a JSON object, found {JsonText.Describe(kind)}");
        }
        return document;
    }
}
