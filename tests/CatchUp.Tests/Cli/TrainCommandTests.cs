using CatchUp.IO;
using CatchUp.Tests.Data;
using CatchUp.Training;
using Xunit;

namespace CatchUp.Tests.Cli;

/// <summary>`catchup train` as a user runs it: a real process, real files, real kills.</summary>
public class TrainCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("catchup-train-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Setup()
    {
        TinyRunFiles.WriteModel(_dir);
        return TinyRunFiles.WriteMnist(_dir, 64);
    }

    private string[] TrainArgs(string data, string run, int iterations) =>
        ["train", "--model", Path.Combine(_dir, "model.json"), "--data", data, "--dataset", "mnist", "--iterations", $"{iterations}",
         "--batch", "8", "--checkpoint-every", "1", "--sample-every", "1000", "--threads", "2", "--seed", "3", "--out", run];

    private static (int Exit, string Out, string Err) RunToEnd(params string[] args)
    {
        var r = CatchUpProcess.Run(args);
        return (r.Exit, r.Stdout, r.Stderr);
    }

    [Fact]
    public void KilledRunsResumeToTheSameWeightsAsAnUninterruptedRun()
    {
        string data = Setup();
        string straight = Path.Combine(_dir, "straight"), killed = Path.Combine(_dir, "killed");
        var (exit, _, err) = RunToEnd(TrainArgs(data, straight, 30));
        Assert.True(exit == 0, err);

        // Kill the run three times at arbitrary moments (it checkpoints every iteration, so kills land mid-write too).
        var rng = new Random(5);
        using (var first = CatchUpProcess.Start(TrainArgs(data, killed, 30)))
        {
            WaitForCheckpoint(killed, first);
            Thread.Sleep(rng.Next(50, 400));
            first.Kill();
        }
        long killedAt = long.Parse(SafetensorsFile.Read(Checkpoint.PathIn(killed)).Metadata["iteration"]);
        Assert.InRange(killedAt, 1, 29); // the kill landed mid-run, and what it left is a readable checkpoint
        for (int k = 0; k < 2; k++)
        {
            using var again = CatchUpProcess.Start("train", "--resume", killed);
            Thread.Sleep(rng.Next(600, 1500));
            again.Kill();
        }
        (exit, _, err) = RunToEnd("train", "--resume", killed);
        Assert.True(exit == 0, err);

        var a = SafetensorsFile.Read(Checkpoint.PathIn(straight));
        var b = SafetensorsFile.Read(Checkpoint.PathIn(killed));
        Assert.Equal("30", b.Metadata["iteration"]);
        foreach (var (key, tensor) in a.Tensors) Assert.True(tensor.Data.SequenceEqual(b.Get(key).Data), $"{key} differs after kills and resumes");
        Assert.Empty(Directory.GetFiles(killed, "*.tmp-*")); // temp files of killed writes are swept on resume
    }

    private static void WaitForCheckpoint(string run, CatchUpProcess.Background p)
    {
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (!File.Exists(Checkpoint.PathIn(run)))
        {
            if (p.HasExited) throw new InvalidOperationException($"train exited early: {p.Stderr}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException("no checkpoint appeared");
            Thread.Sleep(20);
        }
    }

    [Fact]
    public void TruncatedDataFileFailsNamingTheFile()
    {
        string data = Setup();
        string images = Path.Combine(data, "train-images-idx3-ubyte");
        var bytes = File.ReadAllBytes(images);
        File.WriteAllBytes(images, bytes[..(bytes.Length - 10)]);
        var (exit, _, err) = RunToEnd(TrainArgs(data, Path.Combine(_dir, "run"), 3));
        Assert.Equal(1, exit);
        Assert.Contains("train-images-idx3-ubyte", err);
        Assert.Contains("truncated", err);
        Assert.DoesNotContain("   at ", err); // a message, not a stack trace
    }

    [Fact]
    public void BadFlagsAndBadConfigAreClearErrors()
    {
        string data = Setup();
        var (exit, _, err) = RunToEnd([.. TrainArgs(data, Path.Combine(_dir, "r1"), 3), "--rk", "45"]);
        Assert.Equal(1, exit);
        Assert.Contains("--rk 45", err);

        File.WriteAllText(Path.Combine(_dir, "bad.json"), """{ "training": { "iterations": "many" } }""");
        (exit, _, err) = RunToEnd([.. TrainArgs(data, Path.Combine(_dir, "r2"), 3), "--config", Path.Combine(_dir, "bad.json")]);
        Assert.Equal(1, exit);
        Assert.Contains("bad.json", err);
        Assert.Contains("iterations", err);

        (exit, _, err) = RunToEnd("train", "--resume", Path.Combine(_dir, "nowhere"));
        Assert.Equal(1, exit);
        Assert.Contains("nowhere", err);
    }
}
