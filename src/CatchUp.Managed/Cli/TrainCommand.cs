using System.CommandLine;
using System.Runtime.InteropServices;
using CatchUp.Data;
using CatchUp.Distributed;
using CatchUp.Imaging;
using CatchUp.IO;
using CatchUp.Models;
using CatchUp.Objectives;
using CatchUp.Training;
using Spectre.Console;

namespace CatchUp.Cli;

/// <summary><c>catchup train</c>: train a velocity network with RF, Curvature or Catch-Up Distillation.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = "quick (default: CUD RK12 on Fashion-MNIST, ~10 min on 2 cores), mnist-paper, cifar10-paper, imagenet64-paper, imagenet64-tiny", DefaultValueFactory = _ => "quick" };
        var config = new Option<string?>("--config") { Description = "JSON with \"model\" (reference keys) and/or \"training\" keys, applied over the preset" };
        var model = new Option<string?>("--model") { Description = "Model config JSON (SongUNet reference keys, or an ADM config with \"unet_type\": \"adm\") or a preset model name, overrides the preset's network" };
        var objective = new Option<string?>("--objective") { Description = "rf | curvature | cud | cd | pd (cd/pd distill the run given by --from)" };
        var from = new Option<string?>("--from") { Description = "cd/pd: the pre-trained run directory to distill (its EMA weights; its model config is used)" };
        var rk = new Option<int?>("--rk") { Description = "CUD order: 12 | 23 | 34" };
        var stepSize = new Option<string?>("--step-size") { Description = "CUD catch-up step size: uniform | rule | fixed" };
        var teacher = new Option<string?>("--teacher") { Description = "CUD catch-up model: train (same weights) | ema" };
        var encoder = new Option<bool?>("--encoder") { Description = "Learned noise coupling (reparameterized encoder + KL); --encoder false to disable" };
        var encoderModel = new Option<string?>("--encoder-model") { Description = "Encoder network config JSON (reference keys, out_channels = 2 x in_channels); default: the paper's encoder" };
        var weightPrior = new Option<float?>("--weight-prior") { Description = "KL weight for the encoder (default 20)" };
        var dynamicWeight = new Option<bool>("--dynamic-weight") { Description = "RK12 ablation: w_T = 2i/I, w_gt = 2(1 - i/I)" };
        var discrete = new Option<bool>("--discrete-time") { Description = "Ablation: t on the grid {1..16}/16" };
        var data = new Option<string?>("--data") { Description = "Dataset directory (MNIST/Fashion-MNIST IDX files or CIFAR-10 binary batches)" };
        var dataset = new Option<string?>("--dataset") { Description = "fashion-mnist | mnist | cifar10 (default: detected from --data)" };
        var outDir = new Option<string?>("--out") { Description = "Run directory (default runs/<time>-<objective>)" };
        var resume = new Option<string?>("--resume") { Description = "Continue the run in this directory from its last checkpoint" };
        var iterations = new Option<long?>("--iterations") { Description = "Total training iterations" };
        var batch = new Option<int?>("--batch") { Description = "Batch size" };
        var lr = new Option<float?>("--lr") { Description = "Peak learning rate" };
        var warmup = new Option<long?>("--warmup") { Description = "Linear warm-up iterations" };
        var optimizer = new Option<string?>("--optimizer") { Description = "adam | adamw" };
        var weightDecay = new Option<float?>("--weight-decay") { Description = "Weight decay (AdamW: decoupled)" };
        var emaDecay = new Option<float?>("--ema-decay") { Description = "EMA decay" };
        var emaStart = new Option<long?>("--ema-start") { Description = "Iteration from which the EMA averages (before: copies)" };
        var seed = new Option<ulong?>("--seed") { Description = "Seed: weights, data order, noise, dropout" };
        var threads = new Option<int?>("--threads") { Description = "CPU threads" };
        var checkpointEvery = new Option<long?>("--checkpoint-every") { Description = "Checkpoint interval (iterations)" };
        var sampleEvery = new Option<long?>("--sample-every") { Description = "Sample-grid interval (iterations)" };
        var logEvery = new Option<long?>("--log-every") { Description = "metrics.jsonl interval (iterations)" };
        var device = DeviceOption.Create();
        var convAlgorithm = ConvAlgorithmOption.Create();
        var distributed = DistributedOption.Create();
        var bucketMb = new Option<double?>("--bucket-mb") { Description = "Data parallel: gradient bucket size for the Allreduce in MiB (default 25)" };
        var command = new Command("train", "Train a few-step generative model (Catch-Up Distillation and baselines)")
        {
            preset, config, model, objective, from, rk, stepSize, teacher, encoder, encoderModel, weightPrior, dynamicWeight, discrete, data, dataset,
            outDir, resume, iterations, batch, lr, warmup, optimizer, weightDecay, emaDecay, emaStart, seed, threads,
            checkpointEvery, sampleEvery, logEvery, device, convAlgorithm, distributed, bucketMb,
        };
        command.SetAction(r => CliApp.Guard(() => DistributedOption.Run(r.GetValue(distributed)!, comm =>
        {
            string? resumeDir = r.GetValue(resume);
            TrainingOptions o;
            if (resumeDir is not null)
            {
                string cfg = Path.Combine(resumeDir, "config.json");
                if (!Directory.Exists(resumeDir)) throw new CliUsageException($"--resume {resumeDir}: no such run directory");
                o = TrainingOptions.Load(cfg, TrainingOptions.Quick);
                if (r.GetValue(iterations) is long extend) o = o with { Iterations = extend };
                if (r.GetValue(threads) is int th) o = o with { Threads = th };
            }
            else
            {
                o = Presets(r.GetValue(preset)!);
                if (r.GetValue(config) is string c) o = TrainingOptions.Load(c, o);
                if (r.GetValue(model) is string m) o = o with { Model = ModelLoading.LoadModel(m) };
                if (r.GetValue(encoderModel) is string em) o = o with { EncoderModel = ModelLoading.LoadConfig(em, Migration.ConfigRole.NoiseEncoder) };
                var ob = o.Objective;
                if (r.GetValue(objective) is string os) ob = ob with { Kind = os switch
                {
                    "rf" => ObjectiveKind.Rf, "curvature" => ObjectiveKind.Curvature, "cud" => ObjectiveKind.Cud,
                    "cd" => ObjectiveKind.Cd, "pd" => ObjectiveKind.Pd,
                    _ => throw new CliUsageException($"--objective {os}: expected rf, curvature, cud, cd or pd"),
                } };
                if (r.GetValue(rk) is int k) ob = ob with { Order = k switch { 12 => 1, 23 => 2, 34 => 3, _ => throw new CliUsageException($"--rk {k}: expected 12, 23 or 34") } };
                if (r.GetValue(stepSize) is string ss) ob = ob with { StepSize = Enum.TryParse<StepSizeStrategy>(ss, true, out var st) ? st : throw new CliUsageException($"--step-size {ss}: expected uniform, rule or fixed") };
                if (r.GetValue(teacher) is string te) ob = ob with { Teacher = Enum.TryParse<TeacherKind>(te, true, out var tk) ? tk : throw new CliUsageException($"--teacher {te}: expected train or ema") };
                if (r.GetValue(encoder) is bool enc) ob = ob with { Encoder = enc };
                if (r.GetValue(weightPrior) is float wp) ob = ob with { WeightPrior = wp };
                if (r.GetValue(dynamicWeight)) ob = ob with { DynamicWeight = true };
                if (r.GetValue(discrete)) ob = ob with { DiscreteTime = true };
                o = o with { Objective = ob };
                if (r.GetValue(from) is string f)
                {
                    if (!File.Exists(Path.Combine(f, "config.json"))) throw new CliUsageException($"--from {f}: not a run directory (no config.json)");
                    var source = TrainingOptions.Load(Path.Combine(f, "config.json"), o);
                    o = o with { InitFrom = f, Model = source.Model, Dataset = source.Dataset, DataDir = source.DataDir };
                }
                if (r.GetValue(data) is string d) o = o with { DataDir = d, Dataset = r.GetValue(dataset) ?? DatasetArguments.Detect(d) };
                else if (r.GetValue(dataset) is string ds) o = o with { Dataset = ds };
                if (r.GetValue(iterations) is long it) o = o with { Iterations = it };
                if (r.GetValue(batch) is int b) o = o with { Batch = b };
                if (r.GetValue(lr) is float l) o = o with { LearningRate = l };
                if (r.GetValue(warmup) is long w) o = o with { Warmup = w };
                if (r.GetValue(optimizer) is string opt) o = o with { Optimizer = opt };
                if (r.GetValue(weightDecay) is float wd) o = o with { WeightDecay = wd };
                if (r.GetValue(emaDecay) is float ed) o = o with { EmaDecay = ed };
                if (r.GetValue(emaStart) is long es) o = o with { EmaStart = es };
                if (r.GetValue(seed) is ulong sd) o = o with { Seed = sd };
                if (r.GetValue(threads) is int th) o = o with { Threads = th };
                if (r.GetValue(checkpointEvery) is long ce) o = o with { CheckpointEvery = ce };
                if (r.GetValue(sampleEvery) is long se) o = o with { SampleEvery = se };
                if (r.GetValue(logEvery) is long le) o = o with { LogEvery = le };
            }
            try { o.Validate("command line"); }
            catch (InvalidDataFileException e) { throw new CliUsageException(e.Problem); }
            DistributedOption.RequireDivisible(comm, o.Batch, "--batch");
            if (r.GetValue(bucketMb) is double mb && !(mb > 0)) throw new CliUsageException($"--bucket-mb {mb}: must be positive");
            long bucketBytes = r.GetValue(bucketMb) is double mib ? (long)(mib * (1 << 20)) : GradientAllreducer.DefaultBucketBytes;
            return Run(o with { WorldSize = comm.Size }, r.GetValue(outDir), resumeDir, r.GetValue(device)!, comm, bucketBytes, r.GetValue(convAlgorithm)!);
        })));
        return command;
    }

    private static TrainingOptions Presets(string name)
    {
        try { return TrainingOptions.Preset(name); }
        catch (ArgumentException e) { throw new CliUsageException(e.Message); }
    }

    private static void PrintSummary(TrainingOptions o, string runDir, ImageDataset data, Trainer trainer, string device)
    {
        var table = new Table().AddColumn("run").AddColumn(Markup.Escape(runDir));
        void Row(string k, string v) => table.AddRow(Markup.Escape(k), Markup.Escape(v));
        Row("objective", o.Objective.Describe() + (o.Objective.Kind == ObjectiveKind.Cud ? $" (step size {o.Objective.StepSize}, teacher {o.Objective.Teacher})".ToLowerInvariant() : ""));
        Row("data", $"{o.Dataset}: {data.Count} images {data.Channels}x{data.Height}x{data.Width} ({data.Source})");
        Row("network", $"{o.Model.Describe()}, {trainer.Network.Parameters.ElementCount:N0} parameters");
        Row("schedule", $"{o.Iterations} iterations, batch {o.Batch}, {o.Optimizer} lr {o.LearningRate:G3} (warm-up {o.Warmup}), EMA {o.EmaDecay} from {o.EmaStart}" +
            (o.ExtraEmaDecays.Length > 0 ? $" (also saved: EMA {string.Join(", ", o.ExtraEmaDecays)})" : ""));
        Row("device", device);
        if (Backends.Cpu.ConvPlan.Of(trainer.Backend) is { } plan)
            Row("conv 3x3", plan.Entries.Any() ? $"recorded in the checkpoint: {plan.Serialize().Replace(";", "; ")}"
                : plan.Requested == Backends.Cpu.ConvAlgorithm.Auto ? "auto: each shape measured on the first step (printed below)"
                : Backends.Cpu.ConvAlgorithmNames.Name(plan.Requested));
        var comm = trainer.Communicator;
        if (comm.Size > 1) Row("ranks", $"{comm.Size} ({comm.Name}); global batch {o.Batch} = {comm.Size} x {o.Batch / comm.Size}; " +
            $"gradients averaged by {trainer.GradientReducer.Describe()}");
        if (trainer.Iteration > 0) Row("resume", $"from iteration {trainer.Iteration}");
        AnsiConsole.Write(table);
    }

    internal static int Run(TrainingOptions o, string? outDir, string? resumeDir, string device = "cpu", ICommunicator? communicator = null,
        long bucketBytes = GradientAllreducer.DefaultBucketBytes, string convAlgorithm = "auto")
    {
        var comm = communicator ?? SingleProcessCommunicator.Instance;
        if (outDir is null && resumeDir is null && comm.Size > 1)
            throw new CliUsageException("several ranks need the run directory named: give --out DIR (the default name holds the start time of each rank)");
        string runDir = resumeDir ?? outDir ?? Path.Combine("runs", $"{DateTime.Now:yyyyMMdd-HHmmss}-{o.Objective.Describe()}");
        if (resumeDir is null && File.Exists(Checkpoint.PathIn(runDir)))
            throw new CliUsageException($"{runDir} already holds a run with a checkpoint; continue it with --resume {runDir} or choose another --out");
        Directory.CreateDirectory(runDir);
        var data = ImageDataset.Load(o.DataDir, DatasetArguments.Parse(o.Dataset), train: true);
        using var backend = DeviceOption.Open(device, o.Threads, comm, convAlgorithm);
        using var nccl = backend is Backends.Cuda.CudaBackend ? Distributed.Nccl.NcclCommunicator.ForCudaJob(comm, comm.IsRoot ? Console.Out : TextWriter.Null) as Distributed.Nccl.NcclCommunicator : null;
        comm = nccl ?? comm;
        using var trainer = new Trainer(o, backend, data, runDir, (path, images) => ImageGrid.WritePng(path, images), comm, bucketBytes);
        if (resumeDir is not null) trainer.Resume();
        if (comm.IsRoot)
        {
            AtomicFile.WriteAllText(Path.Combine(runDir, "config.json"), o.ToJson());
            PrintSummary(o, runDir, data, trainer, backend.Name);
        }
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
        Console.CancelKeyPress += onCancel;
        // mpirun turns Ctrl-C into SIGTERM for every rank: the ranks agree on the iteration to stop after, rank 0 saves.
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; cancel.Cancel(); });
        try { trainer.Run(comm.IsRoot ? Console.Out : TextWriter.Null, cancel: cancel.Token); }
        catch (Exception e) when (e is TrainingDivergedException or RanksDivergedException)
        {
            if (comm.IsRoot) Console.Error.WriteLine($"catchup: error: {e.Message}");
            return 1;
        }
        finally { Console.CancelKeyPress -= onCancel; }
        if (trainer.Interrupted)
        {
            trainer.SaveCheckpoint();
            if (comm.IsRoot) Console.WriteLine($"interrupted at iteration {trainer.Iteration}; checkpoint saved. Continue with: catchup train --resume {runDir}");
            return 130;
        }
        if (!comm.IsRoot) return 0;
        Console.WriteLine($"done: {runDir}/checkpoint.safetensors, metrics.jsonl, samples/*.png ({trainer.NanSkips} non-finite steps skipped)");
        string dir = NextStep.Dir(runDir);
        NextStep.Print("sample it", "sample", "--run", dir, "--solver", "euler", "--nfe", "4", "--out", Path.Combine(dir, "samples-euler4"));
        return 0;
    }
}
