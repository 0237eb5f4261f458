using CatchUp.Models;

namespace CatchUp.Cli;

internal static class ModelLoading
{
    /// <summary>A config path, or one of the preset names.</summary>
    public static SongUNetConfig LoadConfig(string modelArgument) => modelArgument switch
    {
        "mnist-paper" => SongUNetConfig.MnistPaper,
        "cifar10-paper" => SongUNetConfig.Cifar10Paper,
        _ when File.Exists(modelArgument) => SongUNetConfig.Load(modelArgument),
        _ => throw new CliUsageException($"model config '{modelArgument}' not found (give a JSON file, or mnist-paper / cifar10-paper)"),
    };
}
