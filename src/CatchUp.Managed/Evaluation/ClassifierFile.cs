using System.Globalization;
using CatchUp.Backends;
using CatchUp.IO;
using CatchUp.Models;

namespace CatchUp.Evaluation;

/// <summary>What a classifier file says about itself (its safetensors metadata).</summary>
public sealed record ClassifierMetadata(string Dataset, ClassifierConfig Config, double TestAccuracy, IReadOnlyDictionary<string, string> All);

/// <summary>
/// Evaluation classifiers as safetensors: the parameters under their names plus metadata <c>format</c>,
/// <c>dataset</c>, <c>architecture</c> (JSON), <c>feature_dim</c>, <c>classes</c>, <c>test_accuracy</c> and how it was trained.
/// </summary>
public static class ClassifierFile
{
    public const string Format = "catchup-classifier-v1";

    public static void Save(string path, ClassifierNetwork network, string dataset, double testAccuracy, IReadOnlyDictionary<string, string>? training = null)
    {
        var metadata = new Dictionary<string, string>(training ?? new Dictionary<string, string>(), StringComparer.Ordinal)
        {
            ["format"] = Format,
            ["dataset"] = dataset,
            ["architecture"] = network.Config.ToJson(),
            ["feature_dim"] = network.Config.FeatureDim.ToString(CultureInfo.InvariantCulture),
            ["classes"] = network.Config.Classes.ToString(CultureInfo.InvariantCulture),
            ["test_accuracy"] = testAccuracy.ToString("R", CultureInfo.InvariantCulture),
        };
        SafetensorsFile.Write(path, StateDict.Export(network.Parameters, includeBuffers: false), metadata);
    }

    /// <summary>Reads the metadata and weights; every problem is an <see cref="InvalidDataFileException"/> naming the file.</summary>
    public static (ClassifierNetwork Network, ClassifierMetadata Metadata) Load(string path, IBackend backend)
    {
        var file = SafetensorsFile.Read(path);
        var metadata = ReadMetadata(file);
        var network = new ClassifierNetwork(metadata.Config, backend);
        try
        {
            StateDict.Load(network.Parameters, file.Tensors, path);
        }
        catch
        {
            network.Dispose();
            throw;
        }
        return (network, metadata);
    }

    public static ClassifierMetadata ReadMetadata(SafetensorsFile file)
    {
        string path = file.Path;
        string Require(string key) => file.Metadata.TryGetValue(key, out var v) ? v
            : throw new InvalidDataFileException(path, $"metadata '{key}' is missing: not a classifier written by `catchup classifier train`");
        string format = Require("format");
        if (format != Format) throw new InvalidDataFileException(path, $"metadata format is '{format}', expected '{Format}'");
        ClassifierConfig config;
        try { config = ClassifierConfig.FromJson(Require("architecture")); }
        catch (ArgumentException e) { throw new InvalidDataFileException(path, $"metadata 'architecture': {e.Message}"); }
        if (!double.TryParse(Require("test_accuracy"), NumberStyles.Float, CultureInfo.InvariantCulture, out double accuracy))
            throw new InvalidDataFileException(path, $"metadata 'test_accuracy' is not a number: '{file.Metadata["test_accuracy"]}'");
        return new ClassifierMetadata(Require("dataset"), config, accuracy, file.Metadata);
    }
}
