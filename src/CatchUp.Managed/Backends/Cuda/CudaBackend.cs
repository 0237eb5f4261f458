using CatchUp.Backends.Cpu.Kernels;
using CatchUp.Backends.Cuda.Interop;
using CatchUp.Tensors;
using static CatchUp.Backends.DeviceArgumentChecks;
using K = CatchUp.Backends.Cuda.CudaKernels;

namespace CatchUp.Backends.Cuda;

/// <summary>
/// The NVIDIA backend: tensors are device allocations recycled by size; all work is queued on one stream.
/// Convolutions run on cuDNN, Linear and attention's products on cuBLAS, everything else on the fused kernels of
/// native/kernels (GroupNorm+shift+SiLU+dropout, dynamic-skip concat, the RK catch-up point, element-wise, Adam, EMA,
/// losses). Only the scalar-returning ops (losses, SumSquares) and Upload/Download wait for the device. Results match
/// <see cref="Cpu.CpuBackend"/> to float rounding (checked by <see cref="BackendConformance"/>); dropout masks are the
/// same bits. FP32 throughout unless <c>allowTf32</c>.
/// </summary>
public sealed unsafe class CudaBackend : IBackend
{
    private readonly DeviceRuntime _rt;
    private readonly DeviceMemoryPool _memory;
    private readonly DeviceScratch _scratch;
    private readonly Dictionary<int, ulong> _frequencies = new();
    private bool _disposed;

    /// <summary>Opens device <paramref name="ordinal"/>; throws <see cref="CudaException"/> naming the failing call when
    /// there is no driver, no device, or the PTX does not load.</summary>
    public CudaBackend(int ordinal = 0, bool allowTf32 = false) : this(new DriverRuntime(ordinal, allowTf32), allowTf32) { }

    internal CudaBackend(DeviceRuntime runtime, bool allowTf32 = false)
    {
        _rt = runtime;
        AllowTf32 = allowTf32;
        _memory = new DeviceMemoryPool(runtime);
        _scratch = new DeviceScratch(runtime);
    }

    public bool AllowTf32 { get; }
    public string Name => $"cuda ({_rt.Description}{(AllowTf32 ? ", TF32" : "")})";
    public long BytesAllocated => _memory.BytesAllocated;
    /// <summary>The compute stream (NCCL reduces gradients on it, ordered after the backward pass).</summary>
    internal nint Stream => _rt.ComputeStream;
    public long AllocationCount => _memory.AllocationCount;

    /// <summary>Ignored: the GPU does not use host threads.</summary>
    public int Threads { get => 1; set { } }

    private static ulong P(Tensor t) => (ulong)t.Handle;
    private static ulong P(Tensor? t, long floatOffset) => t is null ? 0 : (ulong)t.Handle + (ulong)(floatOffset * sizeof(float));

    /// <summary>Launches over <paramref name="elements"/> work items with grid-stride loops (grid capped).</summary>
    private void LaunchElements(KernelDeclaration kernel, long elements, params ReadOnlySpan<KernelArg> args)
    {
        long blocks = Math.Clamp((elements + CudaKernels.BlockSize - 1) / CudaKernels.BlockSize, 1, 65535);
        _rt.Launch(kernel, (uint)blocks, args);
    }

    private void Launch(KernelDeclaration kernel, uint blocks, params ReadOnlySpan<KernelArg> args) => _rt.Launch(kernel, blocks, args);

    // ---------------------------------------------------------------- memory

    public Tensor Allocate(ReadOnlySpan<int> shape)
    {
        long length = 1;
        foreach (int d in shape) length *= d;
        long bytes = DeviceMemoryPool.RoundedBytes(length);
        ulong p = _memory.Rent(bytes);
        _rt.Memset32(p, 0, bytes / sizeof(float));
        return new Tensor(this, (nint)p, shape);
    }

    public void Free(Tensor t)
    {
        if (_disposed) return;
        _memory.Return(P(t), DeviceMemoryPool.RoundedBytes(t.Length));
    }

    public void Upload(ReadOnlySpan<float> source, Tensor destination)
    {
        if (!(source.Length == destination.Length))
            throw new ArgumentException($"upload of {source.Length} floats into tensor {destination.ShapeString}");
        fixed (float* s = source) _rt.CopyToDevice(P(destination), s, (long)source.Length * sizeof(float));
    }

