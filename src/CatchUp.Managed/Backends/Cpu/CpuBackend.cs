using System.Runtime.InteropServices;
using CatchUp.Backends.Cpu.Kernels;
using CatchUp.Tensors;

namespace CatchUp.Backends.Cpu;

/// <summary>
/// The reference backend: tensors live in 64-byte aligned native memory recycled through a size-keyed free list,
/// kernels are SIMD (Vector512 where the CPU has AVX-512) and run on a <see cref="WorkerPool"/>.
/// </summary>
public sealed unsafe class CpuBackend : IBackend
{
    private readonly Dictionary<long, Stack<nint>> _free = new();
    private WorkerPool _pool;

    public CpuBackend(int threads = 0)
    {
        _pool = new WorkerPool(threads > 0 ? threads : Environment.ProcessorCount);
    }

    public string Name => $"cpu ({_pool.Threads} threads, {SimdInfo.Description})";
    public WorkerPool Pool => _pool;
    public long BytesAllocated { get; private set; }
    public long AllocationCount { get; private set; }

    public int Threads
    {
        get => _pool.Threads;
        set
        {
            if (value < 1) throw new ArgumentOutOfRangeException(nameof(value), "at least one thread is needed");
            if (value == _pool.Threads) return;
            _pool.Dispose();
            _pool = new WorkerPool(value);
        }
    }

    public Tensor Allocate(ReadOnlySpan<int> shape)
    {
        long length = 1;
        foreach (int d in shape) length *= d;
        long bytes = Math.Max(64, (length * sizeof(float) + 63) & ~63L);
        nint p;
        if (_free.TryGetValue(bytes, out var stack) && stack.Count > 0) p = stack.Pop();
        else
        {
            p = (nint)NativeMemory.AlignedAlloc((nuint)bytes, 64);
            BytesAllocated += bytes;
            AllocationCount++;
        }
        NativeMemory.Clear((void*)p, (nuint)bytes);
        return new Tensor(this, p, shape);
    }

    public void Free(Tensor t)
    {
        long bytes = Math.Max(64, ((long)t.Length * sizeof(float) + 63) & ~63L);
        if (!_free.TryGetValue(bytes, out var stack)) _free[bytes] = stack = new Stack<nint>();
        stack.Push(t.Handle);
    }

    public void Upload(ReadOnlySpan<float> source, Tensor destination)
    {
        if (source.Length != destination.Length)
            throw new ArgumentException($"upload of {source.Length} floats into tensor {destination.ShapeString}");
        source.CopyTo(destination.Span);
    }

    public void Download(Tensor source, Span<float> destination)
    {
        if (source.Length != destination.Length)
            throw new ArgumentException($"download of tensor {source.ShapeString} into {destination.Length} floats");
        source.Span.CopyTo(destination);
    }

    public void Synchronize() { }

    public void Fill(Tensor y, float value) => ElementwiseKernels.Fill(_pool, y, value);
    public void Copy(Tensor source, Tensor destination) => ElementwiseKernels.Copy(_pool, source, destination);
    public void Axpby(float a, Tensor x, float b, Tensor y) => ElementwiseKernels.Axpby(_pool, a, x, b, y);
    public void AddScale(Tensor a, Tensor b, float scale, Tensor y) => ElementwiseKernels.AddScale(_pool, a, b, scale, y);
    public void Silu(Tensor x, Tensor y) => ElementwiseKernels.Silu(_pool, x, y);
    public void SiluBackward(Tensor x, Tensor dy, Tensor dx) => ElementwiseKernels.SiluBackward(_pool, x, dy, dx);

    /// <summary>How 3x3 convolutions are computed (1x1 ones are always direct); <see cref="ConvPlan"/> resolves
    /// <see cref="ConvAlgorithm.Auto"/> per layer shape.</summary>
    public ConvAlgorithm ConvAlgorithm { get => ConvPlan.Requested; set => ConvPlan.Requested = value; }

    /// <summary>The CPU backend behind <paramref name="backend"/> (through a profiling decorator), or null.</summary>
    public static CpuBackend? Find(IBackend backend) => backend switch
    {
        CpuBackend c => c,
        ProfilingBackend p => Find(p.Inner),
        _ => null,
    };

    /// <summary>The algorithm chosen for each 3x3 convolution shape seen (or loaded from a checkpoint).</summary>
    public ConvPlan ConvPlan { get; } = new();

    public void Conv2dForward(Tensor x, Tensor w, Tensor? bias, Tensor y)
        => Conv2dKernels.Forward(_pool, x, w, bias, y, ConvPlan.Resolve(this, x, w).Forward);

    public void Conv2dBackward(Tensor x, Tensor w, Tensor dy, Tensor? dx, Tensor dw, Tensor? dbias)
    {
        var c = ConvPlan.Resolve(this, x, w);
        Conv2dKernels.Backward(_pool, x, w, dy, dx, dw, dbias, c.Data, c.Weight);
    }

    public void AvgPool2x(Tensor x, Tensor y) => ResampleKernels.AvgPool2x(_pool, x, y);
    public void AvgPool2xBackward(Tensor dy, Tensor dx) => ResampleKernels.AvgPool2xBackward(_pool, dy, dx);
    public void Upsample2x(Tensor x, Tensor y) => ResampleKernels.Upsample2x(_pool, x, y);
    public void Upsample2xBackward(Tensor dy, Tensor dx) => ResampleKernels.Upsample2xBackward(_pool, dy, dx);

