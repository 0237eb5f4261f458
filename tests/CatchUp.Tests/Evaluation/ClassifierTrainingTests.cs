using CatchUp.Backends.Cpu;
using CatchUp.Data;
using CatchUp.Evaluation;
using CatchUp.Tests.Data;
using Xunit;
using Xunit.Abstractions;

namespace CatchUp.Tests.Evaluation;

public class ClassifierTrainingTests(ITestOutputHelper output)
{
    [Fact]
    public void ShortTrainingOnAFashionMnistSubsetBeatsChanceClearly()
    {
        if (!InstalledFashionMnist.Available(output)) return;
        var train = ImageDataset.Load(null, DatasetKind.FashionMnist, train: true).Head(2000);
        var test = ImageDataset.Load(null, DatasetKind.FashionMnist, train: false).Head(1000);
        using var backend = new CpuBackend(2);
        var options = new ClassifierTrainingOptions(Epochs: 2, Batch: 50, LearningRate: 3e-3f, Seed: 1, Widths: [16, 32, 64]);
        using var trainer = new ClassifierTrainer(options, backend, train);
        double before = ClassifierTrainer.Accuracy(trainer.Network, test);
        var log = new StringWriter();
        double lastEpochLoss = trainer.Train(log);
        double after = ClassifierTrainer.Accuracy(trainer.Network, test);
        output.WriteLine($"accuracy {before:P1} -> {after:P1}, last-epoch loss {lastEpochLoss:F3}");

        Assert.Equal(80, trainer.Iteration);
        Assert.Contains("it/s", log.ToString());
        Assert.True(lastEpochLoss < 1.2, $"last-epoch loss {lastEpochLoss} (chance is ln 10 = 2.30)");
        Assert.True(after > 0.6, $"test accuracy {after} after 80 steps (chance 0.1)");
    }

    [Fact]
    public void SteadyStateTrainingStepsAllocateNothing()
    {
        using var fixture = new EvaluationFixture();
        var train = ImageDataset.Load(fixture.DataDir, DatasetKind.Mnist, train: true);
        using var backend = new CpuBackend(2);
        using var trainer = new ClassifierTrainer(new ClassifierTrainingOptions(Batch: 16, Widths: [8, 16]), backend, train);
        trainer.Step(1e-3);
        trainer.Step(1e-3);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 5; i++) trainer.Step(1e-3);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void ScheduleWarmsUpThenDecaysToZero()
    {
        var o = new ClassifierTrainingOptions(LearningRate: 1e-3f);
        const long total = 1000;
        Assert.Equal(1e-3 / 20, o.LearningRateAt(0, total), 1e-9);
        Assert.Equal(1e-3, o.LearningRateAt(20, total), 1e-9);
        Assert.True(o.LearningRateAt(500, total) < 1e-3 && o.LearningRateAt(500, total) > 4e-4);
        Assert.True(o.LearningRateAt(999, total) < 1e-8);
        Assert.Equal(3 * 469, new ClassifierTrainingOptions(Epochs: 3, Batch: 128).IterationsFor(60000));
    }
}
