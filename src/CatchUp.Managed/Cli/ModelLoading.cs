using CatchUp.IO;
using CatchUp.Migration;
using CatchUp.Models;
using CatchUp.Training;

namespace CatchUp.Cli;

/// <summary>A model config with the weights to load into it; <see cref="Source"/> names the file for error messages.</summary>
internal sealed record LoadedModel(IVelocityModelConfig Config, IReadOnlyDictionary<string, HostTensor> Weights, string Source);

internal static class ModelLoading
{
    /// <summary>A config path, or one of the preset names.</summary>
    public static SongUNetConfig LoadConfig(string modelArgument, ConfigRole role = ConfigRole.VelocityModel) => modelArgument switch
    {
        "mnist-paper" => SongUNetConfig.MnistPaper,
        "cifar10-paper" => SongUNetConfig.Cifar10Paper,
        _ when File.Exists(modelArgument) => SongUNetConfig.Load(modelArgument, role),
        _ => throw new CliUsageException($"model config '{modelArgument}' not found (give a JSON file, or mnist-paper / cifar10-paper)"),
    };

    /// <summary>A velocity-model config path (SongUNet, or ADM with <c>"unet_type": "adm"</c>), or a preset name.</summary>
    public static IVelocityModelConfig LoadModel(string modelArgument) => VelocityModels.Preset(modelArgument) ?? (File.Exists(modelArgument)
        ? VelocityModels.Load(modelArgument)
        : throw new CliUsageException($"model config '{modelArgument}' not found (give a JSON file, or one of {string.Join(", ", VelocityModels.PresetNames)})"));

    /// <summary>True when <paramref name="modelArgument"/> names an ADM preset or a JSON file with <c>"unet_type": "adm"</c>
    /// (read without parsing the config, so a SongUNet file's warnings are printed once, by whoever loads it).</summary>
    public static bool IsAdm(string modelArgument) => VelocityModels.Preset(modelArgument) is Models.Adm.AdmUNetConfig
        || (VelocityModels.Preset(modelArgument) is null && File.Exists(modelArgument) && AdmConfigJson.IsAdm(ConfigFile.ReadText(modelArgument)));

    /// <summary>A config and weights with reference names (<c>catchup velocity</c>, <c>catchup sample</c>): the weights'
    /// extra heads (heads.0, heads.1) are added to a config that declares none.</summary>
    public static LoadedModel LoadReference(string modelArgument, string weightsPath)
    {
        var config = LoadModel(modelArgument);
        var weights = SafetensorsFile.Read(weightsPath);
        int heads = StateDict.CountHeads(weights.Tensors.Keys, config.HeadKeyPrefix);
        if (heads > 2) throw new InvalidDataFileException(weightsPath, $"holds {heads} extra heads; at most 2 ({config.HeadKeyPrefix}0, {config.HeadKeyPrefix}1) are supported");
        if (config.ExtraHeads == 0 && heads > 0) config = config.WithExtraHeads(heads);
        return new LoadedModel(config, weights.Tensors, weightsPath);
    }

    /// <summary>A training run's config.json.</summary>
    public static TrainingOptions LoadRunOptions(string runDir)
    {
        string configPath = Path.Combine(runDir, "config.json");
        if (!File.Exists(configPath)) throw new CliUsageException($"--run {runDir}: not a run directory (no config.json)");
        return TrainingOptions.Load(configPath, TrainingOptions.Quick);
    }

    /// <summary>A training run's model (config.json) and one of its checkpoint's weight sets: <c>ema.</c> or <c>model.</c>.</summary>
    public static LoadedModel LoadRun(string runDir, string prefix) => LoadRun(LoadRunOptions(runDir), runDir, prefix);

    /// <summary>As above, for a run whose options are already loaded.</summary>
    public static LoadedModel LoadRun(TrainingOptions options, string runDir, string prefix) => LoadRun(options, runDir, [prefix])[0];

    /// <summary>Several weight sets of a run's checkpoint (<c>model.</c>, <c>ema.</c>, <c>ema_RATE.</c>), the file read once.</summary>
    public static IReadOnlyList<LoadedModel> LoadRun(TrainingOptions options, string runDir, IReadOnlyList<string> prefixes)
    {
        string checkpoint = Checkpoint.PathIn(runDir);
        if (!File.Exists(checkpoint)) throw new InvalidDataFileException(checkpoint, "missing: train the run first");
        var tensors = SafetensorsFile.Read(checkpoint).Tensors;
        return prefixes.Select(prefix =>
        {
            var weights = tensors.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value, StringComparer.Ordinal);
            if (weights.Count == 0) throw new InvalidDataFileException(checkpoint, $"holds no '{prefix}*' weights");
            return new LoadedModel(options.ModelWithHeads, weights, checkpoint);
        }).ToList();
    }
}
