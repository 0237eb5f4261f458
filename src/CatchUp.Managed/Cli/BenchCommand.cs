using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using CatchUp.Backends;
using CatchUp.Backends.Cpu;
using CatchUp.Diagnostics;
using CatchUp.Distributed;
using CatchUp.IO;
using CatchUp.Models;
using CatchUp.Sampling;
using CatchUp.Models.Adm;
using CatchUp.Nn;
using CatchUp.Objectives;
using CatchUp.Training;
using CatchUp.Tensors;

namespace CatchUp.Cli;

/// <summary><c>catchup bench unet</c>: times forward+backward passes of the velocity network.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Benchmarks");
        var model = new Option<string>("--model") { Description = "Model config JSON (or mnist-paper / cifar10-paper; an ADM config or imagenet64-paper)", DefaultValueFactory = _ => "mnist-paper" };
        var batch = new Option<int>("--batch") { Description = "Batch size", DefaultValueFactory = _ => 64 };
        var threads = new Option<int>("--threads") { Description = "CPU threads (default: all cores)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var steps = new Option<int>("--steps") { Description = "Timed steps after one warm-up", DefaultValueFactory = _ => 10 };
        var seed = new Option<ulong>("--seed") { Description = "Seed for weights, data and dropout", DefaultValueFactory = _ => 0UL };
        var profile = new Option<bool>("--profile") { Description = "Also print the time spent in each backend op" };
        var device = DeviceOption.Create();
        var convAlgorithm = ConvAlgorithmOption.Create();
        var unet = new Command("unet", "Time N forward+backward passes of the network (MSE to a random target, dropout as configured)")
        {
            model, batch, threads, steps, seed, profile, device, convAlgorithm,
        };
        unet.SetAction(r => CliApp.Guard(() => RunUnet(r.GetValue(model)!, r.GetValue(batch),
            r.GetValue(threads), r.GetValue(steps), r.GetValue(seed), r.GetValue(profile), r.GetValue(device)!, r.GetValue(convAlgorithm)!)));
        bench.Add(unet);
        bench.Add(CreateTrainStep());
        bench.Add(AllreduceBenchCommand.Create());
        bench.Add(ConvBenchCommand.Create());
        return bench;
    }

    /// <summary>The network under test: a SongUNet, or an ADM UNetModel (random class labels when conditional).</summary>
    private sealed record BenchNet(ParameterSet Parameters, int InChannels, int OutChannels, int Resolution,
        Func<Tensor, Tensor, ForwardMode, Tensor> Forward, Action<Tensor> Backward, IDisposable Owner);

    private static BenchNet CreateBenchNet(string model, IBackend backend, int batch, ulong seed)
    {
        var config = ModelLoading.LoadModel(model);
        var net = config.Build(backend);
        int[]? labels = config.ClassCount > 0
            ? Enumerable.Range(0, batch).Select(i => (int)(CounterRng.Uniform(seed + 4, (ulong)i) * config.ClassCount)).ToArray()
            : null;
        return new BenchNet(net.Parameters, config.InChannels, config.OutChannels, config.Resolution,
            (x, t, mode) => net.Forward(x, t, labels, mode, computeHeads: false).V, dv => net.Backward(dv), net);
    }

    private static int RunUnet(string model, int batch, int threads, int steps, ulong seed, bool profile, string device, string convAlgorithm)
    {
        if (batch < 1) throw new CliUsageException("--batch must be at least 1");
        if (threads < 1) throw new CliUsageException("--threads must be at least 1");
        if (steps < 1) throw new CliUsageException("--steps must be at least 1");
        using var device0 = DeviceOption.Open(device, threads, convAlgorithm: convAlgorithm);
        var profiler = profile ? new ProfilingBackend(device0) : null;
        IBackend backend = profiler ?? device0;
        var net = CreateBenchNet(model, backend, batch, seed);
        using var owner = net.Owner;
        net.Parameters.Initialize(seed);
        int r = net.Resolution;
        using var x = backend.FromArray(RandomNormal(batch * net.InChannels * r * r, seed + 1), batch, net.InChannels, r, r);
        using var target = backend.FromArray(RandomNormal(batch * net.OutChannels * r * r, seed + 2), batch, net.OutChannels, r, r);
        var tHost = new float[batch];
        for (int i = 0; i < batch; i++) tHost[i] = 1e-5f + (1 - 1e-5f) * CounterRng.Uniform(seed + 3, (ulong)i);
        using var t = backend.FromArray(tHost, batch);
        Tensor? grad = null;

        Console.WriteLine($"bench unet: {net.Parameters.ElementCount:N0} parameters, batch {batch}, {backend.Name}");
        double Step(int i)
        {
            long start = Stopwatch.GetTimestamp();
            net.Parameters.ZeroGrad();
            var v = net.Forward(x, t, ForwardMode.Train(seed * 1000003 + (ulong)i));
            backend.MseLoss(v, target, backend.Ensure(ref grad, v.Shape), 1f);
            net.Backward(grad!);
            backend.Synchronize();
            return Stopwatch.GetElapsedTime(start).TotalSeconds;
        }

        net.Parameters.Flops.Reset();
        Step(0);
        long forwardFlops = net.Parameters.Flops.Total;
        profiler?.Reset();
        long allocated = 0;
        var times = new double[steps];
        for (int i = 0; i < steps; i++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            times[i] = Step(i + 1);
            allocated += GC.GetTotalAllocatedBytes(precise: true) - before;
            Console.WriteLine($"step {i + 1}/{steps}: {times[i] * 1000:F1} ms ({batch / times[i]:F1} samples/s)");
        }
        long allocatedPerStep = allocated / steps;
        double median = Statistics.Median(times);
        if (profiler is not null) PrintProfile(profiler, times.Sum(), steps);
        // Backward costs two forward-sized products per layer (input and weight gradients): 3x forward in all.
        double gflops = 3.0 * forwardFlops / median / 1e9;
        var peak = device0 is Backends.Cpu.CpuBackend ? CpuPeak.Estimate(threads) : new CpuPeak.Peak(double.NaN, "not estimated for GPUs");
        var result = new
        {
            bench = "unet",
            batch,
            threads,
            steps,
            parameters = net.Parameters.ElementCount,
            samples_per_s = Math.Round(batch / median, 2),
            s_per_step = Math.Round(median, 5),
            gflops = Math.Round(gflops, 1),
            gflop_per_sample_forward = Math.Round(forwardFlops / (double)batch / 1e9, 4),
            peak_gflops = double.IsNaN(peak.Gflops) ? (double?)null : Math.Round(peak.Gflops, 0),
            peak_fraction = double.IsNaN(peak.Gflops) ? (double?)null : Math.Round(gflops / peak.Gflops, 3),
            peak_basis = peak.Basis,
            allocated_bytes_per_step = allocatedPerStep,
            device_bytes = (device0 as Backends.Cpu.CpuBackend)?.BytesAllocated,
            backend = device0.Name,
        };
        Console.WriteLine(JsonSerializer.Serialize(result));
        return 0;
    }

    private static Command CreateTrainStep()
    {
        var model = new Option<string>("--model") { Description = "Model config JSON (or mnist-paper / cifar10-paper)", DefaultValueFactory = _ => "mnist-paper" };
        var objective = new Option<string>("--objective") { Description = "rf | curvature | cud", DefaultValueFactory = _ => "cud" };
        var rk = new Option<int>("--rk") { Description = "CUD order: 12 | 23 | 34", DefaultValueFactory = _ => 12 };
        var encoder = new Option<bool>("--encoder") { Description = "Use the noise encoder (always on for curvature)" };
        var batch = new Option<int>("--batch") { Description = "Batch size", DefaultValueFactory = _ => 64 };
        var threads = new Option<int>("--threads") { Description = "CPU threads", DefaultValueFactory = _ => Environment.ProcessorCount };
        var steps = new Option<int>("--steps") { Description = "Timed steps after one warm-up", DefaultValueFactory = _ => 10 };
        var profile = new Option<bool>("--profile") { Description = "Also print the time spent in each backend op" };
        var device = DeviceOption.Create();
        var convAlgorithm = ConvAlgorithmOption.Create();
        var distributed = DistributedOption.Create();
        var command = new Command("train-step", "Time complete training steps (objective, backward, Adam, EMA) on random data; under mpirun, --batch is global")
        {
            model, objective, rk, encoder, batch, threads, steps, profile, device, convAlgorithm, distributed,
        };
        command.SetAction(r => CliApp.Guard(() =>
        {
            var kind = r.GetValue(objective) switch
            {
                "rf" => ObjectiveKind.Rf, "curvature" => ObjectiveKind.Curvature, "cud" => ObjectiveKind.Cud,
                var s => throw new CliUsageException($"--objective {s}: expected rf, curvature or cud"),
            };
            int order = r.GetValue(rk) switch { 12 => 1, 23 => 2, 34 => 3, var k => throw new CliUsageException($"--rk {k}: expected 12, 23 or 34") };
            var options = new ObjectiveOptions { Kind = kind, Order = order, Encoder = r.GetValue(encoder) };
            var config = ModelLoading.LoadModel(r.GetValue(model)!);
            return DistributedOption.Run(r.GetValue(distributed)!, comm => RunTrainStep(config, options, r.GetValue(batch), r.GetValue(threads),
                r.GetValue(steps), r.GetValue(profile), r.GetValue(device)!, comm, r.GetValue(convAlgorithm)!));
        }));
        return command;
    }

    private static int RunTrainStep(IVelocityModelConfig config, ObjectiveOptions options, int batch, int threads, int steps, bool profile, string device,
        ICommunicator comm, string convAlgorithm)
    {
        if (batch < 1 || threads < 1 || steps < 1) throw new CliUsageException("--batch, --threads and --steps must be at least 1");
        DistributedOption.RequireDivisible(comm, batch, "--batch");
        var log = comm.IsRoot ? Console.Out : TextWriter.Null;
        int localBatch = batch / comm.Size;
        using var device0 = DeviceOption.Open(device, threads, comm, convAlgorithm);
        var profiler = profile ? new ProfilingBackend(device0) : null;
        IBackend backend = profiler ?? device0;
        if (config.ExtraHeads < options.ExtraHeads) config = config.WithExtraHeads(options.ExtraHeads);
        using var net = config.Build(backend);
        using var ema = config.Build(backend);
        net.Parameters.Initialize(1);
        using var encoder = options.UsesEncoder ? new NoiseEncoder(config, backend) : null;
        encoder?.Network.Parameters.Initialize(2);
        using var objective = new FlowObjective(options, net, ema, encoder);
        var trainable = net.Parameters.All.Concat(encoder?.Network.Parameters.All ?? []).ToList();
        using var adam = new AdamOptimizer(backend, trainable);
        var emaTracker = new EmaTracker(backend, net.Parameters, ema.Parameters, 0.999f, 0);
        var reducer = new GradientAllreducer(comm, backend, trainable);
        int r = config.Resolution;
        var data = RandomNormal(batch * config.InChannels * r * r, 5);
        int[]? labels = config.ClassCount > 0 ? SampleGenerator.ClassLabels(batch, config.ClassCount)[(comm.Rank * localBatch)..((comm.Rank + 1) * localBatch)] : null;
        for (int i = 0; i < data.Length; i++) data[i] = Math.Clamp(data[i] * 0.5f, -1f, 1f);
        int sample = config.InChannels * r * r;
        var local = data.AsSpan(comm.Rank * localBatch * sample, localBatch * sample).ToArray();
        using var x0 = backend.FromArray(local, localBatch, config.InChannels, r, r);

        log.WriteLine($"bench train-step: {options.Describe()}, {net.Parameters.ElementCount:N0} parameters" +
            (encoder is null ? "" : $" + encoder {encoder.Network.Parameters.ElementCount:N0}") + $", batch {batch}, {device0.Name}" +
            (comm.Size > 1 ? $" x {comm.Size} ranks of batch {localBatch} ({comm.Name}), gradients by {reducer.Describe()}" : ""));
        // Compute (objective forward + backward), gradient Allreduce, update (Adam + EMA), in seconds.
        (double Total, double Compute, double Reduce, double Update) Step(long i)
        {
            long start = Stopwatch.GetTimestamp();
            backend.Upload(local, x0);
            net.Parameters.ZeroGrad();
            encoder?.Network.Parameters.ZeroGrad();
            objective.Step(x0, labels, i, steps + 1, 1, comm.Rank * (long)localBatch);
            backend.Synchronize();
            long computed = Stopwatch.GetTimestamp();
            reducer.Average();
            backend.Synchronize();
            long reduced = Stopwatch.GetTimestamp();
            adam.Step(1e-4f);
            emaTracker.Update(i + 1);
            backend.Synchronize();
            long end = Stopwatch.GetTimestamp();
            return (Stopwatch.GetElapsedTime(start, end).TotalSeconds, Stopwatch.GetElapsedTime(start, computed).TotalSeconds,
                Stopwatch.GetElapsedTime(computed, reduced).TotalSeconds, Stopwatch.GetElapsedTime(reduced, end).TotalSeconds);
        }
        Step(0);
        profiler?.Reset();
        var times = new double[steps];
        var compute = new double[steps];
        var reduce = new double[steps];
        var update = new double[steps];
        long allocated = 0;
        for (int i = 0; i < steps; i++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            (times[i], compute[i], reduce[i], update[i]) = Step(i + 1);
            allocated += GC.GetTotalAllocatedBytes(precise: true) - before;
            log.WriteLine($"step {i + 1}/{steps}: {times[i] * 1000:F1} ms ({batch / times[i]:F1} samples/s), loss {objective.Terms.Total:F4}" +
                (comm.Size > 1 ? $"; compute {compute[i] * 1000:F1} ms, Allreduce {reduce[i] * 1000:F2} ms" : ""));
        }
        if (profiler is not null && comm.IsRoot) PrintProfile(profiler, times.Sum(), steps);
        double median = Statistics.Median(times);
        double gradientBytes = reducer.GradientFloats * 4.0, reduceMedian = Statistics.Median(reduce);
        log.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "train-step",
            objective = options.Describe(),
            batch,
            threads,
            steps,
            samples_per_s = Math.Round(batch / median, 2),
            s_per_step = Math.Round(median, 5),
            allocated_bytes_per_step = allocated / steps,
            backend = device0.Name,
            ranks = comm.Size,
            compute_ms = Math.Round(Statistics.Median(compute) * 1000, 3),
            allreduce_ms = Math.Round(reduceMedian * 1000, 3),
            update_ms = Math.Round(Statistics.Median(update) * 1000, 3),
            // The Allreduce runs after the backward pass: nothing of it is hidden (see README, Data-parallel training).
            allreduce_hidden_fraction = 0.0,
            gradient_mb = Math.Round(gradientBytes / 1e6, 3),
            allreduce_gb_per_s = comm.Size > 1 ? Math.Round(gradientBytes / reduceMedian / 1e9, 3) : (double?)null,
        }));
        return 0;
    }

    private static void PrintProfile(ProfilingBackend profiler, double totalSeconds, int steps)
    {
        Console.WriteLine($"{"op",-24} {"ms/step",9} {"share",7} {"calls/step",11}");
        foreach (var (op, seconds, calls) in profiler.Report())
            Console.WriteLine($"{op,-24} {seconds * 1000 / steps,9:F1} {seconds / totalSeconds,7:P1} {calls / (double)steps,11:F0}");
    }

    internal static float[] RandomNormal(int count, ulong seed)
    {
        var a = new float[count];
        for (int i = 0; i < count; i++)
        {
            double u1 = Math.Max(CounterRng.Uniform(seed, (ulong)(2 * i)), 1e-7), u2 = CounterRng.Uniform(seed, (ulong)(2 * i + 1));
            a[i] = (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return a;
    }
}