    public void GroupNormForward(Tensor x, Tensor? shift, Tensor gamma, Tensor beta, int groups, float eps, bool silu,
        DropoutSpec dropout, Tensor y, Tensor mean, Tensor rstd)
        => GroupNormKernels.Forward(_pool, x, shift, gamma, beta, groups, eps, silu, dropout, y, mean, rstd);
    public void GroupNormBackward(Tensor x, Tensor? shift, Tensor gamma, Tensor beta, int groups, bool silu, DropoutSpec dropout,
        Tensor mean, Tensor rstd, Tensor dy, Tensor dx, Tensor? dshift, Tensor dgamma, Tensor dbeta)
        => GroupNormKernels.Backward(_pool, x, shift, gamma, beta, groups, silu, dropout, mean, rstd, dy, dx, dshift, dgamma, dbeta);

    public void ScaleShiftForward(Tensor x, Tensor scaleShift, bool silu, DropoutSpec dropout, Tensor y)
        => ScaleShiftKernels.Forward(_pool, x, scaleShift, silu, dropout, y);
    public void ScaleShiftBackward(Tensor x, Tensor scaleShift, bool silu, DropoutSpec dropout, Tensor dy, Tensor dx, Tensor dScaleShift)
        => ScaleShiftKernels.Backward(_pool, x, scaleShift, silu, dropout, dy, dx, dScaleShift);

    public void LinearForward(Tensor x, Tensor w, Tensor? bias, Tensor y) => LinearKernels.Forward(_pool, x, w, bias, y);
    public void LinearBackward(Tensor x, Tensor w, Tensor dy, Tensor? dx, Tensor dw, Tensor? dbias)
        => LinearKernels.Backward(_pool, x, w, dy, dx, dw, dbias);
    public void PositionalEmbedding(Tensor t, Tensor y) => LinearKernels.PositionalEmbedding(t, y);

    public void AttentionForward(Tensor qkv, Tensor y, Tensor? probs) => AttentionKernels.Forward(_pool, qkv, y, probs);
    public void AttentionBackward(Tensor qkv, Tensor probs, Tensor dy, Tensor dqkv) => AttentionKernels.Backward(_pool, qkv, probs, dy, dqkv);

    public void ConcatScaled(Tensor a, Tensor b, Tensor? scaleA, Tensor? scaleB, Tensor y)
        => ConcatKernels.Forward(_pool, a, b, scaleA, scaleB, y);
    public void ConcatScaledBackward(Tensor dy, Tensor? scaleA, Tensor? scaleB, Tensor da, Tensor db)
        => ConcatKernels.Backward(_pool, dy, scaleA, scaleB, da, db);

    public void ScaleAddPerSample(Tensor x, Tensor? a, float ca, Tensor y, Tensor? b, float cb)
        => PerSampleKernels.ScaleAdd(_pool, x, a, ca, y, b, cb);
    public void SelectPerSample(Tensor mask, Tensor ifTrue, Tensor ifFalse, Tensor y) => PerSampleKernels.Select(_pool, mask, ifTrue, ifFalse, y);
    public void Reparameterize(Tensor muLogvar, Tensor noise, Tensor x1) => PerSampleKernels.Reparameterize(_pool, muLogvar, noise, x1);
    public void ReparameterizeBackward(Tensor muLogvar, Tensor noise, Tensor dx1, Tensor dMuLogvar)
        => PerSampleKernels.ReparameterizeBackward(_pool, muLogvar, noise, dx1, dMuLogvar);

    public void CatchUpPoint(Tensor z, Tensor k1, Tensor? k2, Tensor? k3, Tensor t, Tensor dt, CatchUpStep step, Tensor y, Tensor time)
        => CatchUpKernels.Point(_pool, z, k1, k2, k3, t, dt, step, y, time);

    public void AdamStep(Tensor param, Tensor grad, Tensor m, Tensor v, AdamSpec spec) => OptimizerKernels.Adam(_pool, param, grad, m, v, spec);
    public void EmaUpdate(Tensor ema, Tensor param, float decay) => OptimizerKernels.Ema(_pool, ema, param, decay);
    public double SumSquares(Tensor x) => OptimizerKernels.SumSquares(x);

    public double SumSquares(IReadOnlyList<Tensor> tensors)
    {
        double sum = 0;
        for (int i = 0; i < tensors.Count; i++) sum += OptimizerKernels.SumSquares(tensors[i]);
        return sum;
    }

    public float MseLoss(Tensor a, Tensor b, Tensor? grad, float gradScale) => LossKernels.Mse(_pool, a, b, grad, gradScale);
    public float KlLoss(Tensor muLogvar, Tensor? grad, float gradScale) => LossKernels.Kl(muLogvar, grad, gradScale);

    public void Dispose()
    {
        _pool.Dispose();
        foreach (var stack in _free.Values)
            while (stack.Count > 0) NativeMemory.AlignedFree((void*)stack.Pop());
        _free.Clear();
    }
}
