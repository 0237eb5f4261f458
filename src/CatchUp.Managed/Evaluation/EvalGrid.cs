using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using CatchUp.Backends;
using CatchUp.Imaging;
using CatchUp.IO;
using CatchUp.Models;
using CatchUp.Sampling;
using CatchUp.Training;

namespace CatchUp.Evaluation;

/// <summary>A model to evaluate: the EMA weights of a training run, sampled with one head, named <see cref="Name"/> in the results.</summary>
public sealed record GridTarget(string Name, string RunDir, int Head);

/// <summary>One scored (model, solver, NFE) point. <see cref="ImagesPerSecond"/> is the sampling throughput (scoring excluded).</summary>
public sealed record EvalRow(string Method, int Head, string Solver, int Nfe, double MeanNfe, EvaluationScores Scores, double ImagesPerSecond);

/// <summary>How many images each point gets, in batches of how many, from which noise seed.</summary>
public sealed record EvalGridOptions(int Count, int Batch, ulong Seed);

/// <summary>
/// Samples models at (solver, NFE) points from the same fixed noise and scores each point; shared by <c>catchup eval --run</c>
/// and <c>catchup ablate</c>. Every scored point is stored at once in RUN/eval/points/&lt;solver&gt;-nfe&lt;K&gt;-head&lt;j&gt;.json
/// (with a PNG grid of its first 64 images), under a key naming everything the score depends on (the checkpoint's
/// SHA-256, head, solver, NFE, count, seed, classifier SHA-256, data set, real count). A later call skips the points
/// whose stored key matches, so an interrupted or extended grid resumes; a retrained run or another classifier rescores.
/// </summary>
public static class EvalGrid
{
    public const int GridImages = 64;

    public static string Folder(string runDir) => Path.Combine(runDir, "eval");
    public static string PointsFolder(string runDir) => Path.Combine(Folder(runDir), "points");
    public static string PointPath(GridTarget t, SolverPoint p, string extension) =>
        Path.Combine(PointsFolder(t.RunDir), $"{p.FileStem}-head{t.Head}.{extension}");

