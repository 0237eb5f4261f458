using CatchUp.Backends.Cpu;
using CatchUp.IO;
using CatchUp.Migration;
using CatchUp.Models;
using CatchUp.Training;
using Xunit;
using static CatchUp.Tests.Models.NetworkTestKit;

namespace CatchUp.Tests.Migration;

/// <summary>The reference's own configs/{mnist,cifar10}_{de,en}.json (copies in tests/golden/reference_configs) load unchanged.</summary>
public class ReferenceConfigTests
{
    private static string Reference(string name) => Golden(Path.Combine("reference_configs", name + ".json"));

    private static (SongUNetConfig Config, List<string> Warnings) Load(string name, ConfigRole role)
    {
        var warnings = new List<string>();
        string path = Reference(name);
        return (SongUNetConfigJson.Parse(File.ReadAllText(path), path, role, warnings.Add), warnings);
    }

    [Fact]
    public void MnistDecoderLoadsWithOneWarningForItsUnusedAttentionResolution()
    {
        var (c, warnings) = Load("mnist_de", ConfigRole.VelocityModel);
        // Without a "phi" key a reference file gets the reference SongUNet's default, 0.25.
        Assert.Equal(SongUNetConfig.MnistPaper with { PriorShakedrop = false, Phi = 0.25 }, c);
        Assert.Empty(c.AttnResolutions);
        string warning = Assert.Single(warnings);
        Assert.Contains("mnist_de.json", warning);
        Assert.Contains("attn_resolutions [16]", warning);
        Assert.Contains("[28, 14, 7]", warning);
    }

    [Fact]
    public void CifarDecoderKeepsItsAttentionAndMatchesItsParameterCount()
    {
        var (c, warnings) = Load("cifar10_de", ConfigRole.VelocityModel);
        Assert.Empty(warnings);
        Assert.Equal([16], c.AttnResolutions);
        Assert.Equal(0.75, c.Phi);
        Assert.Equal(55_732_739, SongUNetParameterCount.Of(c));
    }

    [Fact]
    public void EncoderConfigsLoadAsEncoders()
    {
        var (mnist, mnistWarnings) = Load("mnist_en", ConfigRole.NoiseEncoder);
        Assert.Equal((1, 2, 28), (mnist.InChannels, mnist.OutChannels, mnist.ImgResolution));
        // The reference's mnist_en.json states its decoder's count; for an encoder that is a warning, not an error.
        Assert.Equal(2, mnistWarnings.Count);
        Assert.Contains(mnistWarnings, w => w.Contains("2,155,201") && w.Contains("2,155,778"));

        var (cifar, cifarWarnings) = Load("cifar10_en", ConfigRole.NoiseEncoder);
        Assert.Equal((3, 6, 32, 32), (cifar.InChannels, cifar.OutChannels, cifar.ImgResolution, cifar.ModelChannels));
        Assert.Empty(cifarWarnings);
    }

    [Fact]
    public void WrongParameterCountForAVelocityModelIsAnErrorNamingBothNumbers()
    {
        var e = Assert.Throws<InvalidDataFileException>(() => Load("mnist_en", ConfigRole.VelocityModel));
        Assert.Contains("mnist_en.json", e.Message);
        Assert.Contains("num_params", e.Message);
        Assert.Contains("2,155,201", e.Message);
        Assert.Contains("2,155,778", e.Message);
    }

    [Theory]
    [InlineData("\"unet_type\": \"adm\"", "unet_type")]
    [InlineData("\"unet_type\": 3", "unet_type")]
    [InlineData("\"use_dwt\": \"True\"", "use_dwt")]
    [InlineData("\"use_dwt\": true", "use_dwt")]
    [InlineData("\"num_params\": \"2.1\"", "num_params")]
    [InlineData("\"num_params\": 0.000001", "num_params")]
    public void NonNeutralReferenceKeysAreErrors(string pair, string key)
    {
        string json = $"{{\"img_resolution\": 8, \"in_channels\": 1, \"out_channels\": 1, \"model_channels\": 8, \"channel_mult\": [1, 2], \"num_blocks\": 1, {pair}}}";
        var e = Assert.Throws<InvalidDataFileException>(() => SongUNetConfigJson.Parse(json, "x.json", ConfigRole.VelocityModel, _ => { }));
        Assert.StartsWith("x.json: key '" + key + "'", e.Message);
    }

    [Theory]
    [InlineData("\"use_dwt\": \"False\"")]
    [InlineData("\"use_dwt\": false")]
    [InlineData("\"unet_type\": \"songunet\"")]
    [InlineData("\"label_dropout\": 0")]
    [InlineData("\"augment_dim\": 0")]
    public void NeutralReferenceKeysAreAccepted(string pair)
    {
        string json = $"{{\"img_resolution\": 8, \"in_channels\": 1, \"out_channels\": 1, \"model_channels\": 8, \"channel_mult\": [1, 2], \"num_blocks\": 1, \"attn_resolutions\": [4], {pair}}}";
        var warnings = new List<string>();
        var c = SongUNetConfigJson.Parse(json, "x.json", ConfigRole.VelocityModel, warnings.Add);
        Assert.Equal([4], c.AttnResolutions);
        Assert.Empty(warnings);
    }

    [Fact]
    public void TrainingConfigAcceptsReferenceFilesFlatAndNested()
    {
        string flat = File.ReadAllText(Reference("cifar10_de"));
        Assert.Equal(128, ((SongUNetConfig)TrainingOptions.Parse(flat, "flat.json", TrainingOptions.Quick).Model).ModelChannels);
        string nested = $"{{\"model\": {flat}, \"encoder\": {File.ReadAllText(Reference("cifar10_en"))}}}";
        var o = TrainingOptions.Parse(nested, "nested.json", TrainingOptions.Quick);
        Assert.Equal(6, o.EncoderModel!.OutChannels);
    }

    [Fact]
    public void ComputedParameterCountEqualsTheBuiltNetworks()
    {
        using var backend = new CpuBackend(1);
        var small = SongUNetConfig.Load(Golden("songunet_small.json"));
        var encoder = SongUNetConfig.Load(Golden("songunet_encoder.json"));
        foreach (var config in new[] { SongUNetConfig.MnistPaper, SongUNetConfig.TestTiny, SongUNetConfig.TestTiny with { LabelDim = 10 }, small, encoder, (SongUNetConfig)TrainingOptions.Quick.Model })
        {
            using var net = new SongUNet(config, backend);
            Assert.Equal(net.Parameters.ElementCount, SongUNetParameterCount.Of(config));
        }
    }
}
