using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using CatchUp.Backends.Cpu;
using CatchUp.Backends.Cpu.Kernels;
using CatchUp.Tensors;

namespace CatchUp.Bench;

/// <summary>
/// Conv2d at batch 64 on 2 threads, per algorithm (direct, Winograd F(2x2,3x3), F(4x4,3x3)) on the MNIST UNet's 3x3
/// shapes at its three resolutions. GFLOP/s (direct-equivalent FLOPs) is printed in [GlobalCleanup] from the median of
/// the measured calls. Run: dotnet run -c Release --project bench/CatchUp.Bench -- --filter '*ConvBenchmarks*'
/// A quicker standalone table of all UNet shapes: dotnet run -c Release --project bench/CatchUp.Bench -- conv-quick
/// (direct), or catchup bench conv (every algorithm).
/// </summary>
[MemoryDiagnoser]
public class ConvBenchmarks
{
    [Params("64x64@28", "128x64@14", "64x64@7")]
    public string Shape { get; set; } = "64x64@28";

    [Params("direct", "winograd2", "winograd4")]
    public string Algorithm { get; set; } = "direct";

    private ConvCase _case = null!;
    private readonly List<double> _fwd = new(), _data = new(), _wgt = new();

    [GlobalSetup]
    public void Setup()
    {
        var parts = Shape.Split('x', '@');
        _case = new ConvCase(64, int.Parse(parts[0]), int.Parse(parts[1]), int.Parse(parts[2]), 3, threads: 2, ConvAlgorithmNames.Parse(Algorithm));
    }

    [Benchmark]
    public void Forward()
    {
        long t = Stopwatch.GetTimestamp();
        _case.Forward();
        _fwd.Add(Stopwatch.GetElapsedTime(t).TotalSeconds);
    }

    /// <summary>The data gradient alone.</summary>
    [Benchmark]
    public void BackwardData()
    {
        long t = Stopwatch.GetTimestamp();
        Conv2dKernels.BenchDataOnly = true;
        try { _case.Backward(withDx: true); }
        finally { Conv2dKernels.BenchDataOnly = false; }
        _data.Add(Stopwatch.GetElapsedTime(t).TotalSeconds);
    }

    /// <summary>The weight and bias gradients.</summary>
    [Benchmark]
    public void BackwardWeight()
    {
        long t = Stopwatch.GetTimestamp();
        _case.Backward(withDx: false);
        _wgt.Add(Stopwatch.GetElapsedTime(t).TotalSeconds);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var (pass, times) in new[] { ("forward", _fwd), ("backward data", _data), ("backward weight", _wgt) })
            if (times.Count > 0) Console.WriteLine($"// {Shape} {Algorithm} {pass}: {_case.PassFlops / Median(times) / 1e9:F1} GFLOP/s (median of {times.Count} calls)");
        _case.Dispose();
    }

    internal static double Median(List<double> v)
    {
        var s = v.OrderBy(a => a).ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[s.Length / 2 - 1] + s[s.Length / 2]);
    }
}

/// <summary>One conv problem with its tensors on a CPU backend.</summary>
internal sealed class ConvCase : IDisposable
{
    private readonly CpuBackend _be;
    private readonly Tensor _x, _w, _b, _y, _dy, _dx, _dw, _db;

    public ConvCase(int n, int cin, int cout, int hw, int k, int threads, ConvAlgorithm algorithm = ConvAlgorithm.Direct)
    {
        N = n; Cin = cin; Cout = cout; Hw = hw; K = k;
        _be = new CpuBackend(threads) { ConvAlgorithm = algorithm };
        var rng = new Random(1);
        Tensor Rand(params int[] shape)
        {
            var t = _be.Allocate(shape);
            var a = new float[t.Length];
            for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() - 0.5);
            _be.Upload(a, t);
            return t;
        }
        _x = Rand(n, cin, hw, hw); _w = Rand(cout, cin, k, k); _b = Rand(cout);
        _y = _be.Allocate([n, cout, hw, hw]); _dy = Rand(n, cout, hw, hw);
        _dx = _be.Allocate([n, cin, hw, hw]); _dw = _be.Allocate([cout, cin, k, k]); _db = _be.Allocate([cout]);
    }

    public int N, Cin, Cout, Hw, K;
    /// <summary>FLOPs of one pass (forward, backward-data or backward-weight): 2*N*Cout*Cin*k*k*H*W.</summary>
    public double PassFlops => 2.0 * N * Cout * Cin * K * K * Hw * Hw;

    public void Forward() => _be.Conv2dForward(_x, _w, _b, _y);
    public void Backward(bool withDx) => _be.Conv2dBackward(_x, _w, _dy, withDx ? _dx : null, _dw, _db);

    public void Dispose()
    {
        foreach (var t in new[] { _x, _w, _b, _y, _dy, _dx, _dw, _db }) t.Dispose();
        _be.Dispose();
    }
}

/// <summary>Standalone timing table (median of several runs per pass), triggered by the "conv-quick" argument.</summary>
internal static class ConvQuick
{
    // Runs before Program.Main when the "conv-quick" argument is present. Everything that runs on other threads here
    // must live outside this assembly (a second thread entering this module would wait for its initializer).
    [ModuleInitializer]
    internal static void Init()
    {
        var args = Environment.GetCommandLineArgs();
        if (!args.Contains("conv-quick")) return;
        int reps = 9;
        string? only = args.SkipWhile(a => a != "conv-quick").Skip(1).FirstOrDefault();
        Run(reps, only);
        Environment.Exit(0);
    }

    private static int Threads => int.TryParse(Environment.GetEnvironmentVariable("CONV_THREADS"), out int t) ? t : 2;

