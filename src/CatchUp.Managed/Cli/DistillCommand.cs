using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using CatchUp.Backends;
using CatchUp.Distillation;
using CatchUp.Imaging;
using CatchUp.IO;
using CatchUp.Models;
using CatchUp.Sampling;
using CatchUp.Nn;
using CatchUp.Objectives;
using CatchUp.Tensors;
using CatchUp.Training;

namespace CatchUp.Cli;

/// <summary><c>catchup distill</c>: one-step distillation of a trained run (SPEC section 8).</summary>
internal static class DistillCommand
{
    public static Command Create()
    {
        var run = new Option<string>("--run") { Description = "The trained run directory (its EMA weights are the teacher and the starting point)", Required = true };
        var outDir = new Option<string>("--out") { Description = "Directory for the one-step model (a run directory: sample it with --run DIR --nfe 1)", Required = true };
        var count = new Option<int>("--count") { Description = "Fixed noises whose Euler-16 trajectories give the targets", DefaultValueFactory = _ => 2048 };
        var iterations = new Option<int>("--iterations-per-stage") { Description = "Training iterations for each of the 3 stages (targets at Euler-16 steps 8, 11, 14)", DefaultValueFactory = _ => 300 };
        var batch = new Option<int>("--batch") { Description = "Batch size", DefaultValueFactory = _ => 64 };
        var lr = new Option<float>("--lr") { Description = "Adam learning rate", DefaultValueFactory = _ => 1e-4f };
        var sam = new Option<bool>("--sam") { Description = "Add 0.1 * MSE(v(z,1), v_ema(z,1)) (v_ema: the distilled model's EMA)" };
        var seed = new Option<ulong>("--seed") { Description = "Seed for the noises, batches and dropout", DefaultValueFactory = _ => 0UL };
        var threads = new Option<int>("--threads") { Description = "CPU threads", DefaultValueFactory = _ => Environment.ProcessorCount };
        var device = DeviceOption.Create();
        var command = new Command("distill", "Distill a trained run into a one-step model (x0 = z - v(z, 1))")
        {
            run, outDir, count, iterations, batch, lr, sam, seed, threads, device,
        };
        command.SetAction(r => CliApp.Guard(() => Run(r.GetValue(run)!, r.GetValue(outDir)!, new DistillOptions
        {
            Count = r.GetValue(count), IterationsPerStage = r.GetValue(iterations), Batch = r.GetValue(batch),
            LearningRate = r.GetValue(lr), Sam = r.GetValue(sam), Seed = r.GetValue(seed),
        }, r.GetValue(threads), r.GetValue(device)!)));
        return command;
    }

    private static int Run(string runDir, string outDir, DistillOptions o, int threads, string device)
    {
        if (o.Count < 1 || o.IterationsPerStage < 1 || o.Batch < 1 || threads < 1 || !(o.LearningRate > 0))
            throw new CliUsageException("--count, --iterations-per-stage, --batch, --threads and --lr must be positive");
        var options = ModelLoading.LoadRunOptions(runDir);
        var ema = ModelLoading.LoadRun(options, runDir, "ema.");
        var model = ema.Config;

        using var backend = DeviceOption.Open(device, threads);
        using var teacher = model.Build(backend);
        using var student = model.Build(backend);
        using var studentEma = model.Build(backend);
        foreach (var net in new[] { teacher, student, studentEma }) StateDict.Load(net.Parameters, ema.Weights, ema.Source);

        var distiller = new OneStepDistiller(student, studentEma, o);
        var clock = Stopwatch.StartNew();
        Console.WriteLine($"distill {runDir}: Euler-16 trajectories of {o.Count} noises with the EMA model ...");
        distiller.GenerateTargets(teacher);
        int last = o.TargetSteps.Length - 1;
        double before = distiller.OneStepError(teacher, last);
        Console.WriteLine($"targets ready in {clock.Elapsed.TotalSeconds:F0} s; one-step MSE to the step-{o.TargetSteps[last]} targets before: {before:F4}");
        var stageLoss = distiller.Train((stage, it, loss) =>
        {
            if ((it + 1) % Math.Max(1, o.IterationsPerStage / 5) == 0)
                Console.WriteLine($"stage {stage + 1}/3 (step-{o.TargetSteps[stage]} targets) {it + 1}/{o.IterationsPerStage}: loss {loss:F4}");
        });
        double after = distiller.OneStepError(studentEma, last);
        double afterStudent = distiller.OneStepError(student, last);
        Console.WriteLine($"one-step MSE to the step-{o.TargetSteps[last]} targets after: EMA {after:F4}, raw student {afterStudent:F4} (before {before:F4}); {clock.Elapsed.TotalSeconds:F0} s");

        Directory.CreateDirectory(outDir);
        AtomicFile.WriteAllText(Path.Combine(outDir, "config.json"), (options with { InitFrom = runDir }).ToJson());
        using (var adam = new AdamOptimizer(backend, student.Parameters.All))
            Checkpoint.Save(outDir, new TrainerProgress(3L * o.IterationsPerStage, 0, 0, default), student.Parameters, studentEma.Parameters, null, adam);
        SafetensorsFile.Write(Path.Combine(outDir, "weights.safetensors"), StateDict.Export(studentEma.Parameters));
        WriteOneStepGrid(studentEma, backend, o, Path.Combine(outDir, "grid_1step.png"));
        AtomicFile.WriteAllText(Path.Combine(outDir, "distill.json"), JsonSerializer.Serialize(new
        {
            source = runDir,
            o.Count, iterations_per_stage = o.IterationsPerStage, o.Batch, lr = o.LearningRate, o.Sam,
            target_steps = o.TargetSteps,
            stage_final_loss = stageLoss,
            one_step_mse_before = before,
            one_step_mse_after = after,
            one_step_mse_after_raw_student = afterStudent,
            seconds = Math.Round(clock.Elapsed.TotalSeconds, 1),
        }, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"wrote {outDir}: checkpoint.safetensors (sample with --run {outDir} --nfe 1), weights.safetensors, grid_1step.png, distill.json");
        NextStep.Print("score the one-step model", "eval", "--run", NextStep.Dir(outDir), "--solvers", "euler", "--nfe", "1", "--count", "2000");
        return 0;
    }

    private static void WriteOneStepGrid(IVelocityNetwork net, IBackend b, DistillOptions o, string path)
    {
        var cfg = net.ModelConfig;
        int n = 64, r = cfg.Resolution;
        int[]? labels = cfg.ClassCount > 0 ? SampleGenerator.ClassLabels(n, Trainer.GridClasses(cfg.ClassCount, n)) : null;
        var noise = new float[n * cfg.InChannels * r * r];
        StepRandomness.FillNormal(CounterRng.Hash(o.Seed, 0x9A1DUL), noise);
        using var z = b.FromArray(noise, n, cfg.InChannels, r, r);
        using var t = b.Allocate([n]);
        b.Fill(t, 1f);
        var v = net.Forward(z, t, labels, ForwardMode.Inference, computeHeads: false).V;
        b.Axpby(-1f, v, 1f, z);
        ImageGrid.WritePng(path, new HostTensor(z.Shape.ToArray(), z.ToArray()));
    }
}
