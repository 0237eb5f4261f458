using CatchUp.IO;
using CatchUp.Migration;
using CatchUp.Models.Adm;

namespace CatchUp.Models;

/// <summary>Velocity-model configs by name or file, whichever architecture: a JSON object with
/// <c>"unet_type": "adm"</c> is an <see cref="AdmUNetConfig"/>, any other a <see cref="SongUNetConfig"/>.</summary>
public static class VelocityModels
{
    /// <summary>The preset model names <see cref="Preset"/> knows.</summary>
    public static readonly string[] PresetNames = ["mnist-paper", "cifar10-paper", "imagenet64-paper", "imagenet64-tiny"];

    public static IVelocityModelConfig? Preset(string name) => name switch
    {
        "mnist-paper" => SongUNetConfig.MnistPaper,
        "cifar10-paper" => SongUNetConfig.Cifar10Paper,
        "imagenet64-paper" => AdmUNetConfig.ImageNet64Paper,
        "imagenet64-tiny" => AdmUNetConfig.ImageNet64Tiny,
        _ => null,
    };

    public static IVelocityModelConfig Parse(string json, string sourceName, ConfigRole role = ConfigRole.VelocityModel) =>
        AdmConfigJson.IsAdm(json) ? AdmConfigJson.Parse(json, sourceName) : SongUNetConfigJson.Parse(json, sourceName, role);

    public static IVelocityModelConfig Load(string path, ConfigRole role = ConfigRole.VelocityModel) => Parse(ConfigFile.ReadText(path), path, role);
}
