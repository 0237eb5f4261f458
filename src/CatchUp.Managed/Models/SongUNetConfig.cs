using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using CatchUp.IO;
using CatchUp.Migration;

namespace CatchUp.Models;

/// <summary>
/// Hyper-parameters of a SongUNet (DDPM++ layout, SPEC section 5). The JSON form uses the reference configs' snake_case keys.
/// Only the variants this project implements are accepted: positional noise embedding, standard encoder/decoder,
/// resample filter [1, 1], no augmentation conditioning; class conditioning as EDM's <c>map_label</c> (<see cref="LabelDim"/>).
/// </summary>
public sealed record SongUNetConfig : IVelocityModelConfig
{
    /// <summary>Config files are small; anything larger is rejected before it is read.</summary>
    public const int MaxFileBytes = ConfigFile.MaxFileBytes;

    public required int ImgResolution { get; init; }
    public required int InChannels { get; init; }
    public required int OutChannels { get; init; }
    public int ModelChannels { get; init; } = 128;
    public int[] ChannelMult { get; init; } = [1, 2, 2, 2];
    public int ChannelMultEmb { get; init; } = 4;
    public int NumBlocks { get; init; } = 4;
    public int[] AttnResolutions { get; init; } = [16];
    public double Dropout { get; init; } = 0.10;
    public string EmbeddingType { get; init; } = "positional";
    public int ChannelMultNoise { get; init; } = 1;
    public string EncoderType { get; init; } = "standard";
    public string DecoderType { get; init; } = "standard";
    public int[] ResampleFilter { get; init; } = [1, 1];
    /// <summary>Dynamic skip connections (SPEC Eq. 6); JSON key <c>prior_shakedrop</c>, alias <c>dynamic_skip</c>.</summary>
    public bool PriorShakedrop { get; init; }
    /// <summary>Dynamic-skip hyper-parameter.</summary>
    public double Phi { get; init; } = 0.75;
    /// <summary>Extra prediction heads for Runge-Kutta orders 2 and 3 (0, 1 or 2).</summary>
    public int ExtraHeads { get; init; }
    /// <summary>Classes of a class-conditional model (EDM's <c>label_dim</c>: <c>map_label</c> on one-hot labels); 0 = unconditional.</summary>
    public int LabelDim { get; init; }

    public int Resolution => ImgResolution;
    public int ClassCount => LabelDim;
    public string HeadKeyPrefix => "heads.";
    public IVelocityModelConfig WithExtraHeads(int heads) => this with { ExtraHeads = heads };
    public IVelocityNetwork Build(Backends.IBackend backend) => new SongUNet(this, backend);
    public string Describe() => $"SongUNet C={ModelChannels} mult [{string.Join(",", ChannelMult)}] NB={NumBlocks}" +
        (LabelDim > 0 ? $", {LabelDim} classes" : "");

    public bool DynamicSkip => PriorShakedrop;
    public int Levels => ChannelMult.Length;
    public int EmbeddingChannels => ModelChannels * ChannelMultEmb;
    public int ResolutionAt(int level) => ImgResolution >> level;
    public int GroupsFor(int channels) => Math.Max(Math.Min(32, channels / 4), 1);

    public static SongUNetConfig MnistPaper => new()
    {
        ImgResolution = 28, InChannels = 1, OutChannels = 1,
        ModelChannels = 32, ChannelMult = [2, 2, 2], NumBlocks = 2, AttnResolutions = [],
        Dropout = 0.13, PriorShakedrop = true, Phi = 0.75,
    };

    public static SongUNetConfig Cifar10Paper => new()
    {
        ImgResolution = 32, InChannels = 3, OutChannels = 3,
        ModelChannels = 128, ChannelMult = [2, 2, 2], NumBlocks = 4, AttnResolutions = [16],
        Dropout = 0.13, PriorShakedrop = true, Phi = 0.75,
    };

    /// <summary>A tiny network for fast tests: every block kind, attention and both extra heads at a few thousand parameters.</summary>
    public static SongUNetConfig TestTiny => new()
    {
        ImgResolution = 8, InChannels = 2, OutChannels = 2,
        ModelChannels = 8, ChannelMult = [1, 2, 2], NumBlocks = 1, AttnResolutions = [4],
        Dropout = 0, PriorShakedrop = true, Phi = 0.75, ExtraHeads = 2,
    };

