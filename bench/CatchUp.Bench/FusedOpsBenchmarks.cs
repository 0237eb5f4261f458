using BenchmarkDotNet.Attributes;
using CatchUp.Backends;
using CatchUp.Backends.Cuda;
using CatchUp.Tensors;

namespace CatchUp.Bench;

/// <summary>
/// The fused ops the CUDA backend has kernels for, on CIFAR-10-paper shapes: the GroupNorm+SiLU head path (forward and
/// backward, features [64,128,32,32], 32 groups), the dynamic-skip concat (two [64,128,16,16] halves with per-sample
/// scales), the RK34 catch-up point (three k's, [128,3,32,32]) and Adam/EMA over 2.1M parameters (MNIST paper net).
/// Device "cpu" always (2 threads); "cuda" only when the probe finds a GPU. Every call ends with Synchronize, so GPU
/// timings include the kernel, not only its launch. Run:
/// dotnet run -c Release --project bench/CatchUp.Bench -- --filter '*FusedOpsBenchmarks*'
/// </summary>
[SimpleJob(warmupCount: 3, iterationCount: 10)]
[MedianColumn, MinColumn]
public class FusedOpsBenchmarks
{
    private IBackend _be = null!;
    private Tensor _f = null!, _gamma = null!, _beta = null!, _fy = null!, _mean = null!, _rstd = null!, _fdy = null!, _fdx = null!, _dgamma = null!, _dbeta = null!;
    private Tensor _a = null!, _b = null!, _sa = null!, _sb = null!, _cat = null!, _da = null!, _db = null!;
    private Tensor _z = null!, _k1 = null!, _k2 = null!, _k3 = null!, _t = null!, _dt = null!, _point = null!, _time = null!;
    private Tensor _p = null!, _g = null!, _m = null!, _v = null!, _ema = null!;
    private const int Groups = 32, Params = 2_155_201;

    public static IEnumerable<string> Devices() =>
        CudaProbe.TryFindDevice(0, out _, out _) ? ["cpu", "cuda"] : ["cpu"];

    [ParamsSource(nameof(Devices))] public string Device = "cpu";

    private Tensor Random(params int[] shape) => BenchData.Random(_be, shape);

    [GlobalSetup]
    public void Setup()
    {
        _be = BackendFactory.Create(Device, 2, TextWriter.Null);
        _f = Random(64, 128, 32, 32); _gamma = Random(128); _beta = Random(128); _fy = _be.Allocate([64, 128, 32, 32]);
        _mean = _be.Allocate([64, Groups]); _rstd = _be.Allocate([64, Groups]); _fdy = Random(64, 128, 32, 32); _fdx = _be.Allocate([64, 128, 32, 32]);
        _dgamma = _be.Allocate([128]); _dbeta = _be.Allocate([128]);
        _a = Random(64, 128, 16, 16); _b = Random(64, 128, 16, 16); _sa = Random(64); _sb = Random(64);
        _cat = _be.Allocate([64, 256, 16, 16]); _da = _be.Allocate([64, 128, 16, 16]); _db = _be.Allocate([64, 128, 16, 16]);
        _z = Random(128, 3, 32, 32); _k1 = Random(128, 3, 32, 32); _k2 = Random(128, 3, 32, 32); _k3 = Random(128, 3, 32, 32);
        _t = Random(128); _dt = Random(128); _point = _be.Allocate([128, 3, 32, 32]); _time = _be.Allocate([128]);
        _p = Random(Params); _g = Random(Params); _m = _be.Allocate([Params]); _v = _be.Allocate([Params]); _ema = Random(Params);
        HeadGroupNormSiluForward();
    }

    [GlobalCleanup]
    public void Cleanup() => _be.Dispose();

    [Benchmark]
    public void HeadGroupNormSiluForward()
    {
        _be.GroupNormForward(_f, null, _gamma, _beta, Groups, 1e-6f, true, DropoutSpec.None, _fy, _mean, _rstd);
        _be.Synchronize();
    }

    [Benchmark]
    public void HeadGroupNormSiluBackward()
    {
        _be.GroupNormBackward(_f, null, _gamma, _beta, Groups, true, DropoutSpec.None, _mean, _rstd, _fdy, _fdx, null, _dgamma, _dbeta);
        _be.Synchronize();
    }

    [Benchmark]
    public void DynamicSkipConcat()
    {
        _be.ConcatScaled(_a, _b, _sa, _sb, _cat);
        _be.Synchronize();
    }

    [Benchmark]
    public void DynamicSkipConcatBackward()
    {
        _be.ConcatScaledBackward(_cat, _sa, _sb, _da, _db);
        _be.Synchronize();
    }

    [Benchmark]
    public void CatchUpPointRk34()
    {
        _be.CatchUpPoint(_z, _k1, _k2, _k3, _t, _dt, new CatchUpStep(5f / 4f, 2f, -1f / 4f, 3f, true, 1e-5f), _point, _time);
        _be.Synchronize();
    }

    [Benchmark]
    public void Adam()
    {
        _be.AdamStep(_p, _g, _m, _v, new AdamSpec(1e-4f, 0.9f, 0.999f, 1e-8f, 0f, false, 10));
        _be.Synchronize();
    }

    [Benchmark]
    public void Ema()
    {
        _be.EmaUpdate(_ema, _p, 0.9999f);
        _be.Synchronize();
    }
}
