using CatchUp.IO;

namespace CatchUp.Models.Adm;

/// <summary>
/// Hyper-parameters of an ADM UNetModel as the reference's <c>create_model</c> (cm/script_util.py) takes them, under the
/// same names and in the same forms (JSON with <c>"unet_type": "adm"</c>, see <see cref="AdmConfigJson"/>), plus
/// <see cref="InChannels"/> and <see cref="NumClasses"/>. Derived values (<see cref="ChannelMultipliers"/>,
/// <see cref="AttentionDownsampleRates"/>, head counts) are computed exactly as create_model and UNetModel do.
/// </summary>
public sealed record AdmUNetConfig : IVelocityModelConfig
{
    public required int ImageSize { get; init; }
    public required int NumChannels { get; init; }
    public required int NumResBlocks { get; init; }
    /// <summary>"" for the per-image-size default, else comma-separated multipliers ("1,2,3,4").</summary>
    public string ChannelMult { get; init; } = "";
    public bool LearnSigma { get; init; }
    public bool ClassCond { get; init; }
    public bool UseCheckpoint { get; init; }
    /// <summary>Comma-separated resolutions ("32,16,8"); attention runs at downsample rates image_size / resolution.</summary>
    public string AttentionResolutions { get; init; } = "16";
    public int NumHeads { get; init; } = 1;
    public int NumHeadChannels { get; init; } = -1;
    public int NumHeadsUpsample { get; init; } = -1;
    public bool UseScaleShiftNorm { get; init; }
    public double Dropout { get; init; }
    public bool ResblockUpdown { get; init; }
    /// <summary>Accepted; computation stays float32 here.</summary>
    public bool UseFp16 { get; init; }
    /// <summary>Accepted; the reference's default flash attention splits qkv as (three h d) whatever this says.</summary>
    public bool UseNewAttentionOrder { get; init; }
    public bool PriorShakedrop { get; init; }
    public double Phi { get; init; } = 0.75;
    /// <summary>1 to 3: predstep - 1 MetaGenerator heads (generator_list.N).</summary>
    public int Predstep { get; init; } = 1;
    public int InChannels { get; init; } = 3;
    public int NumClasses { get; init; } = 1000;

    /// <summary>out_channels of the reference (3 there, with in_channels 3; learn_sigma is false only).</summary>
    public int OutChannels => InChannels;
    public int TimeEmbedDim => 4 * NumChannels;
    public int ExtraHeads => Predstep - 1;

    public int Resolution => ImageSize;
    public int ClassCount => ClassCond ? NumClasses : 0;
    public string HeadKeyPrefix => "generator_list.";
    public IVelocityModelConfig WithExtraHeads(int heads) => this with { Predstep = heads + 1 };
    public IVelocityNetwork Build(Backends.IBackend backend) => new AdmUNet(this, backend);
    public string Describe() => $"ADM UNetModel C={NumChannels} mult [{string.Join(",", ChannelMultipliers)}] res blocks {NumResBlocks}, " +
        $"attention at {AttentionResolutions}" + (ClassCond ? $", {NumClasses} classes" : "");
    public string ToJson() => AdmConfigJson.Write(this);

    /// <summary>channel_mult as create_model resolves it.</summary>
    public double[] ChannelMultipliers => ChannelMult == ""
        ? ImageSize switch
        {
            512 => [0.5, 1, 1, 2, 2, 4, 4],
            256 => [1, 1, 2, 2, 4, 4],
            128 => [1, 1, 2, 3, 4],
            64 or 32 => [1, 2, 3, 4],
            _ => [],
        }
        : ParseList(ChannelMult).Select(v => (double)v).ToArray();

    /// <summary>The downsample rates (image_size // resolution) at which input and output blocks get attention.</summary>
    public int[] AttentionDownsampleRates => ParseList(AttentionResolutions).Select(r => ImageSize / r).ToArray();

    /// <summary>int(mult * model_channels), as UNetModel computes each level's width.</summary>
    public int ChannelsAt(int level) => (int)(ChannelMultipliers[level] * NumChannels);

    /// <summary>Heads of an AttentionBlock of <paramref name="channels"/> channels (decoder: <paramref name="upsample"/>).</summary>
    public int HeadsFor(int channels, bool upsample) => NumHeadChannels == -1
        ? (upsample && NumHeadsUpsample != -1 ? NumHeadsUpsample : NumHeads)
        : channels / NumHeadChannels;

    public static AdmUNetConfig Load(string path) => Parse(ConfigFile.ReadText(path), path);

    public static AdmUNetConfig Parse(string json, string sourceName) => AdmConfigJson.Parse(json, sourceName);

    /// <summary>The paper's ImageNet 64x64 network (about 296M parameters).</summary>
    public static AdmUNetConfig ImageNet64Paper => new()
    {
        ImageSize = 64, NumChannels = 192, NumResBlocks = 3, AttentionResolutions = "32,16,8", NumHeadChannels = 64,
        ClassCond = true, UseScaleShiftNorm = true, ResblockUpdown = true, Dropout = 0.1,
    };