    /// <summary>Every target at every point, in that order; the points already scored under the same key are read back.</summary>
    public static List<EvalRow> Evaluate(IReadOnlyList<GridTarget> targets, IReadOnlyList<SolverPoint> points, EvalGridOptions o,
        IBackend backend, SampleEvaluator evaluator, TextWriter log)
    {
        if (o.Count <= PrecisionRecall.DefaultK) throw new ArgumentException($"each point needs at least {PrecisionRecall.DefaultK + 1} samples, got {o.Count}");
        if (o.Batch < 1) throw new ArgumentException($"the batch must be at least 1, got {o.Batch}");
        var jobs = targets.Select(t => new Job(t, Cli.ModelLoading.LoadRunOptions(t.RunDir), points, o, evaluator)).ToList();
        foreach (var job in jobs) job.CheckHead();
        int pending = jobs.Sum(j => j.Pending.Count), stored = jobs.Count * points.Count - pending;
        log.WriteLine($"eval grid: {jobs.Count * points.Count} points ({string.Join(", ", points)}{(jobs.Count > 1 ? $" x {jobs.Count} models" : "")}), " +
            $"{o.Count} images each; {(stored > 0 ? $"{stored} already scored (skipped), " : "")}{pending} to go");
        var progress = new ProgressLine(0, (long)pending * o.Count, o.Count, log);
        long done = 0;
        foreach (var job in jobs.Where(j => j.Pending.Count > 0))
        {
            var loaded = Cli.ModelLoading.LoadRun(job.Options, job.Target.RunDir, "ema.");
            var config = loaded.Config;
            using var net = config.Build(backend);
            StateDict.Load(net.Parameters, loaded.Weights, loaded.Source);
            var noise = SampleGenerator.Noise(o.Seed, o.Count, config.InChannels, config.Resolution, config.Resolution);
            int[]? labels = config.ClassCount > 0 ? SampleGenerator.ClassLabels(o.Count, config.ClassCount) : null;
            // One image through the network first, so the first point's images/s does not include compiling the kernels.
            SampleGenerator.Generate(net, "euler", 1, job.Target.Head, noise.AsSpan(0, noise.Length / o.Count).ToArray(), 1, 1, labels: labels?[..1]);
            foreach (var point in job.Pending)
            {
                string label = $"{job.Target.Name} {point}";
                long before = done;
                var clock = Stopwatch.StartNew();
                var samples = SampleGenerator.Generate(net, point.Solver, point.Nfe, job.Target.Head, noise, o.Count, o.Batch,
                    progress: new Reporter(n => progress.Update(before + n, label)), labels: labels);
                double seconds = clock.Elapsed.TotalSeconds;
                var scores = evaluator.Evaluate(samples.X, samples.Count, samples.Channels, samples.Height, samples.Width, labels);
                var row = new EvalRow(job.Target.Name, job.Target.Head, point.Solver, point.Nfe, samples.MeanNfe, scores, o.Count / Math.Max(seconds, 1e-9));
                int shown = Math.Min(GridImages, samples.Count);
                ImageGrid.WritePng(PointPath(job.Target, point, "png"), samples.X.AsSpan(0, shown * samples.Channels * samples.Height * samples.Width),
                    shown, samples.Channels, samples.Height, samples.Width);
                AtomicFile.WriteAllText(PointPath(job.Target, point, "json"),
                    new JsonObject { ["key"] = job.Key(point), ["row"] = EvalReport.RowJson(row, round: false) }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
                job.Scored[point] = row;
                done = before + o.Count;
                string perClass = scores.PerClass is { } p ? string.Create(CultureInfo.InvariantCulture, $"  FID per class (mean) {p.MeanFid,8:F3}") : "";
                progress.Message(string.Create(CultureInfo.InvariantCulture,
                    $"{label,-28} FID {scores.Fid,8:F3}{perClass}  IS {scores.InceptionScore,5:F2}  precision {scores.Precision:F3}  recall {scores.Recall:F3}  {row.ImagesPerSecond,7:F1} images/s"));
            }
        }
        return jobs.SelectMany(j => points.Select(p => j.Scored[p])).ToList();
    }

    /// <summary>One target: its run, the key of each point, and which points are already scored.</summary>
    private sealed class Job
    {
        private readonly JsonObject _common;

        public Job(GridTarget target, TrainingOptions options, IReadOnlyList<SolverPoint> points, EvalGridOptions o, SampleEvaluator evaluator)
        {
            Target = target;
            Options = options;
            string checkpoint = Checkpoint.PathIn(target.RunDir);
            if (!File.Exists(checkpoint)) throw new InvalidDataFileException(checkpoint, "missing: train the run first");
            _common = new JsonObject
            {
                ["checkpoint_sha256"] = FileHash.Sha256(checkpoint),
                ["weights"] = "ema",
                ["head"] = target.Head,
                ["count"] = o.Count,
                ["seed"] = o.Seed,
                ["feature_space"] = evaluator.Extractor.FeatureSpace,
                ["extractor_sha256"] = evaluator.WeightsSha256,
                ["dataset"] = evaluator.Dataset,
                ["real_count"] = evaluator.RealCount,
            };
            Directory.CreateDirectory(PointsFolder(target.RunDir));
            foreach (var p in points)
                if (ReadStored(p) is { } row) Scored[p] = row;
                else Pending.Add(p);
        }

        public GridTarget Target { get; }
        public TrainingOptions Options { get; }
        public List<SolverPoint> Pending { get; } = [];
        public Dictionary<SolverPoint, EvalRow> Scored { get; } = [];

        public JsonObject Key(SolverPoint p)
        {
            var key = (JsonObject)_common.DeepClone();
            key["solver"] = p.Solver;
            key["nfe"] = p.Nfe;
            return key;
        }

        public void CheckHead()
        {
            int heads = Options.ModelWithHeads.ExtraHeads + 1;
            if (Target.Head < 1 || Target.Head > heads)
                throw new ArgumentException($"head {Target.Head}: {Target.RunDir} has {(heads == 1 ? "head 1 only (no extra heads)" : $"heads 1..{heads}")}");
        }

        /// <summary>The stored row when the point's file exists, parses and carries this exact key; otherwise null (rescored).</summary>
        private EvalRow? ReadStored(SolverPoint p)
        {
            string path = PointPath(Target, p, "json");
            if (!File.Exists(path)) return null;
            try
            {
                var root = JsonNode.Parse(File.ReadAllText(path));
                if (root is null || !JsonNode.DeepEquals(root["key"], Key(p))) return null;
                return EvalReport.ParseRow(root["row"]);
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or KeyNotFoundException or NullReferenceException)
            {
                return null;
            }
        }
    }

    /// <summary>Forwards SampleGenerator's per-batch progress synchronously.</summary>
    private sealed class Reporter(Action<int> report) : IProgress<int>
    {
        public void Report(int value) => report(value);
    }
}
