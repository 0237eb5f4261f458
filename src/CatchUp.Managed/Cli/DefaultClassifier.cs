using CatchUp.Evaluation;
using CatchUp.IO;

namespace CatchUp.Cli;

/// <summary>
/// The evaluation classifier the project ships for a data set (today Fashion-MNIST:
/// docs/results/eval/classifier-fashion-mnist.safetensors), so that <c>eval</c> needs no --classifier. The build copies
/// the shipped files next to the executable (classifiers/), which covers <c>dotnet run</c>, the built dll and a published
/// bundle; a repository checkout found above the executable or the working directory is the fallback.
/// </summary>
internal static class DefaultClassifier
{
    public const string BundledFolder = "classifiers";
    public static readonly string RepositoryFolder = Path.Combine("docs", "results", "eval");

    public static string FileName(string dataset) => $"classifier-{dataset}.safetensors";

    /// <summary>The shipped classifier trained on <paramref name="dataset"/>, or null when there is none.</summary>
    public static string? Find(string dataset)
    {
        foreach (string candidate in Candidates(dataset))
            if (File.Exists(candidate) && TrainedOn(candidate) == dataset) return Path.GetFullPath(candidate);
        return null;
    }

    /// <summary>As <see cref="Find"/>, or a usage error naming the command that trains one.</summary>
    public static string Require(string dataset) => Find(dataset) ?? throw new CliUsageException(
        $"no shipped evaluation classifier for {dataset}: train one with `catchup classifier train --dataset {dataset} --data DIR --out {FileName(dataset)}` " +
        $"and pass it with --classifier {FileName(dataset)}");

    private static IEnumerable<string> Candidates(string dataset)
    {
        string name = FileName(dataset);
        yield return Path.Combine(AppContext.BaseDirectory, BundledFolder, name);
        foreach (string start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                yield return Path.Combine(dir.FullName, RepositoryFolder, name);
    }

    private static string? TrainedOn(string path)
    {
        try { return ClassifierFile.ReadMetadata(SafetensorsFile.Read(path)).Dataset; }
        catch (InvalidDataFileException) { return null; }
    }
}
