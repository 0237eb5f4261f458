// LibTorch 2.10 (TorchSharp-cpu 0.107.0) CPU speed benchmark of the CatchUp velocity network: the C# port of
// bench/pytorch/bench_unet.py (same network, same two modes, same thread settings, same JSON summary line), the third
// column of bench/side_by_side.sh. Run it through bench/libtorch/run.sh (it makes libLibTorchSharp.so loadable on
// Debian 12, see glibcxx/weaken_verneed.c).
//
//   --mode fwdbwd    forward (train mode) + MSE to a random target + backward + Adam (lr 3e-4)
//   --mode cud-rk12  a complete CUD RK12 training step (2 no-grad catch-up passes in train mode + student
//                    forward/backward + Adam + EMA), SPEC section 3
//   --check          gradient check only (whole network and the output conv against float64), then exit
//
// Before timing, the bench checks the input gradient of the output conv (64 -> 1, 3x3) in the configuration it is about
// to time and refuses to time a wrong one (see GradCheck.cs). The last printed line is a JSON summary (medians).
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace CatchUp.LibTorchBench;

public static class Program
{
    public const string LibTorchVersion = "2.10.0";   // what TorchSharp-cpu 0.107.0 pins (libtorch-cpu 2.10.0)

    public static int Main(string[] args)
    {
        int batch = 64, threads = 2, steps = 10, warmup = 2;
        string mode = "fwdbwd";
        bool check = false, timeAnyway = false, mkldnn = true;
        var aux = AuxConv.Pad16;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--batch": batch = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--threads": threads = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--steps": steps = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--warmup": warmup = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--mode":
                    mode = Next();
                    if (mode == "unet") mode = "fwdbwd";   // the catchup command's name for the same work
                    if (mode is not ("fwdbwd" or "cud-rk12")) { Console.Error.WriteLine($"--mode {mode}: fwdbwd (unet) or cud-rk12"); return 2; }
                    break;
                case "--aux-conv":
                    string a = Next();
                    aux = a switch { "pad16" => AuxConv.Pad16, "plain" => AuxConv.Plain, _ => throw new ArgumentException($"--aux-conv {a}: pad16 or plain") };
                    break;
                case "--mkldnn":
                    string m = Next();
                    mkldnn = m switch { "on" => true, "off" => false, _ => throw new ArgumentException($"--mkldnn {m}: on or off") };
                    break;
                case "--check": check = true; break;
                case "--time-anyway": timeAnyway = true; break;
                case "-h" or "--help":
                    Console.WriteLine("""
                        usage: libtorch-bench [--mode fwdbwd|unet|cud-rk12] [--batch 64] [--threads 2] [--steps 10] [--warmup 2]
                                              [--aux-conv pad16|plain] [--mkldnn on|off] [--check] [--time-anyway]
                          --aux-conv pad16  (default) the 64->1 output conv runs with its weight zero-padded to 16 output
                                            channels and the result sliced: works around oneDNN's wrong input gradient
                          --aux-conv plain  the output conv as the Python reference computes it (gradient wrong on oneDNN)
                          --mkldnn off      at::globalContext().setUserEnabledMkldnn(false): no oneDNN at all (diagnosis)
                          --check           gradient check (whole network and output conv vs float64) and exit; 1 = wrong
                          --time-anyway     time even when the pre-timing gradient check fails (to measure the workaround's cost)
                        """);
                    return 0;
                default: Console.Error.WriteLine($"unknown argument {args[i]} (--help)"); return 2;
            }
        }

        torch.set_num_threads(threads);
        torch.set_num_interop_threads(1);
        torch.manual_seed(0);
        Mkldnn.SetEnabled(mkldnn);

        var cfg = UNetConfig.MnistPaper;
        var model = new SongUNet(cfg) { AuxConvMode = aux };
        int B = batch, R = cfg.ImgResolution, Cin = cfg.InChannels;
        double gflops = cfg.ForwardFlopsPerSample() / 1e9;
        var loadStart = LoadAvg();
        Console.WriteLine($"libtorch {LibTorchVersion} (TorchSharp {TorchSharpVersion()}, {LoadedFrom("libLibTorchSharp.so")}), " +
                          $"threads={torch.get_num_threads()}, interop={torch.get_num_interop_threads()}, batch={B}, params={model.CountParams()}, " +
                          $"fwd GFLOP/sample={gflops:F4}, mkldnn={Mkldnn.Enabled()}, aux-conv={Name(aux)}, loadavg=({string.Join(", ", loadStart)})");

        if (check)
            return GradCheck.Run(model, B, aux) ? 0 : 1;

        // Pre-timing check: the output conv in exactly this configuration (batch, threads, aux-conv mode, oneDNN setting).
        var pre = GradCheck.CheckConv(B, cfg.ModelChannels * cfg.ChannelMult[0], cfg.OutChannels, R, aux, quiet: false);
        if (!pre.Ok)
        {
            Console.WriteLine($"WRONG GRADIENT: the output conv's gradient is wrong in this configuration (aux-conv={Name(aux)}); " +
                              (timeAnyway ? "timing anyway (--time-anyway): the numbers below are of a wrong computation" : "not timing (use --aux-conv pad16)"));
            if (!timeAnyway) return 3;
        }

        var opt = new TorchSharp.Modules.Adam(model.Parameters(), lr: 3e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8);
        var ema = model.Parameters().Select(p => p.detach().clone()).ToList();
        const int TN = 16;
        const double EPS = 1e-5;

        float CudRk12Step()
        {
            var x0 = torch.rand(B, Cin, R, R) * 2 - 1;
            var x1 = torch.randn(B, Cin, R, R);
            var t = torch.rand(B) * (1 - EPS) + EPS;
            var dt = torch.rand(B) / TN;                                          // step size 'uniform'
            var mask = t.ge(dt + EPS).to_type(ScalarType.Float32).view(B, 1, 1, 1);
            var tb = t.view(B, 1, 1, 1);
            var hb = dt.view(B, 1, 1, 1);
            var z = tb * x1 + (1 - tb) * x0;
            var vStar = x1 - x0;
            Tensor T1;
            using (torch.no_grad())                                               // catch-up passes: same model, train mode
            {
                var k1 = model.Forward(z, t);
                T1 = model.Forward(z - hb * k1, (t - dt).clamp(EPS, 1.0));
                T1 = mask * T1 + (1 - mask) * vStar;
            }
            var pred = model.Forward(z, t);
            var loss = F.mse_loss(pred, T1) + F.mse_loss(pred, vStar);
            opt.zero_grad();
            loss.backward();
            opt.step();
            using (torch.no_grad())
            {
                foreach (var (e, p) in ema.Zip(model.Parameters()))
                    e.lerp_(p, 1 - 0.999);
            }
            return loss.item<float>();
        }

        float TrainStep()
        {
            using var scope = torch.NewDisposeScope();
            if (mode == "cud-rk12") return CudRk12Step();
            var x = torch.randn(B, Cin, R, R);
            var t = torch.rand(B) * (1 - 1e-5) + 1e-5;
            var target = torch.randn(B, Cin, R, R);
            var v = model.Forward(x, t);
            var loss = F.mse_loss(v, target);
            opt.zero_grad();
            loss.backward();
            opt.step();
            return loss.item<float>();
        }

        model.Training = true;
        for (int i = 0; i < warmup; i++) TrainStep();
        var times = new List<double>();
        long minflt0 = MinorFaults();
        for (int i = 0; i < steps; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            float loss = TrainStep();
            times.Add(Stopwatch.GetElapsedTime(t0).TotalSeconds);
            Console.WriteLine($"train step {i}: {times[^1]:F4} s ({B / times[^1]:F1} samples/s) loss={loss:F4} live={TorchSharp.DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount} rss={Environment.WorkingSet >> 20} MB");
        }
        double minfltPerStep = (MinorFaults() - minflt0) / (double)Math.Max(steps, 1);

        model.Training = false;
        var ftimes = new List<double>();
        using (torch.no_grad())
        {
            var x = torch.randn(B, Cin, R, R);
            var t = torch.rand(B) * (1 - 1e-5) + 1e-5;
            for (int i = 0; i < warmup + steps; i++)
            {
                using var scope = torch.NewDisposeScope();
                long t0 = Stopwatch.GetTimestamp();
                model.Forward(x, t);
                double dt = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                if (i >= warmup)
                {
                    ftimes.Add(dt);
                    Console.WriteLine($"forward {i - warmup}: {dt:F4} s ({B / dt:F1} samples/s)");
                }
            }
        }

        double sStep = Median(times), sFwd = Median(ftimes);
        // Same keys, order and number formatting as bench_unet.py's json.dumps line, then this side's extras.
        var json = new StringBuilder("{");
        void Field(string k, string v) => json.Append(json.Length > 1 ? ", " : "").Append('"').Append(k).Append("\": ").Append(v);
        Field("framework", $"\"libtorch {LibTorchVersion} (TorchSharp {TorchSharpVersion()})\"");
        Field("samples_per_s", Py(Math.Round(B / sStep, 3)));
        Field("s_per_step", Py(Math.Round(sStep, 5)));
        Field("fwd_samples_per_s", Py(Math.Round(B / sFwd, 3)));
        Field("fwd_s_per_batch", Py(Math.Round(sFwd, 5)));
        Field("gflops_forward_per_sample", Py(Math.Round(gflops, 6)));
        Field("threads", threads.ToString(CultureInfo.InvariantCulture));
        Field("batch", B.ToString(CultureInfo.InvariantCulture));
        Field("config", "\"mnist-paper\"");
        Field("mode", $"\"{mode}\"");
        Field("loadavg_start", "[" + string.Join(", ", loadStart.Select(v => Py(Math.Round(v, 2)))) + "]");
        Field("loadavg_end", "[" + string.Join(", ", LoadAvg().Select(v => Py(Math.Round(v, 2)))) + "]");
        Field("minflt_per_step", Py(Math.Round(minfltPerStep, 1)));
        Field("aux_conv", $"\"{Name(aux)}\"");
        Field("mkldnn", Mkldnn.Enabled() ? "true" : "false");
        Field("aux_conv_dx_rel_err", pre.DxRelErr.ToString("0.###e+0", CultureInfo.InvariantCulture));
        Console.WriteLine(json.Append('}').ToString());
        return 0;
    }

    public static string Name(AuxConv a) => a == AuxConv.Pad16 ? "pad16" : "plain";

    static double Median(List<double> v)
    {
        var s = v.OrderBy(x => x).ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    /// <summary>A float as Python's repr writes it for these magnitudes (a trailing ".0" on integral values).</summary>
    static string Py(double v)
    {
        string s = v.ToString("R", CultureInfo.InvariantCulture);
        return s.Contains('.') || s.Contains('E') || s.Contains("Infinity") || s.Contains("NaN") ? s : s + ".0";
    }

    static double[] LoadAvg()
    {
        var f = File.ReadAllText("/proc/loadavg").Split(' ');
        return f.Take(3).Select(x => double.Parse(x, CultureInfo.InvariantCulture)).ToArray();
    }

    /// <summary>Minor page faults of this process so far (/proc/self/stat field 10, as getrusage's ru_minflt).</summary>
    static long MinorFaults()
    {
        string stat = File.ReadAllText("/proc/self/stat");
        var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');   // fields from 3 (state) on
        return long.Parse(f[10 - 3], CultureInfo.InvariantCulture);
    }

    static string TorchSharpVersion()
    {
        var v = typeof(torch).Assembly.GetName().Version!;
        return $"{v.Major}.{v.Minor}.{v.Build}";
    }

    /// <summary>The path a library was mapped from (/proc/self/maps), to show which copy was loaded.</summary>
    static string LoadedFrom(string lib)
    {
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            int i = line.IndexOf('/');
            if (i >= 0 && line.EndsWith("/" + lib, StringComparison.Ordinal)) return line[i..];
        }
        return lib + " not mapped";
    }
}

