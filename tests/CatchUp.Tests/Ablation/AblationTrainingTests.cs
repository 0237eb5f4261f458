using CatchUp.Ablation;
using CatchUp.IO;
using CatchUp.Objectives;
using CatchUp.Training;
using Xunit;

namespace CatchUp.Tests.Ablation;

public class AblationTrainingTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "catchup-ablation-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    /// <summary>A stand-in trainer that records its calls and leaves a checkpoint at the given iteration.</summary>
    private Func<TrainingOptions, string, bool, int> FakeTrainer(List<(string RunDir, bool Resume)> calls, long reachIteration) => (o, runDir, resume) =>
    {
        calls.Add((runDir, resume));
        Directory.CreateDirectory(runDir);
        AtomicFile.WriteAllText(Path.Combine(runDir, "config.json"), o.ToJson());
        SafetensorsFile.Write(Checkpoint.PathIn(runDir), new Dictionary<string, HostTensor> { ["x"] = new HostTensor(1) },
            new Dictionary<string, string> { ["iteration"] = reachIteration.ToString() });
        return 0;
    };

    [Fact]
    public void MethodsShareEverythingButTheObjective()
    {
        var b = AblationPlan.Base(100, 32, 7, 2);
        var methods = AblationPlan.AllMethods.Select(m => AblationPlan.Method(m, b)).ToList();
        Assert.Equal(AblationPlan.AllMethods.Length, methods.Select(m => m.Options.Objective).Distinct().Count());
        foreach (var m in methods)
            Assert.Equal((b with { Objective = new ObjectiveOptions() }).ToJson(), (m.Options with { Objective = new ObjectiveOptions() }).ToJson());
        Assert.Equal(ObjectiveKind.Rf, methods[0].Options.Objective.Kind);
        Assert.False(methods[0].Options.Objective.UsesEncoder);
        Assert.All(methods.Skip(1), m => Assert.True(m.Options.Objective.UsesEncoder));
        Assert.Equal([1, 3], AblationPlan.Method("cud-rk34", b).Heads);
        Assert.Equal(2, AblationPlan.Method("cud-rk34", b).Options.ModelWithHeads.ExtraHeads);
        Assert.Throws<ArgumentException>(() => AblationPlan.Method("gan", b));
    }

    [Fact]
    public void FinishedRunsAreKeptPartialOnesResumedForeignOnesRefused()
    {
        var b = AblationPlan.Base(10, 8, 0, 1);
        var rf = AblationPlan.Method("rf", b);
        var calls = new List<(string, bool)>();

        AblationTraining.Ensure(_dir, rf, FakeTrainer(calls, 4));          // fresh run, stops early (killed)
        Assert.Equal([(Path.Combine(_dir, "rf"), false)], calls);
        AblationTraining.Ensure(_dir, rf, FakeTrainer(calls, 10));         // resumed to the budget
        Assert.Equal((Path.Combine(_dir, "rf"), true), calls[1]);
        AblationTraining.Ensure(_dir, rf, FakeTrainer(calls, 10));         // done: not trained again
        Assert.Equal(2, calls.Count);
        Assert.True(AblationTraining.ReadSeconds(_dir)["rf"] >= 0);

        var other = AblationPlan.Method("rf", AblationPlan.Base(20, 8, 0, 1));
        var e = Assert.Throws<InvalidDataFileException>(() => AblationTraining.Ensure(_dir, other, FakeTrainer(calls, 20)));
        Assert.Contains("another configuration", e.Message);
        // Another thread count may continue a run, as `train --resume --threads` allows.
        AblationTraining.Ensure(_dir, AblationPlan.Method("rf", b with { Threads = 2 }), FakeTrainer(calls, 10));
        Assert.Equal(2, calls.Count);
    }

    [Fact]
    public void AFailedTrainingStopsTheAblationWithAMessage()
    {
        var rf = AblationPlan.Method("rf", AblationPlan.Base(10, 8, 0, 1));
        var e = Assert.Throws<AblationInterruptedException>(() => AblationTraining.Ensure(_dir, rf, (_, _, _) => 130));
        Assert.Contains("run the same command again", e.Message);
    }
}