    public void Download(Tensor source, Span<float> destination)
    {
        if (!(source.Length == destination.Length))
            throw new ArgumentException($"download of tensor {source.ShapeString} into {destination.Length} floats");
        fixed (float* d = destination) _rt.CopyToHost(d, P(source), (long)destination.Length * sizeof(float));
    }

    public void Synchronize() => _rt.Synchronize();

    // ---------------------------------------------------------------- element-wise

    public void Fill(Tensor y, float value) => _rt.Memset32(P(y), BitConverter.SingleToUInt32Bits(value), y.Length);

    public void Copy(Tensor source, Tensor destination)
    {
        SameLength(source, destination, "copy");
        if (source.Handle == destination.Handle) return;
        _rt.CopyOnDevice(P(destination), P(source), (long)source.Length * sizeof(float));
    }

    public void Axpby(float a, Tensor x, float b, Tensor y)
    {
        SameLength(x, y, "axpby");
        LaunchElements(K.Axpby, y.Length, x, y, y.Length, a, b);
    }

    public void AddScale(Tensor a, Tensor b, float scale, Tensor y)
    {
        SameLength(a, y, "add-scale"); SameLength(b, y, "add-scale");
        LaunchElements(K.AddScale, y.Length, a, b, y, y.Length, scale);
    }

    public void Silu(Tensor x, Tensor y)
    {
        SameLength(x, y, "silu");
        LaunchElements(K.Silu, y.Length, x, y, y.Length);
    }

    public void SiluBackward(Tensor x, Tensor dy, Tensor dx)
    {
        SameLength(x, dy, "silu backward"); SameLength(x, dx, "silu backward");
        LaunchElements(K.SiluBackward, x.Length, x, dy, dx, x.Length);
    }

    // ---------------------------------------------------------------- convolution (cuDNN)

    private static ConvShape Shape(Tensor x, Tensor w, Tensor y) => new(x.N, x.C, x.H, x.W, w.Dim(0), Conv(x, w, y));

    public void Conv2dForward(Tensor x, Tensor w, Tensor? bias, Tensor y)
    {
        var shape = Shape(x, w, y);
        _rt.ConvForward(shape, P(x), P(w), P(y));
        if (bias != null)
        {
            ConvBias(bias, y.C, "conv2d");
            LaunchElements(K.AddChannelBias, y.Length, y, bias, y.N, y.C, y.H * y.W);
        }
    }

    public void Conv2dBackward(Tensor x, Tensor w, Tensor dy, Tensor? dx, Tensor dw, Tensor? dbias)
    {
        var shape = Shape(x, w, dy);
        SameLength(w, dw, "conv2d backward");
        if (dx != null)
        {
            SameLength(x, dx, "conv2d backward");
            _rt.ConvBackwardData(shape, P(w), P(dy), P(dx));
        }
        _rt.ConvBackwardFilter(shape, P(x), P(dy), P(dw));
        if (dbias != null)
        {
            ConvBias(dbias, dy.C, "conv2d backward");
            Launch(K.ChannelSumAccumulate, (uint)dy.C, dy, dbias, dy.N, dy.C, dy.H * dy.W);
        }
    }

    // ---------------------------------------------------------------- resampling

    private void Reduce(Tensor big, Tensor small, float scale)
    {
        Resample(big, small);
        LaunchElements(K.ResampleReduce, small.Length, big, small, small.N * small.C, small.H, small.W, scale);
    }

    private void Expand(Tensor small, Tensor big, float scale)
    {
        Resample(big, small);
        LaunchElements(K.ResampleExpand, big.Length, small, big, small.N * small.C, small.H, small.W, scale);
    }

    public void AvgPool2x(Tensor x, Tensor y) => Reduce(x, y, 0.25f);
    public void AvgPool2xBackward(Tensor dy, Tensor dx) => Expand(dy, dx, 0.25f);
    public void Upsample2x(Tensor x, Tensor y) => Expand(x, y, 1f);
    public void Upsample2xBackward(Tensor dy, Tensor dx) => Reduce(dy, dx, 1f);

