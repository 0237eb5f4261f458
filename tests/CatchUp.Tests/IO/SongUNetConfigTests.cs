using CatchUp.IO;
using CatchUp.Models;
using Xunit;

namespace CatchUp.Tests.IO;

public class SongUNetConfigTests
{
    private const string Source = "cfg/test.json";

    /// <summary>A minimal valid config plus one extra "key": value pair (raw JSON), replacing a base key of the same name.</summary>
    private static string Json(string? key = null, string? rawValue = null)
    {
        var pairs = new List<(string Key, string Value)> { ("img_resolution", "32"), ("in_channels", "3"), ("out_channels", "3") };
        if (key is not null)
        {
            pairs.RemoveAll(p => p.Key == key);
            if (rawValue is not null) pairs.Add((key, rawValue));
        }
        return "{" + string.Join(", ", pairs.Select(p => $"\"{p.Key}\": {p.Value}")) + "}";
    }

    private static InvalidDataFileException ParseFails(string json)
    {
        var e = Assert.Throws<InvalidDataFileException>(() => SongUNetConfig.Parse(json, Source));
        Assert.StartsWith(Source + ": ", e.Message);
        Assert.Equal(Source, e.FilePath);
        return e;
    }

    [Fact]
    public void OmittedKeysTakeTheReferenceDefaults()
    {
        SongUNetConfig c = SongUNetConfig.Parse(Json(), Source);

        Assert.Equal(32, c.ImgResolution);
        Assert.Equal(128, c.ModelChannels);
        Assert.Equal([1, 2, 2, 2], c.ChannelMult);
        Assert.Equal(4, c.ChannelMultEmb);
        Assert.Equal(4, c.NumBlocks);
        Assert.Equal([16], c.AttnResolutions);
        Assert.Equal(0.10, c.Dropout);
        Assert.Equal("positional", c.EmbeddingType);
        Assert.Equal(1, c.ChannelMultNoise);
        Assert.Equal("standard", c.EncoderType);
        Assert.Equal("standard", c.DecoderType);
        Assert.Equal([1, 1], c.ResampleFilter);
        Assert.False(c.PriorShakedrop);
        Assert.Equal(0.75, c.Phi);
        Assert.Equal(0, c.ExtraHeads);
    }

    [Fact]
    public void ReferenceStyleConfigWithNeutralIgnoredKeysLoads()
    {
        const string json = """
            {
              // comments are allowed in hand-written configs
              "img_resolution": 28, "in_channels": 1, "out_channels": 1, "label_dim": 0, "augment_dim": 0,
              "model_channels": 32, "channel_mult": [2, 2, 2], "channel_mult_emb": 4, "num_blocks": 2,
              "attn_resolutions": [], "dropout": 0.13, "label_dropout": 0, "embedding_type": "positional",
              "channel_mult_noise": 1, "encoder_type": "standard", "decoder_type": "standard",
              "resample_filter": [1, 1], "prior_shakedrop": true, "phi": 0.75,
              "use_fp16": false, "model_type": "SongUNet"
            }
            """;

        Assert.Equal(SongUNetConfig.MnistPaper, SongUNetConfig.Parse(json, Source));
    }

    [Fact]
    public void DynamicSkipIsAnAliasForPriorShakedrop()
    {
        Assert.True(SongUNetConfig.Parse(Json("dynamic_skip", "true"), Source).PriorShakedrop);
        Assert.True(SongUNetConfig.Parse(Json("dynamic_skip", "true"), Source).DynamicSkip);
        Assert.False(SongUNetConfig.Parse(Json("dynamic_skip", "false"), Source).PriorShakedrop);

        string both = Json("dynamic_skip", "true").Replace("}", ", \"prior_shakedrop\": true}");
        Assert.Contains("'prior_shakedrop' and its alias 'dynamic_skip' are both set", ParseFails(both).Message);
    }

    public static TheoryData<SongUNetConfig> Presets() =>
    [
        SongUNetConfig.MnistPaper,
        SongUNetConfig.Cifar10Paper,
        SongUNetConfig.TestTiny,
        SongUNetConfig.EncoderFor(SongUNetConfig.MnistPaper),
        SongUNetConfig.EncoderFor(SongUNetConfig.Cifar10Paper),
    ];

