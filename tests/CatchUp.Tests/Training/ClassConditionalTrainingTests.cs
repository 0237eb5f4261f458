using CatchUp.Backends.Cpu;
using CatchUp.Data;
using CatchUp.IO;
using CatchUp.Models;
using CatchUp.Models.Adm;
using CatchUp.Objectives;
using CatchUp.Training;
using Xunit;
using static CatchUp.Tests.Models.NetworkTestKit;

namespace CatchUp.Tests.Training;

/// <summary>The trainer on class-conditional networks (SongUNet map_label, ADM label_emb) through the velocity-network
/// abstraction: labels reach the objective, resume stays exact, extra EMA rates are tracked and saved.</summary>
public class ClassConditionalTrainingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("catchup-conditional-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static ImageDataset Synthetic(int channels, int resolution, Func<int, int> label, int count = 32)
    {
        var images = Normal(count * channels * resolution * resolution, 17, 0.4f).Select(v => Math.Clamp(v, -1f, 1f)).ToArray();
        var labels = Enumerable.Range(0, count).Select(label).ToArray();
        return new ImageDataset(DatasetKind.FashionMnist, images, labels, channels, resolution, resolution, "synthetic");
    }

    private static TrainingOptions Options(IVelocityModelConfig model, ObjectiveOptions objective) => new()
    {
        Model = model, Objective = objective,
        Iterations = 6, Batch = 4, LearningRate = 2e-3f, Warmup = 2, EmaDecay = 0.9f, EmaStart = 2, ExtraEmaDecays = [0.5f],
        CheckpointEvery = 3, LogEvery = 1, SampleEvery = 1000, Seed = 5, Threads = 2,
    };

    private string Train(TrainingOptions o, ImageDataset data, string name, long? stopAfter = null, bool resume = false)
    {
        string run = Path.Combine(_dir, name);
        Directory.CreateDirectory(run);
        using var backend = new CpuBackend(o.Threads);
        using var trainer = new Trainer(o, backend, data, run);
        if (resume) trainer.Resume();
        trainer.Run(TextWriter.Null, stopAfter);
        return run;
    }

    private static Dictionary<string, float[]> Weights(string run) =>
        SafetensorsFile.Read(Checkpoint.PathIn(run)).Tensors.ToDictionary(kv => kv.Key, kv => kv.Value.Data);

    private static readonly SongUNetConfig SongConditional = SongUNetConfig.TestTiny with { ExtraHeads = 0, Dropout = 0.1, LabelDim = 10 };

    private static readonly AdmUNetConfig AdmConditional = new()
    {
        ImageSize = 8, NumChannels = 32, NumResBlocks = 1, ChannelMult = "1,2", AttentionResolutions = "4", NumHeadChannels = 16,
        ClassCond = true, NumClasses = 10, InChannels = 2, UseScaleShiftNorm = true, ResblockUpdown = true, Dropout = 0.1, PriorShakedrop = true,
    };

    public static TheoryData<string> Cases => new() { "songunet cud-rk12", "songunet cud-rk23+encoder", "adm cud-rk12", "adm cud-rk34" };

    private static TrainingOptions Case(string name)
    {
        IVelocityModelConfig model = name.StartsWith("adm") ? AdmConditional : SongConditional;
        var objective = name.EndsWith("rk12") ? new ObjectiveOptions { Order = 1 }
            : name.EndsWith("rk34") ? new ObjectiveOptions { Order = 3 }
            : new ObjectiveOptions { Order = 2, Encoder = true };
        return Options(model, objective);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ConditionalRunsResumeExactlyAndTheLabelsReachTheObjective(string name)
    {
        var o = Case(name);
        var data = Synthetic(2, 8, i => i % 10);
        string straight = Train(o, data, "straight");
        string split = Train(o, data, "split", stopAfter: 3);
        Train(o, data, "split", resume: true);
        var a = Weights(straight);
        var b = Weights(split);
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var key in a.Keys) Assert.True(a[key].SequenceEqual(b[key]), $"{name}: {key} differs after resume");
        // every rate of the EMA list is in the checkpoint, and it differs from the main EMA
        string extra = Trainer.ExtraEmaPrefix(0.5f);
        Assert.Contains(a.Keys, k => k.StartsWith(extra, StringComparison.Ordinal));
        string someWeight = a.Keys.First(k => k.StartsWith("ema.", StringComparison.Ordinal) && k.EndsWith(".weight") && a[k].Length > 64);
        Assert.False(a[someWeight].SequenceEqual(a[extra + someWeight["ema.".Length..]]));
        // the same images with other labels train other weights: the labels are used
        var relabelled = Weights(Train(o, Synthetic(2, 8, i => (i + 3) % 10), "relabelled"));
        Assert.False(a["model." + someWeight["ema.".Length..]].SequenceEqual(relabelled["model." + someWeight["ema.".Length..]]));
    }

    [Fact]
    public void AModelWithFewerClassesThanTheDataIsRefused()
    {
        var o = Options(SongConditional with { LabelDim = 4 }, new ObjectiveOptions { Order = 1 });
        using var backend = new CpuBackend(1);
        var e = Assert.Throws<InvalidDataFileException>(() => new Trainer(o, backend, Synthetic(2, 8, i => i % 10), _dir));
        Assert.Contains("10 classes but the class-conditional model only 4", e.Message);
    }

    [Fact]
    public void TheImageNetPresetsMirrorThePaperAndTrainTheirNetworks()
    {
        var paper = TrainingOptions.Preset("imagenet64-paper");
        var adm = Assert.IsType<AdmUNetConfig>(paper.Model);
        Assert.Equal((192, 3, "32,16,8", 64, true, true, true, 0.1), (adm.NumChannels, adm.NumResBlocks, adm.AttentionResolutions, adm.NumHeadChannels,
            adm.ClassCond, adm.UseScaleShiftNorm, adm.ResblockUpdown, adm.Dropout));
        Assert.True(adm.PriorShakedrop);
        Assert.Equal((1024, 4e-4f, 0.999f), (paper.Batch, paper.LearningRate, paper.EmaDecay));
        Assert.Equal([0.9999f, 0.9999432189950708f], paper.ExtraEmaDecays);
        var roundTrip = TrainingOptions.Parse(paper.ToJson(), "config.json", TrainingOptions.Quick);
        Assert.Equal(paper.Model, roundTrip.Model);
        Assert.Equal(paper.ExtraEmaDecays, roundTrip.ExtraEmaDecays);
        var tiny = TrainingOptions.Preset("imagenet64-tiny");
        Assert.Equal(64, tiny.Model.Resolution);
        Assert.Equal(1000, tiny.Model.ClassCount);
    }
}