    /// <summary>The same network kinds at CPU scale (2.3M parameters at 64x64): what <c>imagenet64-tiny</c> trains here.</summary>
    public static AdmUNetConfig ImageNet64Tiny => new()
    {
        ImageSize = 64, NumChannels = 32, NumResBlocks = 1, ChannelMult = "1,2,2,2", AttentionResolutions = "16,8", NumHeadChannels = 32,
        ClassCond = true, UseScaleShiftNorm = true, ResblockUpdown = true, Dropout = 0.1, PriorShakedrop = true,
    };

    public void Validate(string sourceName)
    {
        if (FindProblem() is { } problem) throw new InvalidDataFileException(sourceName, problem);
    }

    /// <summary>The first problem, phrased as "key 'name': ...", or null when the network can be built.</summary>
    internal string? FindProblem()
    {
        static string Key(string key, string problem) => $"key '{key}': {problem}";
        if (ImageSize <= 0) return Key("image_size", $"must be positive, got {ImageSize}");
        if (NumChannels <= 0) return Key("num_channels", $"must be positive, got {NumChannels}");
        if (NumResBlocks <= 0) return Key("num_res_blocks", $"must be positive, got {NumResBlocks}");
        if (InChannels <= 0) return Key("in_channels", $"must be positive, got {InChannels}");
        if (NumClasses <= 0) return Key("num_classes", $"must be positive, got {NumClasses}");
        if (LearnSigma) return Key("learn_sigma", "only false is supported (the velocity network has no variance output)");
        if (ChannelMult != "" && ParseList(ChannelMult).Length == 0 || ChannelMult != "" && ParseList(ChannelMult).Any(v => v <= 0))
            return Key("channel_mult", $"must be \"\" or comma-separated positive integers, got \"{ChannelMult}\"");
        var mult = ChannelMultipliers;
        if (mult.Length == 0) return Key("channel_mult", $"\"\" has no default for image_size {ImageSize} (defaults exist for 32, 64, 128, 256, 512)");
        if (mult.Length > 12) return Key("channel_mult", $"at most 12 levels are supported, got {mult.Length}");
        if (ImageSize % (1 << (mult.Length - 1)) != 0)
            return Key("image_size", $"{ImageSize} must be divisible by 2^(levels - 1) = {1 << (mult.Length - 1)}");
        var resolutions = ParseList(AttentionResolutions);
        if (resolutions.Length == 0 || resolutions.Any(r => r <= 0))
            return Key("attention_resolutions", $"must be comma-separated positive integers, got \"{AttentionResolutions}\"");
        if (NumHeadChannels == 0 || NumHeadChannels < -1) return Key("num_head_channels", $"must be -1 or positive, got {NumHeadChannels}");
        if (NumHeadChannels == -1 && NumHeads <= 0) return Key("num_heads", $"must be positive, got {NumHeads}");
        if (NumHeadsUpsample == 0 || NumHeadsUpsample < -1) return Key("num_heads_upsample", $"must be -1 or positive, got {NumHeadsUpsample}");
        if (!(Dropout >= 0 && Dropout < 1)) return Key("dropout", $"must be in [0, 1), got {Dropout}");
        if (!(Phi >= 0 && Phi <= 1)) return Key("phi", $"must be in [0, 1], got {Phi}");
        if (Predstep is < 1 or > 3) return Key("predstep", $"must be 1, 2 or 3, got {Predstep}");
        for (int level = 0; level < mult.Length; level++)
        {
            int c = ChannelsAt(level);
            if (c <= 0 || c % 32 != 0)
                return Key("num_channels", $"GroupNorm32 needs every level's width int(mult * num_channels) to be a positive multiple of 32, got {c} at level {level}");
            bool attention = level == mult.Length - 1 || AttentionDownsampleRates.Contains(1 << level);
            if (!attention) continue;
            if (NumHeadChannels != -1 && c % NumHeadChannels != 0)
                return Key("num_head_channels", $"{c} channels at level {level} are not divisible by {NumHeadChannels}");
            foreach (bool up in (bool[])[false, true])
            {
                int heads = HeadsFor(c, up);
                if (heads <= 0 || c % heads != 0)
                    return Key(NumHeadChannels == -1 ? (up ? "num_heads_upsample" : "num_heads") : "num_head_channels",
                        $"{c} channels at level {level} cannot be split into {heads} heads");
            }
        }
        return null;
    }

    /// <summary>Python's <c>tuple(int(v) for v in s.split(","))</c>; a malformed entry yields an empty list.</summary>
    private static int[] ParseList(string s)
    {
        var parts = s.Split(',');
        var values = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i].Trim(), out values[i])) return [];
        return values;
    }
}