    [Theory]
    [MemberData(nameof(Presets))]
    public void PresetsAreValidAndRoundTripThroughJson(SongUNetConfig preset)
    {
        preset.Validate("preset");
        SongUNetConfig parsed = SongUNetConfig.Parse(preset.ToJson(), Source);
        Assert.Equal(preset, parsed);
        Assert.Equal(preset.GetHashCode(), parsed.GetHashCode());
    }

    [Fact]
    public void SaveThenLoadRoundTripsAndWritesReferenceKeys()
    {
        using var dir = new TempDirectory();
        string path = dir.File("tiny.json");
        SongUNetConfig config = SongUNetConfig.TestTiny with { Dropout = 0.05, Phi = 0.25 };

        config.Save(path);

        Assert.Equal(config, SongUNetConfig.Load(path));
        string text = File.ReadAllText(path);
        foreach (string key in (string[])["img_resolution", "in_channels", "out_channels", "model_channels", "channel_mult",
                     "channel_mult_emb", "num_blocks", "attn_resolutions", "dropout", "embedding_type", "channel_mult_noise",
                     "encoder_type", "decoder_type", "resample_filter", "prior_shakedrop", "phi", "extra_heads"])
            Assert.Contains($"\"{key}\":", text);
        Assert.DoesNotContain("dynamic_skip", text);
        Assert.Equal(["tiny.json"], dir.FileNames());
    }

    [Fact]
    public void EqualityComparesArrayContents()
    {
        Assert.Equal(SongUNetConfig.Cifar10Paper, SongUNetConfig.Cifar10Paper);
        Assert.NotEqual(SongUNetConfig.Cifar10Paper, SongUNetConfig.Cifar10Paper with { AttnResolutions = [] });
        Assert.NotEqual(SongUNetConfig.Cifar10Paper, SongUNetConfig.Cifar10Paper with { ExtraHeads = 1 });
    }

    [Fact]
    public void PresetsMatchTheSpec()
    {
        SongUNetConfig mnist = SongUNetConfig.MnistPaper;
        Assert.Equal((28, 1, 1, 32, 2, 0.13, true, 0.75), (mnist.ImgResolution, mnist.InChannels, mnist.OutChannels, mnist.ModelChannels, mnist.NumBlocks, mnist.Dropout, mnist.PriorShakedrop, mnist.Phi));
        Assert.Equal([2, 2, 2], mnist.ChannelMult);
        Assert.Empty(mnist.AttnResolutions);

        SongUNetConfig cifar = SongUNetConfig.Cifar10Paper;
        Assert.Equal((32, 3, 3, 128, 4, 0.13, true), (cifar.ImgResolution, cifar.InChannels, cifar.OutChannels, cifar.ModelChannels, cifar.NumBlocks, cifar.Dropout, cifar.PriorShakedrop));
        Assert.Equal([16], cifar.AttnResolutions);

        SongUNetConfig encoder = SongUNetConfig.EncoderFor(cifar);
        Assert.Equal((32, 3, 6, 32, 2, false), (encoder.ImgResolution, encoder.InChannels, encoder.OutChannels, encoder.ModelChannels, encoder.NumBlocks, encoder.PriorShakedrop));
        Assert.Equal([2, 2, 2], encoder.ChannelMult);
        Assert.Empty(encoder.AttnResolutions);

        SongUNetConfig tiny = SongUNetConfig.TestTiny;
        Assert.Equal((8, 2, 2, 8, 1, 0.0, true, 2), (tiny.ImgResolution, tiny.InChannels, tiny.OutChannels, tiny.ModelChannels, tiny.NumBlocks, tiny.Dropout, tiny.PriorShakedrop, tiny.ExtraHeads));
        Assert.Equal([1, 2, 2], tiny.ChannelMult);
        Assert.Equal([4], tiny.AttnResolutions);

        // Each access returns a fresh instance, so mutating one preset's arrays cannot leak into another.
        Assert.NotSame(SongUNetConfig.MnistPaper.ChannelMult, SongUNetConfig.MnistPaper.ChannelMult);
    }

    [Fact]
    public void Helpers()
    {
        SongUNetConfig cifar = SongUNetConfig.Cifar10Paper;
        Assert.Equal(3, cifar.Levels);
        Assert.Equal(512, cifar.EmbeddingChannels);
        Assert.Equal(8, cifar.ResolutionAt(2));
        Assert.Equal(32, cifar.GroupsFor(256));
        Assert.Equal(32, cifar.GroupsFor(128));
        Assert.Equal(16, cifar.GroupsFor(64));
        Assert.Equal(2, cifar.GroupsFor(8));
        Assert.Equal(1, cifar.GroupsFor(2));
    }

