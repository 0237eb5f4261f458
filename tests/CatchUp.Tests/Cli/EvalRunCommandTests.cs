using System.Text.Json;
using System.Text.Json.Nodes;
using CatchUp.Backends.Cpu;
using CatchUp.Cli;
using CatchUp.Evaluation;
using CatchUp.IO;
using CatchUp.Models;
using CatchUp.Nn;
using CatchUp.Tests.Cuda;
using CatchUp.Tests.Data;
using CatchUp.Tests.Evaluation;
using CatchUp.Tests.Models;
using CatchUp.Training;
using Xunit;
using Xunit.Abstractions;

namespace CatchUp.Tests.Cli;

/// <summary><c>catchup eval --run</c> end to end on tiny runs: the grid, its outputs, resuming, defaults and bad input.</summary>
[Collection("Console")]
public class EvalRunCommandTests(ITestOutputHelper output) : IDisposable
{
    private readonly EvaluationFixture _f = new();

    public void Dispose() => _f.Dispose();

    /// <summary>A run trained for 2 iterations on the fixture's 8x8 "mnist" data (its classifier fits these images); class-conditional
    /// over <paramref name="labelDim"/> classes when that is positive.</summary>
    private string TrainTinyRun(string name = "run", int labelDim = 0)
    {
        string model = _f.File("model.json");
        File.WriteAllText(model, $$"""
            { "img_resolution": 8, "in_channels": 1, "out_channels": 1, "model_channels": 8, "channel_mult": [1, 2],
              "num_blocks": 1, "attn_resolutions": [], "dropout": 0.0, "prior_shakedrop": false{{(labelDim > 0 ? $", \"label_dim\": {labelDim}" : "")}} }
            """);
        string run = _f.File(name);
        var (exit, stdout, stderr) = CliRunner.Run("train", "--model", model, "--data", _f.DataDir, "--dataset", "mnist", "--iterations", "2",
            "--batch", "8", "--warmup", "1", "--sample-every", "1000", "--threads", "2", "--device", "cpu", "--out", run);
        Assert.True(exit == 0, stderr + stdout);
        Assert.Contains($"next, sample it: catchup sample --run {run} --solver euler --nfe 4 --out {Path.Combine(run, "samples-euler4")}", stdout);
        return run;
    }

    private string[] EvalArgs(string run, string solvers = "euler,heun", string nfe = "1,2,4", string count = "8", params string[] extra) =>
        ["eval", "--run", run, "--classifier", _f.ClassifierPath, "--solvers", solvers, "--nfe", nfe, "--count", count, "--threads", "2",
         "--device", "cpu", .. extra];