/// <summary>at::globalContext().setUserEnabledMkldnn(bool): torch.backends.mkldnn.enabled, which TorchSharp does not wrap.
/// Called through libtorch_cpu.so's exported C++ symbols (x86-64 SysV: `this` is the first argument).</summary>
internal static partial class Mkldnn
{
    const string Lib = "libtorch_cpu.so";

    [LibraryImport(Lib, EntryPoint = "_ZN2at13globalContextEv")]
    private static partial IntPtr GlobalContext();

    [LibraryImport(Lib, EntryPoint = "_ZN2at7Context20setUserEnabledMkldnnEb")]
    private static partial void SetUserEnabledMkldnn(IntPtr ctx, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [LibraryImport(Lib, EntryPoint = "_ZNK2at7Context17userEnabledMkldnnEv")]
    [return: MarshalAs(UnmanagedType.U1)]
    private static partial bool UserEnabledMkldnn(IntPtr ctx);

    public static void SetEnabled(bool on)
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux) || RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            if (!on) throw new PlatformNotSupportedException("--mkldnn off is implemented for linux-x64 only");
            return;
        }
        SetUserEnabledMkldnn(GlobalContext(), on);
    }

    public static bool Enabled() =>
        !RuntimeInformation.IsOSPlatform(OSPlatform.Linux) || RuntimeInformation.ProcessArchitecture != Architecture.X64 || UserEnabledMkldnn(GlobalContext());
}