    /// <summary>key, raw JSON value (null removes the key), expected message fragment.</summary>
    public static TheoryData<string, string?, string> InvalidValues() => new()
    {
        { "img_resolution", null, "missing required key 'img_resolution'" },
        { "in_channels", null, "missing required key 'in_channels'" },
        { "out_channels", null, "missing required key 'out_channels'" },
        { "img_resolution", "0", "key 'img_resolution': must be positive, got 0" },
        { "img_resolution", "30", "key 'img_resolution': 30 must be divisible by 2^(levels - 1) = 2^3" },
        { "img_resolution", "32.0", "key 'img_resolution': expected an integer, found a number 32.0" },
        { "img_resolution", "\"32\"", "key 'img_resolution': expected an integer, found a string \"32\"" },
        { "img_resolution", "null", "key 'img_resolution': expected an integer, found null" },
        { "img_resolution", "99999999999", "key 'img_resolution': expected an integer" },
        { "in_channels", "-1", "key 'in_channels': must be positive, got -1" },
        { "out_channels", "0", "key 'out_channels': must be positive" },
        { "model_channels", "0", "key 'model_channels': must be positive" },
        { "model_channels", "3", "key 'model_channels': the positional noise embedding needs" },
        { "model_channels", "2", "key 'model_channels': the positional noise embedding needs model_channels * channel_mult_noise to be even and at least 4, got 2" },
        { "channel_mult", "[]", "key 'channel_mult': must list at least one level" },
        { "channel_mult", "[1, 0]", "key 'channel_mult': every multiplier must be positive, got [1, 0]" },
        { "channel_mult", "[1, \"2\"]", "key 'channel_mult': expected an array of integers" },
        { "channel_mult", "2", "key 'channel_mult': expected an array of integers, found a number" },
        { "channel_mult_emb", "0", "key 'channel_mult_emb': must be positive" },
        { "num_blocks", "0", "key 'num_blocks': must be positive" },
        { "channel_mult_noise", "0", "key 'channel_mult_noise': must be positive" },
        { "attn_resolutions", "16", "key 'attn_resolutions': expected an array of integers" },
        { "dropout", "1", "key 'dropout': must be in [0, 1), got 1" },
        { "dropout", "-0.1", "key 'dropout': must be in [0, 1)" },
        { "dropout", "true", "key 'dropout': expected a number, found a boolean" },
        { "dropout", "1e999", "key 'dropout': expected a number" },
        { "phi", "1.5", "key 'phi': must be in [0, 1], got 1.5" },
        { "phi", "-0.25", "key 'phi': must be in [0, 1]" },
        { "embedding_type", "\"fourier\"", "key 'embedding_type': 'fourier' is not supported; only 'positional' is" },
        { "embedding_type", "1", "key 'embedding_type': expected a string" },
        { "encoder_type", "\"residual\"", "key 'encoder_type': 'residual' is not supported; only 'standard' is" },
        { "decoder_type", "\"skip\"", "key 'decoder_type': 'skip' is not supported; only 'standard' is" },
        { "resample_filter", "[1, 3, 3, 1]", "key 'resample_filter': [1, 3, 3, 1] is not supported; only [1, 1] is" },
        { "prior_shakedrop", "1", "key 'prior_shakedrop': expected true or false, found a number" },
        { "dynamic_skip", "\"yes\"", "key 'dynamic_skip': expected true or false, found a string" },
        { "extra_heads", "3", "key 'extra_heads': must be 0, 1 or 2" },
        { "extra_heads", "-1", "key 'extra_heads': must be 0, 1 or 2" },
        { "label_dim", "-1", "key 'label_dim': must be 0 (unconditional) or a class count" },
        { "label_dim", "1.5", "key 'label_dim'" },
        { "augment_dim", "9", "key 'augment_dim': 9 is not supported" },
        { "label_dropout", "0.1", "key 'label_dropout': 0.1 is not supported" },
        { "use_fp16", "true", "key 'use_fp16': true is not supported; this implementation only accepts false or null" },
        { "model_type", "\"DhariwalUNet\"", "key 'model_type': \"DhariwalUNet\" is not supported" },
        { "num_heads", "4", "unknown key 'num_heads'" },
        { "Img_Resolution", "32", "unknown key 'Img_Resolution'" },
    };

