using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CatchUp.Backends;
using CatchUp.Backends.Cpu;
using CatchUp.Distributed;
using CatchUp.Imaging;
using CatchUp.IO;
using CatchUp.Models;
using CatchUp.Sampling;

namespace CatchUp.Cli;

/// <summary><c>catchup sample</c>: generate images from noise with a trained model and an ODE solver (SPEC section 7).</summary>
internal static class SampleCommand
{
    /// <summary>At most this many images go into grid.png (the first ones).</summary>
    private const int GridLimit = 256;

    private sealed record Request(
        string? Run, bool NoEma, string? Model, string? Weights, string Solver, int? Nfe, int Head, int Count, int Batch,
        ulong Seed, string? Noise, double Rtol, double Atol, int Threads, string Out, bool Png, bool SaveTrajectory, string Device, string Distributed)
    {
        public string ConvAlgorithm { get; init; } = "auto";
        public int? Class { get; init; }
        public string? Labels { get; init; }
    }

    public static Command Create()
    {
        var run = new Option<string>("--run") { Description = "A training run directory (config.json + checkpoint.safetensors)" };
        var noEma = new Option<bool>("--no-ema") { Description = "With --run: the raw weights instead of the EMA weights" };
        var model = new Option<string>("--model") { Description = "Model config JSON (reference keys), with --weights" };
        var weights = new Option<string>("--weights") { Description = "Weights (safetensors, reference parameter names), with --model" };
        var solver = new Option<string>("--solver") { Description = "euler | heun | dpm2 | dpm3 | deis2 | rk45", DefaultValueFactory = _ => "euler" };
        var nfe = new Option<int?>("--nfe") { Description = "Network evaluations per sample (heun: odd; rk45 chooses its own)" };
        var head = new Option<int>("--head") { Description = "1 = main output, 2 / 3 = extra heads", DefaultValueFactory = _ => 1 };
        var count = new Option<int>("--count") { Description = "Images to generate (a --noise file's count wins)", DefaultValueFactory = _ => 64 };
        var batch = new Option<int>("--batch") { Description = "Images per network call", DefaultValueFactory = _ => 64 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the noise (ignored with --noise)", DefaultValueFactory = _ => 0UL };
        var noise = new Option<string>("--noise") { Description = "safetensors with z [count, C, H, W]: the starting noise" };
        var rtol = new Option<double>("--rtol") { Description = "rk45 relative tolerance", DefaultValueFactory = _ => 1e-5 };
        var atol = new Option<double>("--atol") { Description = "rk45 absolute tolerance", DefaultValueFactory = _ => 1e-5 };
        var threads = new Option<int>("--threads") { Description = "CPU threads", DefaultValueFactory = _ => Environment.ProcessorCount };
        var outDir = new Option<string>("--out") { Description = "Output directory", Required = true };
        var png = new Option<bool>("--png") { Description = "Also write images/00000.png, ... (one per image)" };
        var trajectory = new Option<bool>("--save-trajectory") { Description = "Write trajectory.safetensors (z and x0_hat of every step) and the straightness" };
        var classOption = new Option<int?>("--class") { Description = "Class-conditional models: every image of class K (default: classes cycled over the images)" };
        var labels = new Option<string>("--labels") { Description = "Class-conditional models: safetensors with y [count] int64, one class per image" };
        var device = DeviceOption.Create();
        var convAlgorithm = ConvAlgorithmOption.Create();
        var distributed = DistributedOption.Create();
        var command = new Command("sample", "Generate images: integrate dz/dt = v(z, t) from noise at t = 1 to t = 0")
        {
            run, noEma, model, weights, solver, nfe, head, count, batch, seed, noise, rtol, atol, threads, outDir, png, trajectory, device, distributed,
            convAlgorithm, classOption, labels,
        };
        command.SetAction(r => CliApp.Guard(() => Run(new Request(
            r.GetValue(run), r.GetValue(noEma), r.GetValue(model), r.GetValue(weights), r.GetValue(solver)!, r.GetValue(nfe), r.GetValue(head),
            r.GetValue(count), r.GetValue(batch), r.GetValue(seed), r.GetValue(noise), r.GetValue(rtol), r.GetValue(atol), r.GetValue(threads),
            r.GetValue(outDir)!, r.GetValue(png), r.GetValue(trajectory), r.GetValue(device)!, r.GetValue(distributed)!)
        { ConvAlgorithm = r.GetValue(convAlgorithm)!, Class = r.GetValue(classOption), Labels = r.GetValue(labels) })));
        return command;
    }

    private static int Run(Request q) => DistributedOption.Run(q.Distributed, comm => Run(q, comm));

    private static int Run(Request q, ICommunicator comm)
    {
        var settings = ValidateFlags(q);
        if (comm.Size > 1 && q.SaveTrajectory) throw new CliUsageException("--save-trajectory runs in one process (without mpirun)");
        var log = comm.IsRoot ? Console.Out : TextWriter.Null;
        var (loaded, dataset) = LoadModel(q);
        var cfg = loaded.Config;
        int c = cfg.InChannels, r = cfg.Resolution;
        // One process draws all the noise; each rank of several draws only its batches' images.
        var (noise, count) = q.Noise is not null ? ReadNoise(q.Noise, c, r)
            : comm.Size == 1 ? (SampleGenerator.Noise(q.Seed, q.Count, c, r, r), q.Count) : ([], q.Count);
        if (q.SaveTrajectory && q.Solver == "rk45" && q.Batch < count)
            throw new CliUsageException($"--save-trajectory with rk45 needs one batch (--batch >= {count}): its step sizes differ from batch to batch");

        int[]? labels = ClassLabels(q, cfg, count);

        using var backend = DeviceOption.Open(q.Device, q.Threads, comm, q.ConvAlgorithm);
        using var net = cfg.Build(backend);
        StateDict.Load(net.Parameters, loaded.Weights, loaded.Source);
        if (q.Head > net.HeadCount + 1)
            throw new CliUsageException($"--head {q.Head}: {loaded.Source} has {NetworkVelocityField.HeadOptions(net)}");

        int nfe = q.Nfe ?? 0;
        if (q.Solver == "rk45" && q.Nfe is not null) log.WriteLine($"rk45 chooses its own steps: --nfe {q.Nfe} is ignored");
        log.WriteLine($"sample: {count} images of {c}x{r}x{r} with {q.Solver}{(q.Solver == "rk45" ? $" (rtol {q.Rtol:G3}, atol {q.Atol:G3})" : $" NFE {nfe}")}, head {q.Head}, batch {q.Batch}, {q.Threads} threads" +
            (comm.Size > 1 ? $" x {comm.Size} ranks ({comm.Name})" : "") +
            (labels is null ? "" : q.Class is int k ? $", class {k}" : q.Labels is not null ? $", classes from {q.Labels}" : $", classes 0..{cfg.ClassCount - 1} cycled"));
        var clock = Stopwatch.StartNew();
        var progress = new ProgressPrinter(count, clock, log);
        GeneratedSamples samples;
        SampledTrajectory? trajectory = null;
        try
        {
            if (comm.Size > 1)
            {
                float[] fileNoise = noise;
                float[] NoiseFor(int first, int m) => q.Noise is null ? SampleGenerator.Noise(q.Seed, first, m, c, r, r)
                    : fileNoise.AsSpan(first * c * r * r, m * c * r * r).ToArray();
                var gathered = DistributedSampling.Generate(comm, net, q.Solver, nfe, q.Head, NoiseFor, count, q.Batch, settings, progress, labels);
                if (gathered is null) return 0;   // rank 0 writes the outputs
                samples = gathered;
            }
            else if (q.SaveTrajectory)
                (samples, trajectory) = SampleGenerator.GenerateWithTrajectory(net, q.Solver, nfe, q.Head, noise, count, q.Batch, settings, progress, labels);
            else
                samples = SampleGenerator.Generate(net, q.Solver, nfe, q.Head, noise, count, q.Batch, settings, progress, labels);
        }
        catch (InvalidOperationException e)
        {
            throw new CliUsageException(e.Message);
        }
        double seconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine($"NFE used: {samples.MeanNfe:G6} per image; {count} images in {seconds:F1} s ({count / Math.Max(seconds, 1e-9):F2} images/s)");

        WriteOutputs(q, loaded, dataset, samples, labels, trajectory, seconds);
        if (q.Run is not null)
            NextStep.Print("score the run at 1, 4 and 16 steps", "eval", "--run", NextStep.Dir(q.Run), "--nfe", "1,4,16", "--count", "2000");
        else
            NextStep.Print("score these samples", "eval", "--samples", NextStep.Dir(q.Out));
        return 0;
    }

    private static SolverSettings ValidateFlags(Request q)
    {
        bool reference = q.Model is not null || q.Weights is not null;
        if (q.Run is not null && reference) throw new CliUsageException("give either --run DIR or --model M.json --weights W.safetensors, not both");
        if (q.Run is null && (q.Model is null || q.Weights is null)) throw new CliUsageException("give --run DIR, or both --model M.json and --weights W.safetensors");
        if (q.NoEma && q.Run is null) throw new CliUsageException("--no-ema applies to --run only");
        if (q.Head is < 1 or > 3) throw new CliUsageException($"--head must be 1, 2 or 3 (got {q.Head})");
        if (q.Count < 1 || q.Batch < 1 || q.Threads < 1) throw new CliUsageException("--count, --batch and --threads must be positive");
        if (q.Nfe is null && q.Solver != "rk45" && Solvers.Names.Contains(q.Solver)) throw new CliUsageException($"--nfe is required for {q.Solver}");
        var settings = new SolverSettings { RelativeTolerance = q.Rtol, AbsoluteTolerance = q.Atol };
        try
        {
            settings.Validate();
            Solvers.Create(q.Solver, q.Nfe ?? 0, settings).Dispose();
        }
        catch (ArgumentException e)
        {
            throw new CliUsageException(e.Message);
        }
        return settings;
    }

    /// <summary>The images' classes for a class-conditional model: <c>--class K</c>, <c>--labels</c>, or classes cycled.</summary>
    private static int[]? ClassLabels(Request q, IVelocityModelConfig cfg, int count)
    {
        if (q.Class is not null && q.Labels is not null) throw new CliUsageException("give --class or --labels, not both");
        if (cfg.ClassCount == 0)
        {
            if (q.Class is not null || q.Labels is not null) throw new CliUsageException("--class and --labels need a class-conditional model (label_dim / class_cond); this one is unconditional");
            return null;
        }
        if (q.Class is int k)
        {
            if (k < 0 || k >= cfg.ClassCount) throw new CliUsageException($"--class {k}: the model has classes 0..{cfg.ClassCount - 1}");
            return Enumerable.Repeat(k, count).ToArray();
        }
        return q.Labels is not null ? LabelsFile.Read(q.Labels, count, cfg.ClassCount) : SampleGenerator.ClassLabels(count, cfg.ClassCount);
    }

    private static (LoadedModel Model, string? Dataset) LoadModel(Request q)
    {
        if (q.Run is null) return (ModelLoading.LoadReference(q.Model!, q.Weights!), null);
        if (!Directory.Exists(q.Run)) throw new CliUsageException($"--run {q.Run}: no such directory");
        var options = ModelLoading.LoadRunOptions(q.Run);
        return (ModelLoading.LoadRun(options, q.Run, q.NoEma ? "model." : "ema."), options.Dataset);
    }

    private static (float[] Noise, int Count) ReadNoise(string path, int channels, int resolution)
    {
        var file = SafetensorsFile.Read(path);
        if (!file.Tensors.TryGetValue("z", out var z))
            throw new InvalidDataFileException(path, $"tensor 'z' is missing (the file holds: {string.Join(", ", file.Tensors.Keys)})");
        if (z.Rank != 4 || z.Shape[0] < 1 || z.Shape[1] != channels || z.Shape[2] != resolution || z.Shape[3] != resolution)
            throw new InvalidDataFileException(path, $"tensor 'z' has shape {HostTensor.FormatShape(z.Shape)}, the model needs [count, {channels}, {resolution}, {resolution}] with count >= 1");
        if (z.Data.Any(v => !float.IsFinite(v))) throw new InvalidDataFileException(path, "tensor 'z' holds a non-finite value");
        return (z.Data, z.Shape[0]);
    }

    private static void WriteOutputs(Request q, LoadedModel loaded, string? dataset, GeneratedSamples s, int[]? labels, SampledTrajectory? trajectory, double seconds)
    {
        Directory.CreateDirectory(q.Out);
        int[] imageShape = [s.Count, s.Channels, s.Height, s.Width];
        string nfeUsed = s.MeanNfe.ToString("G6", CultureInfo.InvariantCulture);
        var metadata = new Dictionary<string, string>
        {
            ["solver"] = q.Solver,
            ["nfe"] = nfeUsed,
            ["head"] = q.Head.ToString(CultureInfo.InvariantCulture),
            ["source"] = loaded.Source,
        };
        // The run's data set, so that `catchup eval --samples DIR` picks the classifier for it.
        if (dataset is not null) metadata["dataset"] = dataset;
        // Straightness rides along in the samples' metadata, so `catchup eval` reports it beside the scores.
        double? straightness = trajectory?.Straightness;
        if (straightness is double st) metadata["straightness"] = st.ToString("R", CultureInfo.InvariantCulture);
        var tensors = new Dictionary<string, HostTensor> { ["x"] = new(imageShape, s.X) };
        if (labels is not null) tensors["y"] = new HostTensor([labels.Length], Array.ConvertAll(labels, l => (float)l)) { DType = "I64" };
        SafetensorsFile.Write(Path.Combine(q.Out, "samples.safetensors"), tensors, metadata);
        var written = new List<string> { labels is null ? "samples.safetensors" : "samples.safetensors (x, y)" };

        if (s.Channels is 1 or 3)
        {
            int shown = Math.Min(s.Count, GridLimit);
            ImageGrid.WritePng(Path.Combine(q.Out, "grid.png"), s.X.AsSpan(0, shown * s.Channels * s.Height * s.Width), shown, s.Channels, s.Height, s.Width);
            written.Add(shown < s.Count ? $"grid.png (first {shown})" : "grid.png");
            if (labels is not null) written.Add(ClassGrids.Write(q.Out, s, labels, GridLimit));
            if (q.Png)
            {
                WriteImages(Path.Combine(q.Out, "images"), s);
                written.Add($"images/00000.png..{s.Count - 1:D5}.png");
            }
        }
        else Console.WriteLine($"no PNGs: images with {s.Channels} channels are neither gray nor RGB");

        if (trajectory is not null)
        {
            SafetensorsFile.Write(Path.Combine(q.Out, "trajectory.safetensors"), new Dictionary<string, HostTensor>
            {
                ["z"] = new([trajectory.Steps + 1, .. imageShape], Concat(trajectory.Z)),
                ["x0_hat"] = new([trajectory.Steps, .. imageShape], Concat(trajectory.X0Hat)),
                ["t"] = new([trajectory.Steps + 1], trajectory.Times.Select(t => (float)t).ToArray()),
            }, metadata);
            written.Add("trajectory.safetensors");
            Console.WriteLine($"trajectory: {trajectory.Steps} steps, straightness {straightness:G6}");
        }

        AtomicFile.WriteAllText(Path.Combine(q.Out, "sample.json"), JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["solver"] = q.Solver,
            ["nfe_requested"] = q.Solver == "rk45" ? null : q.Nfe,
            ["nfe"] = s.MeanNfe,
            ["head"] = q.Head,
            ["count"] = s.Count,
            ["batch"] = q.Batch,
            ["noise"] = q.Noise ?? $"seed {q.Seed}",
            ["weights"] = q.Run is null ? loaded.Source : $"{loaded.Source} ({(q.NoEma ? "raw" : "EMA")})",
            ["rtol"] = q.Solver == "rk45" ? q.Rtol : null,
            ["atol"] = q.Solver == "rk45" ? q.Atol : null,
            ["seconds"] = Math.Round(seconds, 3),
            ["images_per_s"] = Math.Round(s.Count / Math.Max(seconds, 1e-9), 3),
            ["trajectory_steps"] = trajectory?.Steps,
            ["straightness"] = straightness,
        }, new JsonSerializerOptions { WriteIndented = true }));
        written.Add("sample.json");
        Console.WriteLine($"wrote {q.Out}: {string.Join(", ", written)}");
    }

    private static float[] Concat(float[][] parts)
    {
        long length = parts.Sum(p => (long)p.Length);
        if (length > Array.MaxLength) throw new CliUsageException("the trajectory is too large for one tensor; sample fewer images with --save-trajectory");
        var all = new float[length];
        for (int i = 0, offset = 0; i < parts.Length; offset += parts[i].Length, i++) parts[i].CopyTo(all, offset);
        return all;
    }

    /// <summary>One PNG per image, no padding.</summary>
    private static void WriteImages(string dir, GeneratedSamples s)
    {
        Directory.CreateDirectory(dir);
        int plane = s.Height * s.Width, size = s.Channels * plane;
        for (int n = 0; n < s.Count; n++)
        {
            var pixels = new byte[size];
            for (int p = 0; p < plane; p++)
                for (int ch = 0; ch < s.Channels; ch++)
                    pixels[p * s.Channels + ch] = ImageGrid.ToByte(s.X[n * size + ch * plane + p]);
            PngWriter.Write(Path.Combine(dir, $"{n:D5}.png"), new PngImage(s.Width, s.Height, s.Channels == 1 ? PngColor.Gray : PngColor.Rgb, pixels));
        }
    }

    /// <summary>Prints "done/total images, it/s (it = one image), ETA" after every batch (synchronously, unlike Progress&lt;T&gt;).</summary>
    private sealed class ProgressPrinter(int total, Stopwatch clock, TextWriter output) : IProgress<int>
    {
        public void Report(int done)
        {
            double seconds = clock.Elapsed.TotalSeconds, rate = done / Math.Max(seconds, 1e-9);
            var eta = TimeSpan.FromSeconds(rate > 0 ? (total - done) / rate : 0);
            output.WriteLine($"[{done}/{total}] images  {rate:F2} it/s  ETA {eta:hh\\:mm\\:ss}");
        }
    }
}
