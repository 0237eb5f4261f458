using System.Globalization;
using System.Text.Json;
using CatchUp.IO;
using CatchUp.Models;

namespace CatchUp.Migration;

/// <summary>What a model config describes: the velocity network, or the noise encoder (<c>--encoder-model</c>).</summary>
public enum ConfigRole
{
    VelocityModel,
    NoiseEncoder,
}

/// <summary>
/// The keys only the PyTorch reference's config files carry (<c>configs/{mnist,cifar10}_{de,en}.json</c>), and the
/// reference's leniency about attention resolutions, so that its files load unchanged.
/// </summary>
internal sealed class ReferenceConfig(string sourceName, ConfigRole role, Action<string> warn)
{
    /// <summary>The reference SongUNet's default <c>phi</c>, which a reference file without the key gets.</summary>
    public const double ReferenceDefaultPhi = 0.25;

    private double? _numParams;
    private bool _isReferenceFile;

    public static void WarnToStderr(string message) => Console.Error.WriteLine($"catchup: warning: {message}");

    public static bool IsReferenceKey(string key) => key is "unet_type" or "num_params" or "use_dwt";

    public void Read(string key, JsonElement value)
    {
        switch (key)
        {
            case "unet_type":
                _isReferenceFile = true;
                if (value.ValueKind != JsonValueKind.String || value.GetString() != "songunet")
                    throw Fail(key, $"{JsonText.Show(value)} is not supported; only \"songunet\" is");
                break;
            case "use_dwt":
                bool off = value.ValueKind is JsonValueKind.False or JsonValueKind.Null
                    || (value.ValueKind == JsonValueKind.String && value.GetString() is "False" or "false");
                if (!off) throw Fail(key, $"{JsonText.Show(value)} is not supported; only false (or \"False\") is");
                break;
            case "num_params":
                if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out double millions) || !double.IsFinite(millions) || millions < 0)
                    throw Fail(key, $"expected a parameter count in millions, found {JsonText.Show(value)}");
                _numParams = millions;
                break;
            default:
                throw new ArgumentException($"not a reference key: {key}", nameof(key));
        }
    }

    /// <summary>A reference file (one with <c>unet_type</c>) means the reference's defaults where ours differ.</summary>
    public SongUNetConfig ApplyReferenceDefaults(SongUNetConfig config, bool phiGiven) =>
        _isReferenceFile && !phiGiven ? config with { Phi = ReferenceDefaultPhi } : config;

    /// <summary>The reference builds attention only where a level's resolution is listed and ignores the rest; so do we, saying so.</summary>
    public SongUNetConfig DropUnusedAttention(SongUNetConfig config)
    {
        if (config.AttnResolutions is not { Length: > 0 } listed || config.ChannelMult is not { Length: > 0 } || config.ImgResolution <= 0) return config;
        var levels = Enumerable.Range(0, config.Levels).Select(config.ResolutionAt).ToArray();
        var unused = listed.Where(r => !levels.Contains(r)).ToArray();
        if (unused.Length == 0) return config;
        warn($"{sourceName}: attn_resolutions {Format(unused)} match no level of this model (levels {Format(levels)}); ignored, as the reference does");
        return config with { AttnResolutions = listed.Where(levels.Contains).ToArray() };
    }

    /// <summary>
    /// <c>num_params</c> is the reference's count of the velocity network (millions, without extra heads). A mismatch is an
    /// error for a velocity model; for an encoder it is a warning, because the reference's own <c>mnist_en.json</c> carries
    /// its decoder's count (2.155201) and the reference never reads the key.
    /// </summary>
    public void CheckParameterCount(SongUNetConfig config)
    {
        if (_numParams is not double millions) return;
        long actual = SongUNetParameterCount.Of(config with { ExtraHeads = 0 });
        double stated = millions * 1e6;
        if (Math.Abs(stated - actual) < 0.5) return;
        string problem = $"key 'num_params': the config says {millions.ToString(CultureInfo.InvariantCulture)}M = {stated.ToString("N0", CultureInfo.InvariantCulture)} parameters, " +
                         $"the model it describes has {actual.ToString("N0", CultureInfo.InvariantCulture)}";
        if (role == ConfigRole.VelocityModel) throw new InvalidDataFileException(sourceName, problem);
        warn($"{sourceName}: {problem} (not checked for an encoder)");
    }

    private InvalidDataFileException Fail(string key, string problem) => new(sourceName, $"key '{key}': {problem}");

    private static string Format(int[] values) => "[" + string.Join(", ", values) + "]";
}
