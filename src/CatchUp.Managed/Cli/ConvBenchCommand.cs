using System.CommandLine;
using System.Text.Json;
using CatchUp.Backends.Cpu;
using CatchUp.Backends.Cpu.Kernels;
using CatchUp.Diagnostics;
using CatchUp.Models;
using CatchUp.Nn;
using CatchUp.Tensors;

namespace CatchUp.Cli;

/// <summary><c>catchup bench conv</c>: every 3x3 convolution shape of a network, timed per algorithm and per pass
/// (forward, backward-data, backward-weight), algorithms alternating within each round so they see the same load.</summary>
internal static class ConvBenchCommand
{
    private static readonly ConvAlgorithm[] Algorithms = [ConvAlgorithm.Direct, ConvAlgorithm.Winograd2, ConvAlgorithm.Winograd4];

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model config JSON (or mnist-paper / cifar10-paper)", DefaultValueFactory = _ => "mnist-paper" };
        var batch = new Option<int>("--batch") { Description = "Batch size", DefaultValueFactory = _ => 64 };
        var threads = new Option<int>("--threads") { Description = "CPU threads", DefaultValueFactory = _ => Environment.ProcessorCount };
        var rounds = new Option<int>("--rounds") { Description = "Timed rounds after one warm-up (median reported)", DefaultValueFactory = _ => 5 };
        var accuracy = new Option<bool>("--accuracy")
        {
            Description = "Instead of timing: each algorithm's error against float64 direct convolution (output, data gradient, weight gradient; max |err| / max |ref|) over --batch samples",
        };
        var command = new Command("conv", "Time each 3x3 convolution shape of the network with every algorithm (forward, backward-data, backward-weight), or measure their accuracy")
        {
            model, batch, threads, rounds, accuracy,
        };
        command.SetAction(r => CliApp.Guard(() => Run(ModelLoading.LoadConfig(r.GetValue(model)!), r.GetValue(batch), r.GetValue(threads), r.GetValue(rounds),
            r.GetValue(accuracy))));
        return command;
    }

    private static int Run(SongUNetConfig config, int batch, int threads, int rounds, bool accuracy)
    {
        if (batch < 1 || threads < 1 || rounds < 1) throw new CliUsageException("--batch, --threads and --rounds must be at least 1");
        using var be = new CpuBackend(threads) { ConvAlgorithm = ConvAlgorithm.Direct };
        // one forward+backward of the network on one sample records its 3x3 shapes and how often each is called
        using (var net = new SongUNet(config, be))
        {
            net.Parameters.Initialize(0);
            int res = config.ImgResolution;
            using var x = be.FromArray(BenchCommand.RandomNormal(config.InChannels * res * res, 1), 1, config.InChannels, res, res);
            using var t = be.FromArray([0.5f], 1);
            var output = net.Forward(x, t, ForwardMode.Train(1), computeHeads: false);
            using var grad = be.Allocate(output.V.Shape);
            be.MseLoss(output.V, output.V, grad, 1f);
            net.Backward(grad);
        }
        var shapes = be.ConvPlan.Calls.OrderByDescending(kv => (long)kv.Key.Cin * kv.Key.Cout * kv.Key.H * kv.Key.W).ToList();
        if (accuracy)
        {
            Accuracy(be, shapes, batch);
            return 0;
        }
        var peak = CpuPeak.Estimate(threads);
        Console.WriteLine($"bench conv: {shapes.Count} 3x3 shapes, batch {batch}, {be.Name}, {rounds} rounds (algorithms alternate within a round); " +
            $"GFLOP/s count direct-equivalent FLOPs (2*Cin*Cout*9*H*W per sample and pass); peak {peak.Gflops:F0} ({peak.Basis})");
        Console.WriteLine($"{"shape",-16} {"layers",6} {"algorithm",-10} {"fwd ms",8} {"bwd-data ms",12} {"bwd-wgt ms",11} {"fwd GF/s",9} {"data GF/s",10} {"wgt GF/s",9}");
        var rng = new Random(7);
        foreach (var (s, calls) in shapes)
        {
            using var ws = new ConvWorkspace(be, s, batch, rng);
            var (x, w, b, y, dy, dx, dw, db) = (ws.X, ws.W, ws.B, ws.Y, ws.Dy, ws.Dx, ws.Dw, ws.Db);
            var ms = new double[Algorithms.Length, 3, rounds];
            for (int r = -1; r < rounds; r++)
                for (int a = 0; a < Algorithms.Length; a++)
                {
                    var (fwd, data, wgt) = ConvPlan.TimePasses(be.Pool, x, w, b, y, dy, dx, dw, db, Algorithms[a]);
                    if (r < 0) continue;
                    ms[a, 0, r] = fwd; ms[a, 1, r] = data; ms[a, 2, r] = wgt;
                }
            double flop = 2.0 * s.Cin * s.Cout * 9 * s.H * s.W * batch;
            for (int a = 0; a < Algorithms.Length; a++)
            {
                var med = new double[3];
                for (int p = 0; p < 3; p++)
                {
                    var v = new double[rounds];
                    for (int r = 0; r < rounds; r++) v[r] = ms[a, p, r];
                    med[p] = Statistics.Median(v);
                }
                Console.WriteLine($"{s,-16} {calls / 2,6} {Algorithms[a].Name(),-10} {med[0],8:F2} {med[1],12:F2} {med[2],11:F2} " +
                    $"{flop / med[0] / 1e6,9:F0} {flop / med[1] / 1e6,10:F0} {flop / med[2] / 1e6,9:F0}");
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    bench = "conv", shape = s.ToString(), layers = calls / 2, algorithm = Algorithms[a].Name(), batch, threads,
                    forward_ms = Math.Round(med[0], 3), backward_data_ms = Math.Round(med[1], 3), backward_weight_ms = Math.Round(med[2], 3),
                    forward_gflops = Math.Round(flop / med[0] / 1e6, 1), backward_data_gflops = Math.Round(flop / med[1] / 1e6, 1),
                    backward_weight_gflops = Math.Round(flop / med[2] / 1e6, 1), peak_gflops = Math.Round(peak.Gflops, 0),
                }));
            }
        }
        return 0;
    }

    /// <summary>Every algorithm's output, data gradient and weight gradient against the float64 reference, per shape.</summary>
    private static void Accuracy(CpuBackend be, List<KeyValuePair<ConvShape, long>> shapes, int batch)
    {
        Console.WriteLine($"bench conv --accuracy: {shapes.Count} 3x3 shapes, batch {batch}, operands uniform in [-1, 1); error = max |got - ref| / max |ref| " +
            "against float64 direct convolution (Backends/Cpu/Kernels/ConvReference.cs)");
        Console.WriteLine($"{"shape",-16} {"layers",6} {"algorithm",-10} {"output",9} {"data grad",10} {"wgt grad",9}");
        var rng = new Random(7);
        foreach (var (s, calls) in shapes)
        {
            using var ws = new ConvWorkspace(be, s, batch, rng);
            double[] y = ConvReference.Forward(ws.X.Span, ws.W.Span, ws.B.Span, batch, s.Cin, s.Cout, s.H, s.W, 3);
            var (dx, dw, _) = ConvReference.Backward(ws.X.Span, ws.W.Span, ws.Dy.Span, batch, s.Cin, s.Cout, s.H, s.W, 3);
            foreach (var algorithm in Algorithms)
            {
                Conv2dKernels.Forward(be.Pool, ws.X, ws.W, ws.B, ws.Y, algorithm);
                ws.Dw.Span.Clear(); // the weight gradient accumulates
                Conv2dKernels.Backward(be.Pool, ws.X, ws.W, ws.Dy, ws.Dx, ws.Dw, null, algorithm);
                double ey = ConvReference.RelativeError(y, ws.Y.Span), edx = ConvReference.RelativeError(dx, ws.Dx.Span),
                    edw = ConvReference.RelativeError(dw, ws.Dw.Span);
                Console.WriteLine($"{s,-16} {calls / 2,6} {algorithm.Name(),-10} {ey,9:E1} {edx,10:E1} {edw,9:E1}");
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    bench = "conv-accuracy", shape = s.ToString(), layers = calls / 2, algorithm = algorithm.Name(), batch,
                    output_rel_error = ey, data_grad_rel_error = edx, weight_grad_rel_error = edw,
                }));
            }
        }
    }
}