    /// <summary>The reparameterized noise encoder (SPEC section 2) paired with <paramref name="decoder"/>: outputs mu and logvar.</summary>
    public static SongUNetConfig EncoderFor(IVelocityModelConfig decoder)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        return new()
        {
            ImgResolution = decoder.Resolution, InChannels = decoder.InChannels, OutChannels = 2 * decoder.InChannels,
            ModelChannels = 32, ChannelMult = [2, 2, 2], NumBlocks = 2, AttnResolutions = [],
            Dropout = 0.13, PriorShakedrop = false, Phi = 0.75,
        };
    }

    public static SongUNetConfig Load(string path, ConfigRole role = ConfigRole.VelocityModel) => Parse(ConfigFile.ReadText(path), path, role);

    /// <param name="sourceName">Names the source in error messages (usually the file path).</param>
    public static SongUNetConfig Parse(string json, string sourceName, ConfigRole role = ConfigRole.VelocityModel) =>
        SongUNetConfigJson.Parse(json, sourceName, role);

    /// <summary>Throws an <see cref="InvalidDataFileException"/> naming <paramref name="sourceName"/> and the key if the config is not usable.</summary>
    public void Validate(string sourceName)
    {
        if (FindProblem() is { } problem)
            throw new InvalidDataFileException(sourceName, problem);
    }

    public string ToJson() => SongUNetConfigJson.Write(this);

    /// <summary>Writes the config atomically; an invalid config throws <see cref="ArgumentException"/> and nothing is written.</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (FindProblem() is { } problem)
            throw new ArgumentException($"refusing to save an invalid config: {problem}");
        byte[] bytes = Encoding.UTF8.GetBytes(ToJson() + "\n");
        AtomicFile.Write(path, stream => stream.Write(bytes));
    }

    /// <summary>The first problem, phrased as "key 'name': ...", or null when the config is usable.</summary>
    internal string? FindProblem()
    {
        static string Key(string key, string problem) => $"key '{key}': {problem}";

        if (ImgResolution <= 0) return Key("img_resolution", $"must be positive, got {ImgResolution}");
        if (InChannels <= 0) return Key("in_channels", $"must be positive, got {InChannels}");
        if (OutChannels <= 0) return Key("out_channels", $"must be positive, got {OutChannels}");
        if (ModelChannels <= 0) return Key("model_channels", $"must be positive, got {ModelChannels}");
        if (ChannelMult is null || ChannelMult.Length == 0) return Key("channel_mult", "must list at least one level");
        if (ChannelMult.Any(m => m <= 0)) return Key("channel_mult", $"every multiplier must be positive, got {Format(ChannelMult)}");
        if (ChannelMultEmb <= 0) return Key("channel_mult_emb", $"must be positive, got {ChannelMultEmb}");
        if (NumBlocks <= 0) return Key("num_blocks", $"must be positive, got {NumBlocks}");
        if (ChannelMultNoise <= 0) return Key("channel_mult_noise", $"must be positive, got {ChannelMultNoise}");
        long noiseChannels = (long)ModelChannels * ChannelMultNoise;
        // The sinusoid frequencies divide by (channels / 2 - 1).
        if (noiseChannels % 2 != 0 || noiseChannels < 4)
            return Key("model_channels", $"the positional noise embedding needs model_channels * channel_mult_noise to be even and at least 4, got {noiseChannels}");
        if (ModelChannels * (long)ChannelMult.Max() > int.MaxValue / 16 || (long)ModelChannels * ChannelMultEmb > int.MaxValue / 16)
            return Key("model_channels", "channel counts are too large");
        if (Levels > 16)
            return Key("channel_mult", $"at most 16 levels are supported, got {Levels}");
        if (ImgResolution % (1 << (Levels - 1)) != 0)
            return Key("img_resolution", $"{ImgResolution} must be divisible by 2^(levels - 1) = 2^{Levels - 1} for {Levels} levels (channel_mult {Format(ChannelMult)})");
        if (EmbeddingType != "positional")
            return Key("embedding_type", $"'{EmbeddingType}' is not supported; only 'positional' is");
        if (EncoderType != "standard")
            return Key("encoder_type", $"'{EncoderType}' is not supported; only 'standard' is");
        if (DecoderType != "standard")
            return Key("decoder_type", $"'{DecoderType}' is not supported; only 'standard' is");
        if (ResampleFilter is null || !ResampleFilter.SequenceEqual([1, 1]))
            return Key("resample_filter", $"{Format(ResampleFilter)} is not supported; only [1, 1] is");
        if (!(Dropout >= 0 && Dropout < 1))
            return Key("dropout", $"must be in [0, 1), got {Dropout}");
        if (!(Phi >= 0 && Phi <= 1))
            return Key("phi", $"must be in [0, 1], got {Phi}");
        if (LabelDim is < 0 or > 100_000)
            return Key("label_dim", $"must be 0 (unconditional) or a class count up to 100000, got {LabelDim}");
        if (ExtraHeads is < 0 or > 2)
            return Key("extra_heads", $"must be 0, 1 or 2 (heads for Runge-Kutta orders up to 3), got {ExtraHeads}");
        if (AttnResolutions is null)
            return Key("attn_resolutions", "must be a list (possibly empty)");
        int[] levelResolutions = Enumerable.Range(0, Levels).Select(ResolutionAt).ToArray();
        foreach (int r in AttnResolutions)
        {
            if (!levelResolutions.Contains(r))
                return Key("attn_resolutions", $"{r} is not one of the level resolutions {Format(levelResolutions)}");
        }
        return null;
    }

    private static string Format(int[]? values) => values is null ? "null" : "[" + string.Join(", ", values) + "]";

    public bool Equals(SongUNetConfig? other) =>
        other is not null
        && ImgResolution == other.ImgResolution
        && InChannels == other.InChannels
        && OutChannels == other.OutChannels
        && ModelChannels == other.ModelChannels
        && SequenceEqual(ChannelMult, other.ChannelMult)
        && ChannelMultEmb == other.ChannelMultEmb
        && NumBlocks == other.NumBlocks
        && SequenceEqual(AttnResolutions, other.AttnResolutions)
        && Dropout.Equals(other.Dropout)
        && EmbeddingType == other.EmbeddingType
        && ChannelMultNoise == other.ChannelMultNoise
        && EncoderType == other.EncoderType
        && DecoderType == other.DecoderType
        && SequenceEqual(ResampleFilter, other.ResampleFilter)
        && PriorShakedrop == other.PriorShakedrop
        && Phi.Equals(other.Phi)
        && ExtraHeads == other.ExtraHeads
        && LabelDim == other.LabelDim;

    public override int GetHashCode() =>
        HashCode.Combine(ImgResolution, InChannels, OutChannels, ModelChannels, NumBlocks, Dropout, PriorShakedrop, ExtraHeads);

    public override string ToString() => $"SongUNetConfig {SongUNetConfigJson.Write(this, indented: false)}";

    private static bool SequenceEqual(int[]? a, int[]? b) => a is null ? b is null : b is not null && a.AsSpan().SequenceEqual(b);
}
