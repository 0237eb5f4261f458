using System.Text;
using System.Text.Json;
using CatchUp.Models.Adm;

namespace CatchUp.IO;

/// <summary>
/// Reads an ADM model config: a JSON object with <c>"unet_type": "adm"</c> and the keyword arguments of the reference's
/// create_model (cm/script_util.py) under the same names and in the same forms, plus in_channels and num_classes.
/// Unknown keys, repeated keys and wrong types are errors naming the file and the key.
/// </summary>
internal static class AdmConfigJson
{
    public const string UnetTypeKey = "unet_type", UnetType = "adm";

    /// <summary>True when the JSON object's <c>unet_type</c> is "adm" (anything unparsable is left to the SongUNet parser).</summary>
    public static bool IsAdm(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, MaxDepth = 8 });
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty(UnetTypeKey, out var type)
                && type.ValueKind == JsonValueKind.String && type.GetString() == UnetType;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    public static AdmUNetConfig Parse(string json, string sourceName)
    {
        InvalidDataFileException Fail(string problem) => new(sourceName, problem);
        using JsonDocument document = ConfigFile.ParseObject(json, sourceName);
        var reader = new JsonKeyReader(sourceName);
        var config = new AdmUNetConfig { ImageSize = 0, NumChannels = 0, NumResBlocks = 0 };
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (JsonProperty property in document.RootElement.EnumerateObject())
        {
            string key = property.Name;
            JsonElement value = property.Value;
            if (!seen.Add(key)) throw Fail($"key '{key}' appears more than once");
            config = key switch
            {
                UnetTypeKey => reader.String(key, value) == UnetType ? config : throw Fail($"key '{key}': expected \"{UnetType}\", found {JsonText.Show(value)}"),
                "image_size" => config with { ImageSize = reader.Int(key, value) },
                "num_channels" => config with { NumChannels = reader.Int(key, value) },
                "num_res_blocks" => config with { NumResBlocks = reader.Int(key, value) },
                "channel_mult" => config with { ChannelMult = reader.String(key, value) },
                "learn_sigma" => config with { LearnSigma = reader.Bool(key, value) },
                "class_cond" => config with { ClassCond = reader.Bool(key, value) },
                "use_checkpoint" => config with { UseCheckpoint = reader.Bool(key, value) },
                "attention_resolutions" => config with { AttentionResolutions = reader.String(key, value) },
                "num_heads" => config with { NumHeads = reader.Int(key, value) },
                "num_head_channels" => config with { NumHeadChannels = reader.Int(key, value) },
                "num_heads_upsample" => config with { NumHeadsUpsample = reader.Int(key, value) },
                "use_scale_shift_norm" => config with { UseScaleShiftNorm = reader.Bool(key, value) },
                "dropout" => config with { Dropout = reader.Double(key, value) },
                "resblock_updown" => config with { ResblockUpdown = reader.Bool(key, value) },
                "use_fp16" => config with { UseFp16 = reader.Bool(key, value) },
                "use_new_attention_order" => config with { UseNewAttentionOrder = reader.Bool(key, value) },
                "prior_shakedrop" => config with { PriorShakedrop = reader.Bool(key, value) },
                "phi" => config with { Phi = reader.Double(key, value) },
                "predstep" => config with { Predstep = reader.Int(key, value) },
                "in_channels" => config with { InChannels = reader.Int(key, value) },
                "num_classes" => config with { NumClasses = reader.Int(key, value) },
                _ => throw Fail($"unknown key '{key}'"),
            };
        }
        foreach (string required in (string[])[UnetTypeKey, "image_size", "num_channels", "num_res_blocks"])
            if (!seen.Contains(required)) throw Fail($"missing required key '{required}'");
        config.Validate(sourceName);
        return config;
    }

    /// <summary>Every key, in create_model's forms (what <see cref="Parse"/> reads back to an equal config).</summary>
    public static string Write(AdmUNetConfig c, bool indented = true)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = indented }))
        {
            json.WriteStartObject();
            json.WriteString(UnetTypeKey, UnetType);
            json.WriteNumber("image_size", c.ImageSize);
            json.WriteNumber("num_channels", c.NumChannels);
            json.WriteNumber("num_res_blocks", c.NumResBlocks);
            json.WriteString("channel_mult", c.ChannelMult);
            json.WriteBoolean("learn_sigma", c.LearnSigma);
            json.WriteBoolean("class_cond", c.ClassCond);
            json.WriteBoolean("use_checkpoint", c.UseCheckpoint);
            json.WriteString("attention_resolutions", c.AttentionResolutions);
            json.WriteNumber("num_heads", c.NumHeads);
            json.WriteNumber("num_head_channels", c.NumHeadChannels);
            json.WriteNumber("num_heads_upsample", c.NumHeadsUpsample);
            json.WriteBoolean("use_scale_shift_norm", c.UseScaleShiftNorm);
            json.WriteNumber("dropout", c.Dropout);
            json.WriteBoolean("resblock_updown", c.ResblockUpdown);
            json.WriteBoolean("use_fp16", c.UseFp16);
            json.WriteBoolean("use_new_attention_order", c.UseNewAttentionOrder);
            json.WriteBoolean("prior_shakedrop", c.PriorShakedrop);
            json.WriteNumber("phi", c.Phi);
            json.WriteNumber("predstep", c.Predstep);
            json.WriteNumber("in_channels", c.InChannels);
            json.WriteNumber("num_classes", c.NumClasses);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
