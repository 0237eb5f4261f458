namespace CatchUp.IO;

/// <summary>
/// A data file (checkpoint, config, dataset) could not be used: it is missing, unreadable, or its content is malformed.
/// The message always starts with the file path so the user knows which file to fix.
/// </summary>
public class InvalidDataFileException : Exception
{
    public InvalidDataFileException(string filePath, string problem, Exception? innerException = null)
        : base($"{filePath}: {problem}", innerException)
    {
        FilePath = filePath;
        Problem = problem;
    }

    public string FilePath { get; }

    /// <summary>The message without the file path prefix.</summary>
    public string Problem { get; }
}