    private static List<JsonElement> Rows(string run)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "eval", "results.json")));
        return doc.RootElement.GetProperty("rows").EnumerateArray().Select(r => r.Clone()).ToList();
    }

    [Fact]
    public void ScoresEveryPointWritesTableAndPlotAndAReRunSkipsScoredPoints()
    {
        string run = TrainTinyRun();
        var (exit, stdout, stderr) = CliRunner.Run(EvalArgs(run));
        Assert.True(exit == 0, stderr + stdout);

        // Heun runs at the odd NFE within each budget: 1 (for 1 and 2) and 3 (for 4).
        var rows = Rows(run);
        Assert.Equal(["euler 1", "euler 2", "euler 4", "heun 1", "heun 3"], rows.Select(r => $"{r.GetProperty("solver").GetString()} {r.GetProperty("nfe").GetInt32()}"));
        foreach (var row in rows)
        {
            Assert.True(double.IsFinite(row.GetProperty("fid").GetDouble()));
            Assert.InRange(row.GetProperty("is").GetDouble(), 1 - 1e-9, 10);
            Assert.InRange(row.GetProperty("precision").GetDouble(), 0, 1);
            Assert.InRange(row.GetProperty("recall").GetDouble(), 0, 1);
            Assert.True(row.GetProperty("images_per_s").GetDouble() > 0);
            Assert.Equal(row.GetProperty("nfe").GetInt32(), row.GetProperty("mean_nfe").GetDouble());
            Assert.Equal(8, row.GetProperty("count").GetInt32());
            Assert.False(row.TryGetProperty("fid_per_class", out _)); // unconditional: no per-class fields
            Assert.False(row.TryGetProperty("fid_per_class_mean", out _));
        }
        // Euler 1 and Heun 1 are the same integration from the same noise, so the same scores.
        double euler1 = rows[0].GetProperty("fid").GetDouble();
        Assert.Equal(euler1, rows[3].GetProperty("fid").GetDouble(), 1e-6 * Math.Max(1, Math.Abs(euler1)));
        string md = File.ReadAllText(Path.Combine(run, "eval", "results.md"));
        Assert.Contains("| solver | NFE | FID | IS | precision | recall | images/s |", md);
        Assert.Contains("| heun | 3 |", md);
        Assert.Contains("| heun | 3 |", stdout); // the table is printed too
        string svg = File.ReadAllText(Path.Combine(run, "eval", "fid_vs_nfe.svg"));
        Assert.StartsWith("<svg", svg.TrimStart());
        Assert.Contains(">euler<", svg);
        Assert.Contains(">heun<", svg);
        Assert.Contains("heun needs an odd NFE", stdout);
        Assert.Contains($"next, distill it into a one-step model: catchup distill --run {run} --out {run}-1step", stdout);
        Assert.True(File.Exists(Path.Combine(run, "eval", "points", "euler-nfe4-head1.png")));

        // Resume: a re-run must read stored points back, not recompute them. Mark one stored score with a value no
        // evaluation produces, and delete another point: only that one is scored again (to the same value: same noise).
        string points = Path.Combine(run, "eval", "points");
        string marked = Path.Combine(points, "euler-nfe4-head1.json"), deleted = Path.Combine(points, "euler-nfe2-head1.json");
        var node = JsonNode.Parse(File.ReadAllText(marked))!;
        node["row"]!["fid"] = 12345.5;
        File.WriteAllText(marked, node.ToJsonString());
        File.Delete(deleted);
        DateTime untouched = File.GetLastWriteTimeUtc(Path.Combine(points, "heun-nfe3-head1.json"));

        (exit, stdout, stderr) = CliRunner.Run(EvalArgs(run));
        Assert.True(exit == 0, stderr + stdout);
        Assert.Contains("4 already scored (skipped), 1 to go", stdout);
        var again = Rows(run);
        Assert.Equal(12345.5, again[2].GetProperty("fid").GetDouble());
        Assert.Equal(rows[1].GetProperty("fid").GetDouble(), again[1].GetProperty("fid").GetDouble());
        Assert.True(File.Exists(deleted));
        Assert.Equal(untouched, File.GetLastWriteTimeUtc(Path.Combine(points, "heun-nfe3-head1.json")));

        // Another sample count is another key: every point is scored again, and the marked value is gone.
        (exit, stdout, stderr) = CliRunner.Run(EvalArgs(run, count: "9"));
        Assert.True(exit == 0, stderr + stdout);
        Assert.Contains("5 to go", stdout);
        Assert.NotEqual(12345.5, Rows(run)[2].GetProperty("fid").GetDouble());
    }

    [Fact]
    public void AConditionalRunGetsPerClassFidsAndResumesOverRowsWithoutThem()
    {
        string run = TrainTinyRun("conditional", labelDim: 10);
        // 20 images per point, labels cycled over the 10 classes: 2 of each.
        var (exit, stdout, stderr) = CliRunner.Run(EvalArgs(run, solvers: "euler", nfe: "1,2", count: "20"));
        Assert.True(exit == 0, stderr + stdout);
        var rows = Rows(run);
        Assert.Equal(2, rows.Count);
        foreach (var row in rows)
        {
            var fids = row.GetProperty("fid_per_class").EnumerateArray().Select(f => f.GetDouble()).ToList();
            Assert.Equal(10, fids.Count);
            Assert.All(fids, f => Assert.True(double.IsFinite(f) && f > 0, $"FID {f}"));
            Assert.Equal(Enumerable.Repeat(2, 10), row.GetProperty("count_per_class").EnumerateArray().Select(n => n.GetInt32()));
            Assert.Equal(Math.Round(fids.Average(), 4), row.GetProperty("fid_per_class_mean").GetDouble(), 1e-3);
        }
        string md = File.ReadAllText(Path.Combine(run, "eval", "results.md"));
        Assert.Contains("| solver | NFE | FID | FID per class (mean) | IS | precision | recall | images/s |", md);
        Assert.Contains("FID per class (mean)", stdout);

        // A point stored before per-class FIDs existed (same key, no per-class fields) is still skipped, not rescored.
        string points = Path.Combine(run, "eval", "points");
        string old = Path.Combine(points, "euler-nfe1-head1.json");
        var node = JsonNode.Parse(File.ReadAllText(old))!;
        var stored = node["row"]!.AsObject();
        stored.Remove("fid_per_class");
        stored.Remove("fid_per_class_mean");
        stored.Remove("count_per_class");
        File.WriteAllText(old, node.ToJsonString());
        File.Delete(Path.Combine(points, "euler-nfe2-head1.json"));

        (exit, stdout, stderr) = CliRunner.Run(EvalArgs(run, solvers: "euler", nfe: "1,2", count: "20"));
        Assert.True(exit == 0, stderr + stdout);
        Assert.Contains("1 already scored (skipped), 1 to go", stdout);
        var again = Rows(run);
        Assert.False(again[0].TryGetProperty("fid_per_class", out _));
        Assert.Equal(rows[1].GetProperty("fid_per_class").ToString(), again[1].GetProperty("fid_per_class").ToString());
        Assert.Contains("| euler | 1 | ", File.ReadAllText(Path.Combine(run, "eval", "results.md")));
        Assert.Matches(@"\| euler \| 1 \| [0-9.]+ \| - \|", File.ReadAllText(Path.Combine(run, "eval", "results.md")));
    }

    [Fact]
    public void EvalSamplesAcceptsASampleDirectoryAndItsDatasetChoosesTheClassifier()
    {
        string run = TrainTinyRun();
        string samples = _f.File("samples");
        var (exit, stdout, stderr) = CliRunner.Run("sample", "--run", run, "--solver", "euler", "--nfe", "2", "--count", "8", "--device", "cpu", "--out", samples);
        Assert.True(exit == 0, stderr);
        Assert.Contains($"next, score the run at 1, 4 and 16 steps: catchup eval --run {run} --nfe 1,4,16 --count 2000", stdout);

        (exit, stdout, stderr) = CliRunner.Run("eval", "--samples", samples, "--classifier", _f.ClassifierPath, "--threads", "2");
        Assert.True(exit == 0, stderr);
        using (var line = JsonDocument.Parse(stdout.TrimEnd().Split('\n')[^1]))
        {
            Assert.Equal(Path.Combine(samples, "samples.safetensors"), line.RootElement.GetProperty("samples").GetString());
            Assert.Equal(8, line.RootElement.GetProperty("count").GetInt32());
        }

        // Without --classifier: the samples record their run's data set (mnist), for which nothing is shipped.
        (exit, _, stderr) = CliRunner.Run("eval", "--samples", samples);
        Assert.Equal(1, exit);
        Assert.Contains("no shipped evaluation classifier for mnist", stderr);
        Assert.Contains("catchup classifier train --dataset mnist", stderr);
        Assert.Single(stderr.Trim().Split('\n'));

        Directory.CreateDirectory(_f.File("empty"));
        (exit, _, stderr) = CliRunner.Run("eval", "--samples", _f.File("empty"), "--classifier", _f.ClassifierPath);
        Assert.Equal(1, exit);
        Assert.Contains("without samples.safetensors", stderr);
    }

    [Fact]
    public void BadInputIsOneLineAndExitCode1()
    {
        string run = TrainTinyRun();
        var cases = new (string[] Args, string Expected)[]
        {
            (EvalArgs(_f.File("nowhere")), "no such directory"),
            (EvalArgs(_f.DataDir), "not a run directory"),
            (EvalArgs(run, solvers: "euler,rk4"), "unknown solver 'rk4'"),
            (EvalArgs(run, solvers: "rk45"), "rk45 picks its own NFE"),
            (EvalArgs(run, nfe: "1,0"), "'0' is not a positive whole number"),
            (EvalArgs(run, extra: ["--head", "2"]), "head 1 only"),
            (EvalArgs(run, count: "3"), "--count must be at least 4"),
            (["eval", "--run", run, "--count", "8"], "no shipped evaluation classifier for mnist: train one with `catchup classifier train --dataset mnist"),
            (["eval", "--run", run, "--samples", run], "either --samples"),
            (["eval"], "either --samples"),
            (["eval", "--samples", run, "--nfe", "4"], "apply to --run"),
        };
        foreach (var (args, expected) in cases)
        {
            var (exit, _, stderr) = CliRunner.Run(args);
            Assert.True(exit == 1, $"{string.Join(' ', args)}: exit {exit}");
            Assert.Contains(expected, stderr);
            Assert.Single(stderr.Trim().Split('\n'));
        }
    }

    [Fact]
    public void TheShippedClassifierIsFoundNextToTheExecutable()
    {
        string? found = DefaultClassifier.Find("fashion-mnist");
        Assert.NotNull(found);
        Assert.Equal(Path.Combine(AppContext.BaseDirectory, DefaultClassifier.BundledFolder, "classifier-fashion-mnist.safetensors"), found);
        Assert.Equal("fashion-mnist", ClassifierFile.ReadMetadata(SafetensorsFile.Read(found)).Dataset);
        // The same bytes as the committed file.
        Assert.Equal(FileHash.Sha256(RepositoryFiles.Path("docs", "results", "eval", "classifier-fashion-mnist.safetensors")), FileHash.Sha256(found));
        Assert.Null(DefaultClassifier.Find("mnist"));
        Assert.Null(DefaultClassifier.Find("cifar10"));
    }

    [Fact]
    public void AFashionMnistRunNeedsNoClassifierFlagAndTheCacheGoesToXdgCacheHome()
    {
        if (!InstalledFashionMnist.Available(output)) return;
        var config = new SongUNetConfig
        {
            ImgResolution = 28, InChannels = 1, OutChannels = 1, ModelChannels = 8, ChannelMult = [1, 2], NumBlocks = 1,
            AttnResolutions = [], Dropout = 0.0, PriorShakedrop = false, Phi = 0.75,
        };
        string run = _f.File("fashion-run");
        Directory.CreateDirectory(run);
        using (var b = new CpuBackend(2))
        using (var net = new SongUNet(config, b))
        using (var adam = new AdamOptimizer(b, net.Parameters.All))
        {
            NetworkTestKit.Randomize(net.Parameters, 5);
            File.WriteAllText(Path.Combine(run, "config.json"), new TrainingOptions { Model = config, Dataset = "fashion-mnist" }.ToJson());
            Checkpoint.Save(run, new TrainerProgress(1, 1, 0, default), net.Parameters, net.Parameters, null, adam);
        }
        var docs = Directory.GetFiles(Path.GetDirectoryName(RepositoryFiles.Path("docs", "results", "eval", "classifier-fashion-mnist.safetensors"))!);

        var (exit, stdout, stderr) = CliRunner.Run("eval", "--run", run, "--solvers", "euler", "--nfe", "1", "--count", "8", "--threads", "2", "--device", "cpu");

        Assert.True(exit == 0, stderr + stdout);
        Assert.Contains("the shipped one for fashion-mnist", stdout);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "eval", "results.json")));
        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "classifiers", "classifier-fashion-mnist.safetensors"),
            doc.RootElement.GetProperty("settings").GetProperty("classifier").GetString());
        Assert.Equal(10_000, doc.RootElement.GetProperty("settings").GetProperty("real_count").GetInt32());
        Assert.Single(doc.RootElement.GetProperty("rows").EnumerateArray());
        // The real-feature cache went to $XDG_CACHE_HOME/catchup (the suite's temp folder), nowhere near the classifier.
        string hash = FileHash.Sha256(DefaultClassifier.Find("fashion-mnist")!)[..16];
        Assert.True(File.Exists(Path.Combine(TestCacheDirectory.Catchup, $"classifier-fashion-mnist-{hash}.stats-fashion-mnist.safetensors")));
        Assert.Empty(Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "classifiers"), "*.stats-*"));
        Assert.Equal(docs, Directory.GetFiles(Path.GetDirectoryName(docs[0])!));
    }
}
