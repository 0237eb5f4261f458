using BenchmarkDotNet.Attributes;
using CatchUp.Backends;
using CatchUp.Backends.Cpu;
using CatchUp.Tensors;

namespace CatchUp.Bench;

/// <summary>
/// Non-convolution kernels on the shapes that matter (2 worker threads):
/// GroupNorm + shift + SiLU + dropout(0.13) on [64,64,28,28] (16 groups), attention on qkv [64,3*192,7,7].
/// Bytes moved per call, for GB/s: GN forward 2*4*numel (read x, write y), GN backward 3*4*numel (x, dy, dx);
/// attention forward reads qkv and writes y and probs. Run:
/// dotnet run -c Release --project bench/CatchUp.Bench -- --filter '*OpsBenchmarks*'
/// </summary>
[SimpleJob(warmupCount: 5, iterationCount: 15)]
[MedianColumn, MinColumn]
public class OpsBenchmarks
{
    private CpuBackend _be = null!;
    private Tensor _x = null!, _shift = null!, _gamma = null!, _beta = null!, _y = null!, _mean = null!, _rstd = null!;
    private Tensor _dy = null!, _dx = null!, _dshift = null!, _dgamma = null!, _dbeta = null!;
    private Tensor _qkv = null!, _ay = null!, _probs = null!, _ady = null!, _dqkv = null!;
    private readonly DropoutSpec _drop = new(0.13f, 42);
    private const int N = 64, C = 64, H = 28, W = 28, Groups = 16, AC = 192, AH = 7, P = AH * AH;

    [Params(2)] public int Threads;

    private Tensor Random(params int[] shape) => BenchData.Random(_be, shape);

    [GlobalSetup]
    public void Setup()
    {
        _be = new CpuBackend(Threads);
        _x = Random(N, C, H, W); _shift = Random(N, C); _gamma = Random(C); _beta = Random(C);
        _y = _be.Allocate([N, C, H, W]); _mean = _be.Allocate([N, Groups]); _rstd = _be.Allocate([N, Groups]);
        _dy = Random(N, C, H, W); _dx = _be.Allocate([N, C, H, W]); _dshift = _be.Allocate([N, C]);
        _dgamma = _be.Allocate([C]); _dbeta = _be.Allocate([C]);
        _qkv = Random(N, 3 * AC, AH, AH); _ay = _be.Allocate([N, AC, AH, AH]); _probs = _be.Allocate([N, P, P]);
        _ady = Random(N, AC, AH, AH); _dqkv = _be.Allocate([N, 3 * AC, AH, AH]);
        GroupNormForward();
        AttentionForward();
    }

    [GlobalCleanup]
    public void Cleanup() => _be.Dispose();

    [Benchmark]
    public void GroupNormForward()
        => _be.GroupNormForward(_x, _shift, _gamma, _beta, Groups, 1e-6f, true, _drop, _y, _mean, _rstd);

    [Benchmark]
    public void GroupNormBackward()
        => _be.GroupNormBackward(_x, _shift, _gamma, _beta, Groups, true, _drop, _mean, _rstd, _dy, _dx, _dshift, _dgamma, _dbeta);

    [Benchmark]
    public void GroupNormForwardPlain()
        => _be.GroupNormForward(_x, null, _gamma, _beta, Groups, 1e-6f, false, DropoutSpec.None, _y, _mean, _rstd);

    [Benchmark]
    public void AttentionForward() => _be.AttentionForward(_qkv, _ay, _probs);

    [Benchmark]
    public void AttentionBackward() => _be.AttentionBackward(_qkv, _probs, _ady, _dqkv);
}