    private static void Run(int reps, string? only)
    {
        Console.WriteLine($"SIMD: {SimdInfo.Description}, Vector512 accelerated: {Vector512.IsHardwareAccelerated}, Avx512F: {System.Runtime.Intrinsics.X86.Avx512F.IsSupported}, cores: {Environment.ProcessorCount}");
        double peak1 = ConvPeak.MeasureGflops(1), peak2 = ConvPeak.MeasureGflops(2);
        Console.WriteLine($"Measured FMA peak: 1 thread {peak1:F1} GFLOP/s, 2 threads {peak2:F1} GFLOP/s (nominal 320)");
        (int cin, int cout, int hw, int k)[] shapes =
        [
            (1, 32, 28, 3), (32, 64, 28, 3), (64, 64, 28, 3), (96, 64, 28, 3), (128, 64, 28, 3), (64, 1, 28, 3),
            (64, 64, 14, 3), (96, 64, 14, 3), (128, 64, 14, 3), (64, 64, 7, 3), (128, 64, 7, 3),
            (32, 64, 28, 1), (96, 64, 28, 1), (128, 64, 14, 1), (64, 192, 7, 1), (64, 64, 7, 1),
            // CIFAR config
            (128, 128, 32, 3), (256, 256, 16, 3), (256, 256, 8, 3),
        ];
        double peak = Threads == 1 ? peak1 : peak2;
        Console.WriteLine($"batch 64, {Threads} threads, median of {reps} (best-of runs at the end of the line); % of measured {Threads}-thread FMA peak");
        Console.WriteLine($"{"shape",-18} {"fwd GF/s",9} {"%",5} {"bwdData",9} {"%",5} {"bwdWgt",9} {"%",5} {"fwd ms",8} {"bwd ms",8}");
        var totals = new double[3];
        foreach (var (cin, cout, hw, k) in shapes)
        {
            string name = $"{k}x{k} {cin}->{cout} @{hw}";
            if (only != null && !name.Contains(only)) continue;
            using var c = new ConvCase(64, cin, cout, hw, k, threads: Threads);
            double f = Time(c.Forward, reps), fBest = LastBest, bw = Time(() => c.Backward(false), reps), bwBest = LastBest, ball = Time(() => c.Backward(true), reps);
            Conv2dKernels.BenchDataOnly = true;
            double bd = Time(() => c.Backward(true), reps);
            Conv2dKernels.BenchDataOnly = false;
            double gf = c.PassFlops / f / 1e9, gd = c.PassFlops / bd / 1e9, gw = c.PassFlops / bw / 1e9;
            Console.WriteLine($"{name,-18} {gf,9:F1} {100 * gf / peak,5:F0} {gd,9:F1} {100 * gd / peak,5:F0} {gw,9:F1} {100 * gw / peak,5:F0} {f * 1e3,8:F2} {ball * 1e3,8:F2}   best: fwd {c.PassFlops / fBest / 1e9:F0} wgt {c.PassFlops / bwBest / 1e9:F0}");
        }
    }

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern int clock_gettime(int clock, out Timespec ts);
    private struct Timespec { public long Sec, Nsec; }

    /// <summary>CONV_CLOCK=cpu times by process CPU time / threads (robust to other processes stealing the cores on a
    /// shared machine; the pool's spinning is counted, so it never flatters); default is wall time.</summary>
    private static readonly bool CpuClock = Environment.GetEnvironmentVariable("CONV_CLOCK") == "cpu";

    private static double Now()
    {
        if (!CpuClock) return Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency;
        clock_gettime(2, out var ts); // CLOCK_PROCESS_CPUTIME_ID
        return (ts.Sec + ts.Nsec * 1e-9) / Threads;
    }

    private static double LastBest;

    private static double Time(Action a, int reps)
    {
        a(); a();
        var t = new List<double>();
        for (int i = 0; i < reps; i++)
        {
            double s = Now();
            a();
            t.Add(Now() - s);
        }
        LastBest = t.Min();
        return ConvBenchmarks.Median(t);
    }
}

/// <summary>Single-thread micro-kernel probe ("conv-tile" argument): forward tile throughput with aligned vs unaligned B rows.</summary>
internal static unsafe class ConvTileProbe
{
    [ModuleInitializer]
    internal static void Init()
    {
        if (!Environment.GetCommandLineArgs().Contains("conv-tile")) return;
        const int kdim = 576;
        float* a = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(kdim * 8 * 4, 64);
        float* b = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(64 * 1024 * 4 + 4096, 64);
        float* c = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(8 * 64 * 4, 64);
        int* offs = (int*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(kdim * 4, 64);
        for (int i = 0; i < kdim * 8; i++) a[i] = 0.001f;
        for (int i = 0; i < 64 * 1024; i++) b[i] = 0.5f;
        foreach (int mode in new[] { 0, 1, 2, 0, 1, 2 })
        {
            // 0: tiny L1-resident aligned B; 1: conv-like aligned rows; 2: conv-like unaligned taps
            for (int k = 0; k < kdim; k++)
                offs[k] = mode == 0 ? (k % 16) * 64 : (k / 9) * 1024 + (mode == 1 ? (k % 9 / 3) * 32 : (k % 9 / 3) * 30 + k % 3);
            int aligned = mode;
            long s = Stopwatch.GetTimestamp();
            int calls = 20000;
            for (int i = 0; i < calls; i++) ConvMicroKernels.Tile(ConvSimd.V512, a, b + (i % 16) * 48, offs, kdim, c, 48, 48, false);
            double sec = Stopwatch.GetElapsedTime(s).TotalSeconds;
            Console.WriteLine($"mode={aligned}: {calls * (double)kdim * 8 * 48 * 2 / sec / 1e9:F1} GFLOP/s");
        }
        Environment.Exit(0);
    }
}
