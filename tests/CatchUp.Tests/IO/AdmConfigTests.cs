using CatchUp.IO;
using CatchUp.Models.Adm;
using Xunit;

namespace CatchUp.Tests.IO;

/// <summary>ADM configs: "unet_type": "adm" plus create_model's keyword arguments, strictly.</summary>
public class AdmConfigTests
{
    private const string Source = "cfg/adm.json";

    private static string Json(params (string Key, string Raw)[] extra)
    {
        var pairs = new Dictionary<string, string>
        {
            ["unet_type"] = "\"adm\"", ["image_size"] = "64", ["num_channels"] = "64", ["num_res_blocks"] = "2",
        };
        foreach (var (key, raw) in extra)
        {
            if (raw is null) pairs.Remove(key);
            else pairs[key] = raw;
        }
        return "{" + string.Join(", ", pairs.Select(p => $"\"{p.Key}\": {p.Value}")) + "}";
    }

    private static string Fails(string json)
    {
        var e = Assert.Throws<InvalidDataFileException>(() => AdmUNetConfig.Parse(json, Source));
        Assert.StartsWith(Source + ": ", e.Message);
        return e.Message;
    }

    [Fact]
    public void OmittedKeysTakeCreateModelsDefaults()
    {
        var c = AdmUNetConfig.Parse(Json(), Source);
        Assert.Equal([1.0, 2, 3, 4], c.ChannelMultipliers);          // channel_mult "" at image_size 64
        Assert.Equal([4], c.AttentionDownsampleRates);                // attention_resolutions "16": 64 // 16
        Assert.Equal(1, c.NumHeads);
        Assert.Equal(-1, c.NumHeadChannels);
        Assert.False(c.ClassCond);
        Assert.False(c.UseScaleShiftNorm);
        Assert.Equal(0.0, c.Dropout);
        Assert.Equal(0.75, c.Phi);
        Assert.Equal(1, c.Predstep);
        Assert.Equal(3, c.InChannels);
        Assert.Equal(1000, c.NumClasses);
        Assert.Equal(256, c.TimeEmbedDim);
    }

    [Fact]
    public void PerSizeDefaultsAndExplicitMultipliersResolveAsCreateModelDoes()
    {
        Assert.Equal([1.0, 1, 2, 3, 4], AdmUNetConfig.Parse(Json(("image_size", "128")), Source).ChannelMultipliers);
        Assert.Equal([1.0, 2, 3, 4], AdmUNetConfig.Parse(Json(("image_size", "32")), Source).ChannelMultipliers);
        var c = AdmUNetConfig.Parse(Json(("channel_mult", "\"1,2\""), ("attention_resolutions", "\"32,16,8\"")), Source);
        Assert.Equal([1.0, 2], c.ChannelMultipliers);
        Assert.Equal([2, 4, 8], c.AttentionDownsampleRates);
        Assert.Contains("no default for image_size 48", Fails(Json(("image_size", "48"))));
    }

    [Fact]
    public void HeadsFollowNumHeadChannelsElseNumHeadsAndNumHeadsUpsample()
    {
        var byChannels = AdmUNetConfig.Parse(Json(("num_head_channels", "32"), ("num_heads", "4")), Source);
        Assert.Equal(2, byChannels.HeadsFor(64, upsample: false));
        Assert.Equal(2, byChannels.HeadsFor(64, upsample: true));
        var byHeads = AdmUNetConfig.Parse(Json(("num_heads", "4"), ("num_heads_upsample", "2")), Source);
        Assert.Equal(4, byHeads.HeadsFor(64, upsample: false));
        Assert.Equal(2, byHeads.HeadsFor(64, upsample: true));
        Assert.Equal(4, AdmUNetConfig.Parse(Json(("num_heads", "4")), Source).HeadsFor(64, upsample: true));
    }

    [Fact]
    public void EveryCreateModelKeywordIsAccepted()
    {
        var c = AdmUNetConfig.Parse(Json(("channel_mult", "\"1,2,2\""), ("learn_sigma", "false"), ("class_cond", "true"),
            ("use_checkpoint", "false"), ("attention_resolutions", "\"16,8\""), ("num_heads", "2"), ("num_head_channels", "-1"),
            ("num_heads_upsample", "-1"), ("use_scale_shift_norm", "true"), ("dropout", "0.1"), ("use_fp16", "true"),
            ("use_new_attention_order", "true"), ("prior_shakedrop", "true"), ("phi", "0.6"), ("predstep", "3"),
            ("in_channels", "1"), ("num_classes", "10")), Source);
        Assert.True(c.ClassCond && c.UseScaleShiftNorm && c.UseFp16 && c.UseNewAttentionOrder && c.PriorShakedrop);
        Assert.Equal((3, 1, 10, 2, 0.6), (c.Predstep, c.InChannels, c.NumClasses, c.ExtraHeads, c.Phi));
    }

    [Theory]
    [InlineData("bogus", "1", "unknown key 'bogus'")]
    [InlineData("unet_type", "\"song\"", "key 'unet_type'")]
    [InlineData("image_size", null, "missing required key 'image_size'")]
    [InlineData("num_res_blocks", null, "missing required key 'num_res_blocks'")]
    [InlineData("channel_mult", "[1, 2]", "key 'channel_mult': expected a string")]
    [InlineData("channel_mult", "\"1,x\"", "key 'channel_mult'")]
    [InlineData("attention_resolutions", "\"\"", "key 'attention_resolutions'")]
    [InlineData("learn_sigma", "true", "key 'learn_sigma': only false")]
    [InlineData("predstep", "4", "key 'predstep'")]
    [InlineData("dropout", "1", "key 'dropout'")]
    [InlineData("num_channels", "48", "multiple of 32")]
    [InlineData("num_head_channels", "48", "not divisible by 48")]
    [InlineData("num_heads", "3", "cannot be split into 3 heads")]
    [InlineData("class_cond", "1", "key 'class_cond': expected true or false")]
    public void BadConfigsAreErrorsNamingTheKey(string key, string? raw, string expected)
    {
        Assert.Contains(expected, Fails(Json((key, raw!))));
    }

    [Fact]
    public void RepeatedKeysAreErrors() =>
        Assert.Contains("appears more than once", Fails("""{"unet_type": "adm", "image_size": 64, "image_size": 32, "num_channels": 64, "num_res_blocks": 1}"""));

    [Fact]
    public void AdmConfigsAreRecognizedByTheirUnetType()
    {
        Assert.True(AdmConfigJson.IsAdm(Json()));
        Assert.False(AdmConfigJson.IsAdm("""{"img_resolution": 32}"""));
        Assert.False(AdmConfigJson.IsAdm("not json"));
    }
}
