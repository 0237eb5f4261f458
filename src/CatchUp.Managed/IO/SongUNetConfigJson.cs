using System.Text;
using System.Text.Json;
using CatchUp.Migration;
using CatchUp.Models;

namespace CatchUp.IO;

/// <summary>Reads and writes <see cref="SongUNetConfig"/> in the reference configs' snake_case JSON, strictly.</summary>
internal static class SongUNetConfigJson
{
    private const string DynamicSkipAlias = "dynamic_skip";

    /// <param name="warn">Where warnings go (ignored reference settings); default: a "catchup: warning:" line on stderr.</param>
    public static SongUNetConfig Parse(string json, string sourceName, ConfigRole role = ConfigRole.VelocityModel, Action<string>? warn = null)
    {
        InvalidDataFileException Fail(string problem) => new(sourceName, problem);
        using (JsonDocument document = ConfigFile.ParseObject(json, sourceName))
        {
            JsonElement root = document.RootElement;
            var reader = new JsonKeyReader(sourceName);
            var reference = new ReferenceConfig(sourceName, role, warn ?? ReferenceConfig.WarnToStderr);
            var config = new SongUNetConfig { ImgResolution = 0, InChannels = 0, OutChannels = 0 };
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty property in root.EnumerateObject())
            {
                string key = property.Name;
                JsonElement value = property.Value;
                if (!seen.Add(key))
                    throw Fail($"key '{key}' appears more than once");
                if (IgnoredKeys.Contains(key))
                {
                    CheckNeutral(key, value, sourceName);
                    continue;
                }
                if (ReferenceConfig.IsReferenceKey(key))
                {
                    reference.Read(key, value);
                    continue;
                }
                config = key switch
                {
                    "img_resolution" => config with { ImgResolution = reader.Int(key, value) },
                    "in_channels" => config with { InChannels = reader.Int(key, value) },
                    "out_channels" => config with { OutChannels = reader.Int(key, value) },
                    "model_channels" => config with { ModelChannels = reader.Int(key, value) },
                    "channel_mult" => config with { ChannelMult = reader.IntArray(key, value) },
                    "channel_mult_emb" => config with { ChannelMultEmb = reader.Int(key, value) },
                    "num_blocks" => config with { NumBlocks = reader.Int(key, value) },
                    "attn_resolutions" => config with { AttnResolutions = reader.IntArray(key, value) },
                    "dropout" => config with { Dropout = reader.Double(key, value) },
                    "embedding_type" => config with { EmbeddingType = reader.String(key, value) },
                    "channel_mult_noise" => config with { ChannelMultNoise = reader.Int(key, value) },
                    "encoder_type" => config with { EncoderType = reader.String(key, value) },
                    "decoder_type" => config with { DecoderType = reader.String(key, value) },
                    "resample_filter" => config with { ResampleFilter = reader.IntArray(key, value) },
                    "prior_shakedrop" or DynamicSkipAlias => config with { PriorShakedrop = reader.Bool(key, value) },
                    "phi" => config with { Phi = reader.Double(key, value) },
                    "extra_heads" => config with { ExtraHeads = reader.Int(key, value) },
                    "label_dim" => value.ValueKind == JsonValueKind.Null ? config : config with { LabelDim = reader.Int(key, value) },
                    _ => throw Fail($"unknown key '{key}'"),
                };
            }

            if (seen.Contains("prior_shakedrop") && seen.Contains(DynamicSkipAlias))
                throw Fail($"keys 'prior_shakedrop' and its alias '{DynamicSkipAlias}' are both set; use one");
            foreach (string required in (string[])["img_resolution", "in_channels", "out_channels"])
            {
                if (!seen.Contains(required)) throw Fail($"missing required key '{required}'");
            }

            config = reference.ApplyReferenceDefaults(reference.DropUnusedAttention(config), phiGiven: seen.Contains("phi"));
            config.Validate(sourceName);
            reference.CheckParameterCount(config);
            return config;
        }
    }

    /// <summary>
    /// Keys of the reference configs that select features we do not implement. They are accepted only with the value
    /// that turns the feature off, so a config that relies on one fails loudly instead of silently training something else.
    /// </summary>
    private static readonly HashSet<string> IgnoredKeys = ["augment_dim", "label_dropout", "use_fp16", "model_type"];

    private static void CheckNeutral(string key, JsonElement value, string sourceName)
    {
        bool isNull = value.ValueKind == JsonValueKind.Null;
        bool isZero = value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double d) && d == 0;
        (bool neutral, string allowed) = key switch
        {
            "use_fp16" => (isNull || value.ValueKind == JsonValueKind.False, "false or null"),
            "model_type" => (isNull || (value.ValueKind == JsonValueKind.String && value.GetString() == "SongUNet"), "\"SongUNet\" or null"),
            _ => (isNull || isZero, "0 or null"),
        };
        if (!neutral)
            throw new InvalidDataFileException(sourceName, $"key '{key}': {JsonText.Show(value)} is not supported; this implementation only accepts {allowed}");
    }

    public static string Write(SongUNetConfig config, bool indented = true)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = indented }))
        {
            json.WriteStartObject();
            json.WriteNumber("img_resolution", config.ImgResolution);
            json.WriteNumber("in_channels", config.InChannels);
            json.WriteNumber("out_channels", config.OutChannels);
            json.WriteNumber("model_channels", config.ModelChannels);
            WriteIntArray(json, "channel_mult", config.ChannelMult);
            json.WriteNumber("channel_mult_emb", config.ChannelMultEmb);
            json.WriteNumber("num_blocks", config.NumBlocks);
            WriteIntArray(json, "attn_resolutions", config.AttnResolutions);
            json.WriteNumber("dropout", config.Dropout);
            json.WriteString("embedding_type", config.EmbeddingType);
            json.WriteNumber("channel_mult_noise", config.ChannelMultNoise);
            json.WriteString("encoder_type", config.EncoderType);
            json.WriteString("decoder_type", config.DecoderType);
            WriteIntArray(json, "resample_filter", config.ResampleFilter);
            json.WriteBoolean("prior_shakedrop", config.PriorShakedrop);
            json.WriteNumber("phi", config.Phi);
            json.WriteNumber("extra_heads", config.ExtraHeads);
            if (config.LabelDim > 0) json.WriteNumber("label_dim", config.LabelDim);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteIntArray(Utf8JsonWriter json, string key, int[]? values)
    {
        if (values is null)
        {
            json.WriteNull(key);
            return;
        }
        json.WriteStartArray(key);
        foreach (int v in values) json.WriteNumberValue(v);
        json.WriteEndArray();
    }
}
