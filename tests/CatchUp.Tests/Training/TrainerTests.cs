using CatchUp.Backends.Cpu;
using CatchUp.Data;
using CatchUp.IO;
using CatchUp.Models;
using CatchUp.Objectives;
using CatchUp.Training;
using Xunit;
using static CatchUp.Tests.Models.NetworkTestKit;

namespace CatchUp.Tests.Training;

public class TrainerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("catchup-trainer-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static ImageDataset Synthetic(int count = 40, float poison = float.NaN, int poisoned = 0)
    {
        var images = Normal(count * 2 * 64, 17, 0.4f).Select(v => Math.Clamp(v, -1f, 1f)).ToArray();
        for (int i = 0; i < poisoned * 128; i++) images[i] = poison;
        return new ImageDataset(DatasetKind.FashionMnist, images, new byte[count], 2, 8, 8, "synthetic");
    }

    private static TrainingOptions Options(ObjectiveOptions objective) => new()
    {
        Model = SongUNetConfig.TestTiny with { ExtraHeads = 0, Dropout = 0.1 },
        Objective = objective,
        Iterations = 8, Batch = 4, LearningRate = 2e-3f, Warmup = 2, EmaDecay = 0.9f, EmaStart = 2,
        CheckpointEvery = 4, LogEvery = 1, SampleEvery = 1000, Seed = 21, Threads = 2,
    };

    private string Train(TrainingOptions o, string name, long? stopAfter = null, bool resume = false,
        ConvAlgorithm conv = ConvAlgorithm.Direct, string? plan = null, Action<ConvPlan>? inspect = null)
    {
        string run = Path.Combine(_dir, name);
        Directory.CreateDirectory(run);
        using var backend = new CpuBackend(o.Threads) { ConvAlgorithm = conv };
        if (plan is not null) backend.ConvPlan.Load(plan);
        using var trainer = new Trainer(o, backend, Synthetic(), run);
        if (resume) trainer.Resume();
        trainer.Run(TextWriter.Null, stopAfter);
        inspect?.Invoke(backend.ConvPlan);
        return run;
    }

    [Fact]
    public void AutoConvPlanIsRecordedInTheCheckpointAndReusedOnResume()
    {
        var o = Options(new ObjectiveOptions { Order = 1 });
        string split = Train(o, "split", stopAfter: 4, conv: ConvAlgorithm.Auto);
        string recorded = SafetensorsFile.Read(Checkpoint.PathIn(split)).Metadata["conv_plan"];
        // every 3x3 shape of the tiny network (8x8, 4x4, 2x2 maps) has a concrete choice
        Assert.Contains("@8x8=", recorded);
        Assert.Contains("@2x2=", recorded);
        Assert.DoesNotContain("auto", recorded);
        ConvPlan? resumed = null;
        Train(o, "split", resume: true, conv: ConvAlgorithm.Auto, inspect: p => resumed = p);
        // resumed with the recorded choices (nothing measured again) ...
        Assert.Equal(recorded, resumed!.Serialize());
        Assert.All(resumed.Entries, e => Assert.Empty(e.Choice.Candidates));
        Assert.Equal(recorded, SafetensorsFile.Read(Checkpoint.PathIn(split)).Metadata["conv_plan"]);
        // ... so it ends bit-identical to an uninterrupted run computing with the same choices
        string straight = Train(o, "straight", plan: recorded);
        var a = Weights(straight);
        var b = Weights(split);
        foreach (var key in a.Keys) Assert.True(a[key].SequenceEqual(b[key]), $"{key} differs after resume");
    }

    [Fact]
    public void ConvPlanRoundTripsAndRefusesMalformedEntries()
    {
        var plan = new ConvPlan();
        plan.Load("64->64@28x28=winograd4;128->64@7x7=direct/winograd2/direct");
        Assert.Equal("64->64@28x28=winograd4;128->64@7x7=direct/winograd2/direct", plan.Serialize());
        var e = plan.Entries.Last().Choice;
        Assert.Equal((ConvAlgorithm.Direct, ConvAlgorithm.Winograd2, ConvAlgorithm.Direct), (e.Forward, e.Data, e.Weight));
        foreach (var bad in new[] { "64->64@28x28", "64->64@28x28=auto", "64->64@28=direct", "64->64@28x28=fast", "1->1@1x1=direct/direct" })
            Assert.Throws<FormatException>(() => new ConvPlan().Load(bad));
    }

    private static Dictionary<string, float[]> Weights(string run) =>
        SafetensorsFile.Read(Checkpoint.PathIn(run)).Tensors.ToDictionary(kv => kv.Key, kv => kv.Value.Data);

    public static TheoryData<string> Objectives => new() { "rf", "curvature", "cud-rk12", "cud-rk23+ema", "cud-rk34+encoder" };

    private static ObjectiveOptions Parse(string name) => name switch
    {
        "rf" => new ObjectiveOptions { Kind = ObjectiveKind.Rf },
        "curvature" => new ObjectiveOptions { Kind = ObjectiveKind.Curvature },
        "cud-rk12" => new ObjectiveOptions { Order = 1 },
        "cud-rk23+ema" => new ObjectiveOptions { Order = 2, Teacher = TeacherKind.Ema },
        _ => new ObjectiveOptions { Order = 3, Encoder = true },
    };

    [Theory]
    [MemberData(nameof(Objectives))]
    public void ResumedRunReproducesTheUninterruptedRunExactly(string objective)
    {
        var o = Options(Parse(objective));
        string straight = Train(o, "straight");
        string split = Train(o, "split", stopAfter: 4);          // checkpoint at 4, as a killed run would leave it
        Train(o, "split", resume: true);
        var a = Weights(straight);
        var b = Weights(split);
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var key in a.Keys) Assert.True(a[key].SequenceEqual(b[key]), $"{objective}: {key} differs after resume");
        Assert.Equal(File.ReadAllLines(Path.Combine(straight, "metrics.jsonl")).Select(StripSpeed),
                     File.ReadAllLines(Path.Combine(split, "metrics.jsonl")).Select(StripSpeed));
    }

    private static string StripSpeed(string line) => System.Text.RegularExpressions.Regex.Replace(line, "\"samples_per_s\":[^,}]*", "");

    [Fact]
    public void SameSeedSameLossCurveDifferentSeedDifferent()
    {
        var o = Options(new ObjectiveOptions { Order = 1 });
        var a = File.ReadAllLines(Path.Combine(Train(o, "a"), "metrics.jsonl")).Select(StripSpeed).ToArray();
        var b = File.ReadAllLines(Path.Combine(Train(o, "b"), "metrics.jsonl")).Select(StripSpeed).ToArray();
        var c = File.ReadAllLines(Path.Combine(Train(o with { Seed = 22 }, "c"), "metrics.jsonl")).Select(StripSpeed).ToArray();
        Assert.Equal(8, a.Length);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.All(a, line => Assert.Matches("^\\{\"iteration\":\\d+,\"loss\":[-0-9.E]+,\"catchup\":[-0-9.E]+,\"ground_truth\":[-0-9.E]+,\"lr\":", line));
    }

    [Fact]
    public void InterruptedCheckpointWriteLeavesThePreviousCheckpointUsable()
    {
        var o = Options(new ObjectiveOptions { Order = 1 });
        string run = Train(o, "run", stopAfter: 4);
        var before = File.ReadAllBytes(Checkpoint.PathIn(run));
        // A process killed mid-write leaves only a temp file beside the checkpoint; simulate that, and a writer that fails.
        File.WriteAllBytes(Checkpoint.PathIn(run) + ".tmp-deadbeef0000", before[..(before.Length / 3)]);
        Assert.ThrowsAny<Exception>(() => SafetensorsFile.Write(Checkpoint.PathIn(run),
            [new KeyValuePair<string, HostTensor>("x", new HostTensor([2], [1f]))], new Dictionary<string, string> { ["__bad\0"] = "" }));
        Assert.Equal(before, File.ReadAllBytes(Checkpoint.PathIn(run)));
        Train(o, "run", resume: true);
        Assert.Equal(Weights(Train(o, "straight")).Keys.Order(), Weights(run).Keys.Order());
    }

    [Theory]
    [InlineData(ObjectiveKind.Cd)]
    [InlineData(ObjectiveKind.Pd)]
    public void DistillationRunsStartFromThePretrainedEmaAndTrain(ObjectiveKind kind)
    {
        string pretrained = Train(Options(new ObjectiveOptions { Kind = ObjectiveKind.Rf }), "pre");
        var o = Options(new ObjectiveOptions { Kind = kind, CatchUpSteps = 8 }) with { InitFrom = pretrained, Iterations = 4 };
        o.Validate("test");
        string run = Path.Combine(_dir, kind.ToString());
        Directory.CreateDirectory(run);
        using var backend = new CpuBackend(2);
        using var trainer = new Trainer(o, backend, Synthetic(), run);
        var emaOfPretrained = Weights(pretrained)["ema.dec.8x8_aux_conv.weight"];
        Assert.Equal(emaOfPretrained, trainer.Network.Parameters["dec.8x8_aux_conv.weight"].Value.ToArray());
        trainer.Run(TextWriter.Null);
        Assert.True(double.IsFinite(trainer.LastTerms.Total));
        Assert.Equal("distill", trainer.LastTerms.Names[0]);
        Assert.NotEqual(emaOfPretrained, trainer.Network.Parameters["dec.8x8_aux_conv.weight"].Value.ToArray());
        Assert.Throws<InvalidDataFileException>(() => (o with { InitFrom = null }).Validate("test"));
    }

    [Fact]
    public void CorruptCheckpointIsAClearError()
    {
        var o = Options(new ObjectiveOptions { Order = 1 });
        string run = Train(o, "run", stopAfter: 4);
        var bytes = File.ReadAllBytes(Checkpoint.PathIn(run));
        File.WriteAllBytes(Checkpoint.PathIn(run), bytes[..(bytes.Length - 100)]);
        using var backend = new CpuBackend(1);
        using var trainer = new Trainer(o, backend, Synthetic(), run);
        var e = Assert.ThrowsAny<InvalidDataFileException>(trainer.Resume);
        Assert.Contains("checkpoint.safetensors", e.Message);
    }

    [Fact]
    public void NonFiniteStepsAreSkippedAndRepeatedOnesStopTraining()
    {
        var o = Options(new ObjectiveOptions { Kind = ObjectiveKind.Rf }) with { Batch = 40 };
        using var backend = new CpuBackend(2);
        // Every batch holds the poisoned images, so every step is non-finite.
        using var trainer = new Trainer(o, backend, Synthetic(poisoned: 1), Path.Combine(_dir, "nan"));
        Directory.CreateDirectory(trainer.RunDir);
        var e = Assert.Throws<TrainingDivergedException>(() => trainer.Run(TextWriter.Null));
        Assert.Contains("5 consecutive", e.Message);
        Assert.Equal(Trainer.MaxConsecutiveNonFinite, trainer.NanSkips);
        Assert.All(trainer.Network.Parameters.All, p => Assert.All(p.Value.ToArray(), v => Assert.True(float.IsFinite(v))));
    }

    [Fact]
    public void LossDecreasesOnAShortRealFashionMnistRun()
    {
        var data = ImageDataset.Load(null, DatasetKind.FashionMnist, train: true);
        var o = new TrainingOptions
        {
            Model = new SongUNetConfig
            {
                ImgResolution = 28, InChannels = 1, OutChannels = 1, ModelChannels = 8, ChannelMult = [1, 2],
                NumBlocks = 1, AttnResolutions = [], Dropout = 0, PriorShakedrop = true,
            },
            Objective = new ObjectiveOptions { Order = 1 },
            Iterations = 80, Batch = 32, LearningRate = 2e-3f, Warmup = 10, LogEvery = 1, CheckpointEvery = 1000, SampleEvery = 1000, Threads = 2,
        };
        string run = Path.Combine(_dir, "real");
        Directory.CreateDirectory(run);
        using var backend = new CpuBackend(2);
        using var trainer = new Trainer(o, backend, data, run);
        trainer.Run(TextWriter.Null);
        var losses = File.ReadAllLines(Path.Combine(run, "metrics.jsonl"))
            .Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("ground_truth").GetDouble()).ToArray();
        double first = losses.Take(10).Average(), last = losses.TakeLast(10).Average();
        Assert.True(last < 0.8 * first, $"ground-truth velocity loss went from {first:F4} to {last:F4}");
    }
}
