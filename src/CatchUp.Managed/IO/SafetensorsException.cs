namespace CatchUp.IO;

/// <summary>A safetensors file is missing, unreadable, or malformed.</summary>
public sealed class SafetensorsException : InvalidDataFileException
{
    public SafetensorsException(string filePath, string problem, string? tensorName = null, Exception? innerException = null)
        : base(filePath, tensorName is null ? problem : $"tensor '{tensorName}': {problem}", innerException)
    {
        TensorName = tensorName;
    }

    /// <summary>The tensor the problem concerns, when there is one.</summary>
    public string? TensorName { get; }
}
