using System.Text.Json;
using System.Text.Json.Serialization;

namespace CatchUp.Evaluation;

/// <summary>
/// The evaluation classifier's architecture: a 3x3 stem convolution at full resolution, then for each further width a
/// stage of (2x average-pool down + 3x3 conv, 3x3 conv), every convolution followed by GroupNorm + SiLU; global average
/// pooling gives the feature vector (the last width), and a linear layer gives the class logits.
/// </summary>
public sealed record ClassifierConfig(int InChannels, int Resolution, int[] Widths, int Classes)
{
    public static readonly int[] DefaultWidths = [32, 64, 128];

    public static ClassifierConfig For(int inChannels, int resolution) => new(inChannels, resolution, DefaultWidths, Data.ImageDataset.ClassCount);

    public int FeatureDim => Widths[^1];
    /// <summary>Side of the last stage's feature map.</summary>
    public int FinalResolution => Resolution >> (Widths.Length - 1);

    /// <summary>Throws <see cref="ArgumentException"/> describing the first impossible value.</summary>
    public void Validate()
    {
        if (InChannels < 1) throw new ArgumentException($"in_channels must be at least 1, got {InChannels}");
        if (Classes < 2) throw new ArgumentException($"classes must be at least 2, got {Classes}");
        if (Widths is null || Widths.Length == 0 || Widths.Any(w => w < 4)) throw new ArgumentException("widths must be a non-empty list of channel counts >= 4");
        if (Resolution < 1 || Resolution % (1 << (Widths.Length - 1)) != 0)
            throw new ArgumentException($"resolution {Resolution} must be divisible by 2^{Widths.Length - 1} (one halving per stage)");
    }

    public string ToJson() => JsonSerializer.Serialize(new Json(InChannels, Resolution, Widths, Classes));

    /// <summary>Parses <see cref="ToJson"/>'s output; throws <see cref="ArgumentException"/> on malformed text.</summary>
    public static ClassifierConfig FromJson(string text)
    {
        Json? j;
        try { j = JsonSerializer.Deserialize<Json>(text, new JsonSerializerOptions { UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow }); }
        catch (JsonException e) { throw new ArgumentException($"architecture is not valid JSON: {e.Message}", e); }
        if (j is null || j.Widths is null) throw new ArgumentException("architecture JSON lacks its fields");
        var config = new ClassifierConfig(j.InChannels, j.Resolution, j.Widths, j.Classes);
        config.Validate();
        return config;
    }

    public bool Equals(ClassifierConfig? other) =>
        other is not null && InChannels == other.InChannels && Resolution == other.Resolution && Classes == other.Classes && Widths.SequenceEqual(other.Widths);

    public override int GetHashCode() => HashCode.Combine(InChannels, Resolution, Classes, Widths.Length);

    public override string ToString() => $"{InChannels}x{Resolution}x{Resolution} -> widths [{string.Join(",", Widths)}] -> {Classes} classes";

    private sealed record Json(
        [property: JsonPropertyName("in_channels"), JsonRequired] int InChannels,
        [property: JsonPropertyName("resolution"), JsonRequired] int Resolution,
        [property: JsonPropertyName("widths"), JsonRequired] int[] Widths,
        [property: JsonPropertyName("classes"), JsonRequired] int Classes);
}