    // ---------------------------------------------------------------- GroupNorm (+shift, SiLU, dropout)

    public void GroupNormForward(Tensor x, Tensor? shift, Tensor gamma, Tensor beta, int groups, float eps, bool silu,
        DropoutSpec dropout, Tensor y, Tensor mean, Tensor rstd)
    {
        GroupNorm(x, shift, gamma, beta, groups, mean, rstd);
        SameLength(x, y, "GroupNorm");
        float dropScale = dropout.Active ? 1f / (1f - dropout.P) : 1f;
        Launch(K.GroupNormForward, (uint)(x.N * groups), x, shift, gamma, beta, y, mean, rstd, x.C, groups, x.SampleSize / x.C, eps,
            silu, dropout.Active, KernelArg.U64(dropout.Seed), SimdMath.DropThreshold(dropout.P), dropScale);
    }

    public void GroupNormBackward(Tensor x, Tensor? shift, Tensor gamma, Tensor beta, int groups, bool silu, DropoutSpec dropout,
        Tensor mean, Tensor rstd, Tensor dy, Tensor dx, Tensor? dshift, Tensor dgamma, Tensor dbeta)
    {
        GroupNorm(x, shift, gamma, beta, groups, mean, rstd);
        SameLength(x, dy, "GroupNorm backward"); SameLength(x, dx, "GroupNorm backward");
        int n = x.N, c = x.C;
        ulong part = _scratch.Get(ScratchSlot.GroupNormPartials, 2L * n * c * sizeof(float));
        var partGamma = KernelArg.Pointer(part);
        var partBeta = KernelArg.Pointer(part + (ulong)((long)n * c * sizeof(float)));
        float dropScale = dropout.Active ? 1f / (1f - dropout.P) : 1f;
        Launch(K.GroupNormBackward, (uint)(n * groups), x, shift, gamma, beta, mean, rstd, dy, dx, dshift, partGamma, partBeta,
            c, groups, x.SampleSize / c, silu, dropout.Active, KernelArg.U64(dropout.Seed), SimdMath.DropThreshold(dropout.P), dropScale);
        LaunchElements(K.SumRowsAccumulate, c, partGamma, dgamma, n, c);
        LaunchElements(K.SumRowsAccumulate, c, partBeta, dbeta, n, c);
    }

    // ---------------------------------------------------------------- scale-shift modulation (ADM)

    private static void CheckScaleShift(Tensor x, Tensor ss, Tensor y, string op)
    {
        if (!(x.SampleSize > 0 && x.SampleSize % x.C == 0)) throw new ArgumentException($"{op}: bad input {x.ShapeString}");
        if (ss.Length != x.N * 2 * x.C) throw new ArgumentException($"{op}: scaleShift must be [N, 2C] for x {x.ShapeString}");
        SameLength(x, y, op);
    }

    public void ScaleShiftForward(Tensor x, Tensor scaleShift, bool silu, DropoutSpec dropout, Tensor y)
    {
        CheckScaleShift(x, scaleShift, y, "ScaleShift");
        float dropScale = dropout.Active ? 1f / (1f - dropout.P) : 1f;
        LaunchElements(K.ScaleShiftForward, x.Length, x, scaleShift, y, x.N, x.C, x.SampleSize / x.C, silu, dropout.Active,
            KernelArg.U64(dropout.Seed), SimdMath.DropThreshold(dropout.P), dropScale);
    }

    public void ScaleShiftBackward(Tensor x, Tensor scaleShift, bool silu, DropoutSpec dropout, Tensor dy, Tensor dx, Tensor dScaleShift)
    {
        CheckScaleShift(x, scaleShift, dy, "ScaleShift backward");
        CheckScaleShift(x, dScaleShift, dx, "ScaleShift backward");
        float dropScale = dropout.Active ? 1f / (1f - dropout.P) : 1f;
        Launch(K.ScaleShiftBackward, (uint)(x.N * x.C), x, scaleShift, dy, dx, dScaleShift, x.N, x.C, x.SampleSize / x.C, silu,
            dropout.Active, KernelArg.U64(dropout.Seed), SimdMath.DropThreshold(dropout.P), dropScale);
    }