    [Theory]
    [MemberData(nameof(InvalidValues))]
    public void InvalidValueIsRejectedNamingTheKey(string key, string? rawValue, string expected)
    {
        Assert.Contains(expected, ParseFails(Json(key, rawValue)).Message);
    }

    [Theory]
    [InlineData("", "not valid JSON")]
    [InlineData("{\"img_resolution\": ", "not valid JSON")]
    [InlineData("[1, 2]", "a config must be a JSON object, found an array")]
    [InlineData("{\"img_resolution\": 32, \"in_channels\": 3, \"out_channels\": 3, \"in_channels\": 4}", "key 'in_channels' appears more than once")]
    public void MalformedDocumentIsRejected(string json, string expected)
    {
        Assert.Contains(expected, ParseFails(json).Message);
    }

    /// <summary>A config from a pipe (<c>--model /dev/stdin</c>, <c>&lt;(...)</c>): read, and bounded like a file.</summary>
    [Fact]
    public void LoadReadsAPipeUpToTheLimit()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var dir = new TempDirectory();
        string Fifo(string name)
        {
            string path = dir.File(name);
            using var mkfifo = System.Diagnostics.Process.Start("mkfifo", path);
            mkfifo.WaitForExit();
            Assert.Equal(0, mkfifo.ExitCode);
            return path;
        }
        string pipe = Fifo("model.json");
        var writer = Task.Run(() => File.WriteAllText(pipe, """{ "img_resolution": 8, "in_channels": 1, "out_channels": 1, "model_channels": 8, "channel_mult": [1, 2], "num_blocks": 1, "attn_resolutions": [] }"""));
        Assert.Equal(8, SongUNetConfig.Load(pipe).ModelChannels);
        writer.Wait(TimeSpan.FromSeconds(30));

        string endless = Fifo("endless.json");
        var flood = Task.Run(() =>
        {
            try
            {
                using var w = new FileStream(endless, FileMode.Open, FileAccess.Write);
                var chunk = new byte[65536];
                chunk.AsSpan().Fill((byte)' ');
                for (int i = 0; i < 64; i++) w.Write(chunk); // 4 MB of spaces, more than the limit
            }
            catch (IOException) { } // the reader stopped at the limit and closed the pipe
        });
        Assert.Contains("limit for a config", Assert.Throws<InvalidDataFileException>(() => SongUNetConfig.Load(endless)).Message);
        flood.Wait(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public void LoadReportsFileProblems()
    {
        using var dir = new TempDirectory();
        string missing = dir.File("missing.json");
        Assert.Equal($"{missing}: file not found", Assert.Throws<InvalidDataFileException>(() => SongUNetConfig.Load(missing)).Message);

        string binary = dir.File("binary.json");
        File.WriteAllBytes(binary, [0x7B, 0xFF, 0x7D]);
        Assert.Equal($"{binary}: file is not valid UTF-8", Assert.Throws<InvalidDataFileException>(() => SongUNetConfig.Load(binary)).Message);

        string huge = dir.File("huge.json");
        using (var stream = File.Create(huge)) stream.SetLength(SongUNetConfig.MaxFileBytes + 1);
        Assert.Contains("larger than the", Assert.Throws<InvalidDataFileException>(() => SongUNetConfig.Load(huge)).Message);

        string bad = dir.File("bad.json");
        File.WriteAllText(bad, Json("dropout", "2"));
        Assert.Equal($"{bad}: key 'dropout': must be in [0, 1), got 2", Assert.Throws<InvalidDataFileException>(() => SongUNetConfig.Load(bad)).Message);
    }

    [Fact]
    public void SavingAnInvalidConfigWritesNothing()
    {
        using var dir = new TempDirectory();
        string path = dir.File("bad.json");

        var e = Assert.Throws<ArgumentException>(() => (SongUNetConfig.TestTiny with { ExtraHeads = 5 }).Save(path));

        Assert.Contains("extra_heads", e.Message);
        Assert.Empty(dir.FileNames());
    }

    [Fact]
    public void ValidateNamesTheSourceAndKey()
    {
        var e = Assert.Throws<InvalidDataFileException>(() => (SongUNetConfig.MnistPaper with { AttnResolutions = [14, 5] }).Validate("mnist preset"));
        Assert.Equal("mnist preset: key 'attn_resolutions': 5 is not one of the level resolutions [28, 14, 7]", e.Message);
    }
}
