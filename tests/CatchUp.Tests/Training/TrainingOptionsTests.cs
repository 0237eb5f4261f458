using CatchUp.IO;
using CatchUp.Models;
using CatchUp.Objectives;
using CatchUp.Training;
using Xunit;

namespace CatchUp.Tests.Training;

public class TrainingOptionsTests
{
    [Theory]
    [InlineData("quick")]
    [InlineData("mnist-paper")]
    [InlineData("cifar10-paper")]
    public void PresetsRoundTripThroughConfigJson(string preset)
    {
        var o = TrainingOptions.Preset(preset) with { Objective = new ObjectiveOptions { Order = 3, StepSize = StepSizeStrategy.Rule, Teacher = TeacherKind.Ema }, Seed = 12 };
        var back = TrainingOptions.Parse(o.ToJson(), "config.json", TrainingOptions.Quick);
        Assert.Equal(o.ToJson(), back.ToJson());
        Assert.Equal(o.Model, back.Model);
        Assert.Equal(o.Objective, back.Objective);
    }

    [Fact]
    public void PaperPresetsFollowTable11()
    {
        var mnist = TrainingOptions.MnistPaper;
        Assert.Equal((256, 3e-4f, 8000L, 50_000L, 0.9999f), (mnist.Batch, mnist.LearningRate, mnist.Warmup, mnist.Iterations, mnist.EmaDecay));
        var cifar = TrainingOptions.Cifar10Paper;
        Assert.Equal((128, 2e-4f, 5000L, 500_000L, true), (cifar.Batch, cifar.LearningRate, cifar.Warmup, cifar.Iterations, cifar.HorizontalFlip));
        Assert.True(mnist.Objective.UsesEncoder && cifar.Objective.UsesEncoder);
    }

    [Fact]
    public void AFlatFileOfReferenceModelKeysIsAModelConfig()
    {
        var o = TrainingOptions.Parse("""{ "img_resolution": 28, "in_channels": 1, "out_channels": 1, "model_channels": 8, "channel_mult": [1, 2], "attn_resolutions": [] }""",
            "m.json", TrainingOptions.Quick);
        Assert.Equal(8, ((SongUNetConfig)o.Model).ModelChannels);
        Assert.Equal(TrainingOptions.Quick.Iterations, o.Iterations);
    }

    [Fact]
    public void ASmallerEncoderRoundTripsAndIsValidated()
    {
        var o = AblationPlanEncoder();
        var back = TrainingOptions.Parse(o.ToJson(), "config.json", TrainingOptions.Quick);
        Assert.Equal(o.EncoderModel, back.EncoderModel);
        Assert.Equal(16, back.EncoderModelOrDefault.ModelChannels);
        Assert.Equal(32, TrainingOptions.Quick.EncoderModelOrDefault.ModelChannels); // the paper's encoder by default
        Assert.DoesNotContain("\"encoder\": {", TrainingOptions.Quick.ToJson());

        var wrongChannels = o with { EncoderModel = o.EncoderModel! with { OutChannels = 1 } };
        Assert.Contains("'encoder'", Assert.Throws<InvalidDataFileException>(() => wrongChannels.Validate("c.json")).Message);
        var dynamicSkip = o with { EncoderModel = o.EncoderModel! with { PriorShakedrop = true } };
        Assert.Contains("dynamic skip", Assert.Throws<InvalidDataFileException>(() => dynamicSkip.Validate("c.json")).Message);
    }

    private static TrainingOptions AblationPlanEncoder() => TrainingOptions.Quick with
    {
        Objective = new ObjectiveOptions { Kind = ObjectiveKind.Curvature },
        EncoderModel = (SongUNetConfig)TrainingOptions.Quick.Model with { OutChannels = 2, PriorShakedrop = false },
    };

    [Theory]
    [InlineData("""{ "training": { "iterations": "many" } }""", "'iterations'")]
    [InlineData("""{ "training": { "objective": "gan" } }""", "unknown objective 'gan'")]
    [InlineData("""{ "training": { "rk": 45 } }""", "45 is not one of 12, 23, 34")]
    [InlineData("""{ "training": { "step_size": "tiny" } }""", "'step_size'")]
    [InlineData("""{ "training": { "bogus": 1 } }""", "unknown training key 'bogus'")]
    [InlineData("""{ "training": { "lr": -1 } }""", "'lr'")]
    [InlineData("""{ "training": { "objective": "pd" } }""", "--from")]
    [InlineData("""{ "model": { "img_resolution": 27 } }""", "m.json")]
    [InlineData("""{ "extra": {} , "model": {} }""", "unknown top-level key 'extra'")]
    [InlineData("""[1, 2]""", "JSON object")]
    public void BadConfigsAreErrorsNamingTheFileAndKey(string json, string expected)
    {
        var e = Assert.ThrowsAny<InvalidDataFileException>(() => TrainingOptions.Parse(json, "m.json", TrainingOptions.Quick));
        Assert.Contains("m.json", e.Message);
        Assert.Contains(expected, e.Message);
    }
}