    // ---------------------------------------------------------------- dense (cuBLAS, column-major views of row-major data)

    private void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, ulong a, int lda, ulong b, int ldb, float beta, ulong c, int ldc)
        => _rt.Gemm(transA, transB, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1);

    private void GemmBatched(bool transA, bool transB, int m, int n, int k, float alpha, ulong a, int lda, long strideA, ulong b, int ldb, long strideB,
        float beta, ulong c, int ldc, long strideC, int batch)
        => _rt.Gemm(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch);

    public void LinearForward(Tensor x, Tensor w, Tensor? bias, Tensor y)
    {
        Linear(x, w, y.SampleSize, y.N);
        int n = x.N, inF = w.Dim(1), outF = w.Dim(0);
        // y^T [out, N] = W x^T: W row-major [out, in] is the column-major [in, out] matrix, used transposed.
        Gemm(true, false, outF, n, inF, 1f, P(w), inF, P(x), inF, 0f, P(y), outF);
        if (bias != null) LaunchElements(K.AddRowBias, y.Length, y, bias, n, outF);
    }

    public void LinearBackward(Tensor x, Tensor w, Tensor dy, Tensor? dx, Tensor dw, Tensor? dbias)
    {
        Linear(x, w, dy.SampleSize, dy.N);
        int n = x.N, inF = w.Dim(1), outF = w.Dim(0);
        if (dx != null) Gemm(false, false, inF, n, outF, 1f, P(w), inF, P(dy), outF, 0f, P(dx), inF);   // dx^T = W^T dy^T
        Gemm(false, true, inF, outF, n, 1f, P(x), inF, P(dy), outF, 1f, P(dw), inF);                   // dW^T += x^T dy
        if (dbias != null) LaunchElements(K.SumRowsAccumulate, outF, dy, dbias, n, outF);
    }

    public void PositionalEmbedding(Tensor t, Tensor y)
    {
        int n = t.Length, channels = y.SampleSize, half = channels / 2;
        if (!(y.N == n && channels % 2 == 0)) throw new ArgumentException($"positional embedding: t {t.ShapeString}, y {y.ShapeString}");
        if (!_frequencies.TryGetValue(half, out ulong freqs))
        {
            // The same doubles the CPU backend computes.
            var host = new double[half];
            for (int i = 0; i < half; i++) host[i] = half > 1 ? Math.Pow(1.0 / 10000.0, (double)i / (half - 1)) : 1.0;
            freqs = _rt.Allocate(Math.Max(8, half * sizeof(double)));
            fixed (double* h = host) _rt.CopyToDevice(freqs, h, half * sizeof(double));
            _frequencies[half] = freqs;
        }
        LaunchElements(K.PositionalEmbedding, (long)n * half, t, KernelArg.Pointer(freqs), y, n, half);
    }

    // ---------------------------------------------------------------- attention
    // qkv [N, 3C, P] row-major: q_c is row 3c, so Q, K, V are [C, P] matrices with row stride 3P, i.e. column-major
    // [P, C] matrices with leading dimension 3P, offset 0, P and 2P. Per sample (batched with stride 3CP):
    // S^T = K_cm Q_cm^T / sqrt(C); W = softmax rows of S; Y^T = W_cm^T V_cm.

    public void AttentionForward(Tensor qkv, Tensor y, Tensor? probs)
    {
        var (n, c, p) = Attention(qkv, y);
        int ld = 3 * p;
        long pp = (long)p * p, sample = 3L * c * p;
        AttentionProbs(probs, n, pp);
        ulong s = probs != null ? P(probs) : _scratch.Get(ScratchSlot.AttentionScores, n * pp * sizeof(float));
        float scale = 1f / MathF.Sqrt(c);
        GemmBatched(false, true, p, p, c, scale, P(qkv, p), ld, sample, P(qkv), ld, sample, 0f, s, p, pp, n);
        Launch(K.SoftmaxRows, (uint)(n * p), KernelArg.Pointer(s), n * p, p);
        GemmBatched(true, false, p, c, p, 1f, s, p, pp, P(qkv, 2 * p), ld, sample, 0f, P(y), p, (long)c * p, n);
    }

    public void AttentionBackward(Tensor qkv, Tensor probs, Tensor dy, Tensor dqkv)
    {
        var (n, c, p) = Attention(qkv, dy);
        SameLength(qkv, dqkv, "attention backward");
        int ld = 3 * p;
        long pp = (long)p * p, sample = 3L * c * p, cp = (long)c * p;
        AttentionProbs(probs, n, pp);
        ulong g = _scratch.Get(ScratchSlot.AttentionGrad, n * pp * sizeof(float));
        float scale = 1f / MathF.Sqrt(c);
        GemmBatched(false, false, p, c, p, 1f, P(probs), p, pp, P(dy), p, cp, 0f, P(dqkv, 2 * p), ld, sample, n);   // dV = dY W
        GemmBatched(false, true, p, p, c, 1f, P(qkv, 2 * p), ld, sample, P(dy), p, cp, 0f, g, p, pp, n);          // dW = dY^T V
        Launch(K.SoftmaxBackwardRows, (uint)(n * p), probs, KernelArg.Pointer(g), n * p, p);                         // dS
        GemmBatched(false, false, p, c, p, scale, g, p, pp, P(qkv), ld, sample, 0f, P(dqkv, p), ld, sample, n);     // dK = Q dS
        GemmBatched(true, false, p, c, p, scale, g, p, pp, P(qkv, p), ld, sample, 0f, P(dqkv), ld, sample, n);     // dQ = K dS^T
    }

    // ---------------------------------------------------------------- dynamic-skip concat

    public void ConcatScaled(Tensor a, Tensor b, Tensor? scaleA, Tensor? scaleB, Tensor y)
    {
        Concat(a, b, scaleA, scaleB, y);
        LaunchElements(K.ConcatScaled, y.Length, a, b, scaleA, scaleB, y, y.N, a.SampleSize, b.SampleSize);
    }

    public void ConcatScaledBackward(Tensor dy, Tensor? scaleA, Tensor? scaleB, Tensor da, Tensor db)
    {
        Concat(da, db, scaleA, scaleB, dy);
        LaunchElements(K.ConcatScaledBackward, dy.Length, dy, scaleA, scaleB, da, db, dy.N, da.SampleSize, db.SampleSize);
    }

    // ---------------------------------------------------------------- per-sample arithmetic

    public void ScaleAddPerSample(Tensor x, Tensor? a, float ca, Tensor y, Tensor? b, float cb)
    {
        DeviceArgumentChecks.ScaleAddPerSample(x, a, y, b);
        LaunchElements(K.ScaleAddPerSample, y.Length, x, a, y, b, x.N, x.SampleSize, ca, cb);
    }

    public void SelectPerSample(Tensor mask, Tensor ifTrue, Tensor ifFalse, Tensor y)
    {
        DeviceArgumentChecks.SelectPerSample(mask, ifTrue, ifFalse, y);
        LaunchElements(K.SelectPerSample, y.Length, mask, ifTrue, ifFalse, y, y.N, y.SampleSize);
    }

    public void Reparameterize(Tensor muLogvar, Tensor noise, Tensor x1)
    {
        DeviceArgumentChecks.Reparameterize(muLogvar, noise, x1);
        LaunchElements(K.Reparameterize, x1.Length, muLogvar, noise, x1, x1.N, x1.SampleSize);
    }

    public void ReparameterizeBackward(Tensor muLogvar, Tensor noise, Tensor dx1, Tensor dMuLogvar)
    {
        DeviceArgumentChecks.ReparameterizeBackward(muLogvar, noise, dx1, dMuLogvar);
        LaunchElements(K.ReparameterizeBackward, dx1.Length, muLogvar, noise, dx1, dMuLogvar, dx1.N, dx1.SampleSize);
    }

    public void CatchUpPoint(Tensor z, Tensor k1, Tensor? k2, Tensor? k3, Tensor t, Tensor dt, CatchUpStep step, Tensor y, Tensor time)
    {
        int n = z.N;
        DeviceArgumentChecks.CatchUpPoint(z, k1, k2, k3, t, dt, y, time);
        LaunchElements(K.CatchUpPoint, Math.Max(z.Length, n), z, k1, k2, k3, t, dt, y, time, n, z.SampleSize,
            step.C1, step.C2, step.C3, step.TimeShift, step.ClampTime, step.Epsilon);
    }

    // ---------------------------------------------------------------- optimizer

    public void AdamStep(Tensor param, Tensor grad, Tensor m, Tensor v, AdamSpec spec)
    {
        var (bc1, bc2) = DeviceArgumentChecks.Adam(param, grad, m, v, spec);
        LaunchElements(K.Adam, param.Length, param, grad, m, v, param.Length, spec.LearningRate, spec.Beta1, spec.Beta2, spec.Epsilon,
            spec.WeightDecay, bc1, bc2, spec.Decoupled);
    }

    public void EmaUpdate(Tensor ema, Tensor param, float decay)
    {
        SameLength(ema, param, "EMA");
        LaunchElements(K.Ema, param.Length, ema, param, param.Length, 1f - decay);
    }

    // ---------------------------------------------------------------- reductions to one host scalar

    private static uint ReductionBlocks(long n) => (uint)Math.Clamp((n + CudaKernels.BlockSize - 1) / CudaKernels.BlockSize, 1, CudaKernels.ReductionBlocks);

    private (KernelArg Partials, KernelArg Result) ReductionBuffers() => (
        KernelArg.Pointer(_scratch.Get(ScratchSlot.ReductionPartials, CudaKernels.ReductionBlocks * sizeof(double))),
        KernelArg.Pointer(_scratch.Get(ScratchSlot.ReductionResult, sizeof(double))));

    /// <summary>Adds the first-stage partials on the device and copies the one double back.</summary>
    private double FinishSum(KernelArg partials, KernelArg result, uint blocks)
    {
        Launch(K.FinishSum, 1, partials, result, (int)blocks);
        double value;
        _rt.CopyToHost(&value, result.Bits, sizeof(double));
        return value;
    }

    public double SumSquares(Tensor x)
    {
        var (partials, result) = ReductionBuffers();
        uint blocks = ReductionBlocks(x.Length);
        Launch(K.SumSquaresPartial, blocks, x, partials, x.Length);
        return FinishSum(partials, result, blocks);
    }

    public double SumSquares(IReadOnlyList<Tensor> tensors)
    {
        if (tensors.Count == 0) return 0;
        // Each tensor's first stage writes its partials after the previous tensor's; one second stage adds them all.
        ulong partials = _scratch.Get(ScratchSlot.ReductionPartials, (long)tensors.Count * CudaKernels.ReductionBlocks * sizeof(double));
        var result = KernelArg.Pointer(_scratch.Get(ScratchSlot.ReductionResult, sizeof(double)));
        uint total = 0;
        for (int i = 0; i < tensors.Count; i++)
        {
            var x = tensors[i];
            uint blocks = ReductionBlocks(x.Length);
            Launch(K.SumSquaresPartial, blocks, x, KernelArg.Pointer(partials + (ulong)total * sizeof(double)), x.Length);
            total += blocks;
        }
        return FinishSum(KernelArg.Pointer(partials), result, total);
    }

    public float MseLoss(Tensor a, Tensor b, Tensor? grad, float gradScale)
    {
        Mse(a, b, grad);
        if (a.Length == 0) return 0f;
        var (partials, result) = ReductionBuffers();
        uint blocks = ReductionBlocks(a.Length);
        Launch(K.MsePartial, blocks, a, b, grad, partials, a.Length, (float)(2.0 * gradScale / a.Length));
        return (float)(FinishSum(partials, result, blocks) / a.Length);
    }

    public float KlLoss(Tensor muLogvar, Tensor? grad, float gradScale)
    {
        int n = muLogvar.N, half = Kl(muLogvar, grad);
        double norm = (double)n * half;
        var (partials, result) = ReductionBuffers();
        uint blocks = ReductionBlocks((long)n * half);
        Launch(K.KlPartial, blocks, muLogvar, grad, partials, n, half, (float)(gradScale / norm), (float)(0.5 * gradScale / norm));
        return (float)(FinishSum(partials, result, blocks) / norm);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var f in _frequencies.Values) _rt.Release(f);
        _frequencies.Clear();
        _scratch.Dispose();
        _memory.Dispose();
        _rt.Dispose();
    }
}
