using System.Runtime.InteropServices;
using CatchUp.Backends.Cpu.Kernels;
using CatchUp.Backends.Ilgpu.Kernels;
using CatchUp.Tensors;
using ILGPU;
using ILGPU.Runtime;
using static CatchUp.Backends.DeviceArgumentChecks;

namespace CatchUp.Backends.Ilgpu;

/// <summary>
/// The ILGPU backend: every op is a C# kernel (Backends/Ilgpu/Kernels, the logic of native/kernels) that ILGPU compiles
/// at run time for the chosen accelerator: a CUDA GPU (PTX), an OpenCL device (AMD, Intel, POCL), or ILGPU's CPU
/// accelerator (the kernels' IL on simulated GPU threads, for tests). Convolution, Linear and attention's products run
/// on one shared-memory tiled GEMM with implicit-GEMM operands. All work is queued on the accelerator's default stream;
/// only the scalar-returning ops and Download wait. Results match <see cref="Cpu.CpuBackend"/> to float rounding
/// (checked by <see cref="BackendConformance"/>); dropout masks are the same bits.
/// </summary>
public sealed class IlgpuBackend : IBackend
{
    private readonly Context _context;
    private readonly Accelerator _accelerator;
    private readonly IlgpuKernels _k;
    private readonly IlgpuMemory _memory;
    private readonly IlgpuScratch _scratch;
    private readonly Dictionary<int, MemoryBuffer1D<double, Stride1D.Dense>> _frequencies = new();
    private readonly IlgpuLaunchShape _shape;
    private long _onesLength;
    private bool _disposed;

    /// <summary>Opens the accelerator of <paramref name="kind"/>; throws <see cref="IlgpuDeviceException"/> when absent.
    /// The CPU accelerator gets groups of up to <see cref="IlgpuLaunchShape.GroupSize"/> threads.</summary>
    public IlgpuBackend(IlgpuDeviceKind kind, IlgpuLaunchShape? shape = null, int cpuMultiprocessors = 1)
    {
        var cpuShape = shape ?? IlgpuLaunchShape.CpuAccelerator;
        _context = IlgpuDevices.CreateContext(kind, IlgpuDevices.CpuDevice(cpuShape.MaxThreads, cpuMultiprocessors));
        try
        {
            var device = IlgpuDevices.Pick(_context, kind);
            _accelerator = device.CreateAccelerator(_context);
            Kind = device.AcceleratorType;
            Description = IlgpuDevices.Describe(device);
            _shape = shape ?? (Kind == AcceleratorType.CPU ? IlgpuLaunchShape.CpuAccelerator : IlgpuLaunchShape.Gpu);
            _shape.Validate(_accelerator.MaxNumThreadsPerGroup);
        }
        catch
        {
            _accelerator?.Dispose();
            _context.Dispose();
            throw;
        }
        _k = new IlgpuKernels(_accelerator);
        _memory = new IlgpuMemory(_accelerator);
        _scratch = new IlgpuScratch(_accelerator);
    }

    public AcceleratorType Kind { get; }
    public string Description { get; }
    public IlgpuLaunchShape Shape => _shape;
    public string Name => $"ilgpu ({Description}; groups of {_shape.GroupSize}, GEMM tile {_shape.Tile}x{_shape.Tile}x{_shape.Depth})";
    public long BytesAllocated => _memory.BytesAllocated;
    public long AllocationCount => _memory.AllocationCount;

    /// <summary>Ignored: the accelerator schedules its own threads.</summary>
    public int Threads { get => 1; set { } }

    private AcceleratorStream Stream => _accelerator.DefaultStream;
    private ArrayView<float> V(Tensor t) => _memory.View(t);
    private ArrayView<float> None => _scratch.Get<float>("none", 1);
    private ArrayView<float> VOrNone(Tensor? t) => t is null ? None : V(t);

    /// <summary>A view of at least <paramref name="n"/> ones: what a null per-sample scale reads.</summary>
    private ArrayView<float> Ones(int n)
    {
        var ones = _scratch.Get<float>("ones", Math.Max(n, _onesLength));
        if (n > _onesLength)
        {
            _onesLength = n;
            _k.Fill(Stream, Elements(n), ones, n, 1f);
        }
        return ones.SubView(0, Math.Max(1, n));
    }

    private ArrayView<float> ScaleOrOnes(Tensor? t, int n) => t is null ? Ones(n) : V(t);

    /// <summary>A grid-stride launch over <paramref name="elements"/> items (grid capped).</summary>
    private KernelConfig Elements(long elements) =>
        new((int)Math.Clamp((elements + _shape.GroupSize - 1) / _shape.GroupSize, 1, _shape.MaxGroups), _shape.GroupSize);

    /// <summary>One group per item (grid capped, grid-stride over items) with <paramref name="sharedPerThread"/> shared
    /// doubles per thread.</summary>
    private KernelConfig Groups(long items, int sharedPerThread = 1) =>
        new((int)Math.Clamp(items, 1, _shape.MaxGroups), _shape.GroupSize, SharedMemoryConfig.RequestDynamic<double>(sharedPerThread * _shape.GroupSize));

    // ---------------------------------------------------------------- memory

    public Tensor Allocate(ReadOnlySpan<int> shape)
    {
        long length = 1;
        foreach (int d in shape) length *= d;
        nint handle = _memory.Rent(length);
        var t = new Tensor(this, handle, shape);
        if (t.Length > 0) _k.Fill(Stream, Elements(t.Length), V(t), t.Length, 0f);
        return t;
    }

    public void Free(Tensor t)
    {
        if (_disposed) return;
        _memory.Return(t.Handle, t.Length);
    }

    public void Upload(ReadOnlySpan<float> source, Tensor destination)
    {
        if (source.Length != destination.Length)
            throw new ArgumentException($"upload of {source.Length} floats into tensor {destination.ShapeString}");
        if (source.Length == 0) return;
        V(destination).CopyFromCPU(Stream, ref MemoryMarshal.GetReference(source), source.Length);
    }

    public void Download(Tensor source, Span<float> destination)
    {
        if (source.Length != destination.Length)
            throw new ArgumentException($"download of tensor {source.ShapeString} into {destination.Length} floats");
        if (destination.Length == 0) return;
        V(source).CopyToCPU(Stream, ref MemoryMarshal.GetReference(destination), destination.Length);
        Stream.Synchronize();
    }

    public void Synchronize() => _accelerator.Synchronize();

    // ---------------------------------------------------------------- element-wise

    public void Fill(Tensor y, float value) => _k.Fill(Stream, Elements(y.Length), V(y), y.Length, value);

    public void Copy(Tensor source, Tensor destination)
    {
        SameLength(source, destination, "copy");
        if (source.Handle == destination.Handle) return;
        _k.Copy(Stream, Elements(source.Length), V(source), V(destination), source.Length);
    }

    public void Axpby(float a, Tensor x, float b, Tensor y)
    {
        SameLength(x, y, "axpby");
        _k.Axpby(Stream, Elements(y.Length), V(x), V(y), y.Length, a, b);
    }

    public void AddScale(Tensor a, Tensor b, float scale, Tensor y)
    {
        SameLength(a, y, "add-scale"); SameLength(b, y, "add-scale");
        _k.AddScale(Stream, Elements(y.Length), V(a), V(b), V(y), y.Length, scale);
    }

    public void Silu(Tensor x, Tensor y)
    {
        SameLength(x, y, "silu");
        _k.Silu(Stream, Elements(y.Length), V(x), V(y), y.Length);
    }

    public void SiluBackward(Tensor x, Tensor dy, Tensor dx)
    {
        SameLength(x, dy, "silu backward"); SameLength(x, dx, "silu backward");
        _k.SiluBackward(Stream, Elements(x.Length), V(x), V(dy), V(dx), x.Length);
    }

    // ---------------------------------------------------------------- products (tiled GEMM)

    private KernelConfig Tiles(GemmShape shape) =>
        new((int)Math.Clamp(shape.Tiles, 1, _shape.MaxGroups), shape.Tile * shape.Tile, SharedMemoryConfig.RequestDynamic<float>(shape.SharedFloats));

    private GemmShape Gemm(int batch, int m, int n, int k) => new(batch, m, n, k, _shape.Tile, _shape.Depth);

    /// <summary>A row-major [rows, cols] matrix (or its transpose) inside <paramref name="data"/>.</summary>
    private static StridedMatrix Rows(ArrayView<float> data, int cols, long offset = 0, long batchStride = 0) => new(data, offset, batchStride, cols, 1);
    private static StridedMatrix Columns(ArrayView<float> data, int cols, long offset = 0, long batchStride = 0) => new(data, offset, batchStride, 1, cols);

    // ---------------------------------------------------------------- convolution (implicit GEMM)

    public void Conv2dForward(Tensor x, Tensor w, Tensor? bias, Tensor y)
    {
        int k = Conv(x, w, y), taps = k * k, hw = x.H * x.W, cin = x.C, cout = y.C;
        var shape = Gemm(x.N, cout, hw, cin * taps);
        _k.ConvForward(Stream, Tiles(shape), Rows(V(w), cin * taps), new ConvPatches(V(x), cin, x.H, x.W, k, 1),
            new GemmTarget(V(y), 0, (long)cout * hw, hw, 1, 1f, 0f), shape);
        if (bias != null)
        {
            ConvBias(bias, cout, "conv2d");
            _k.AddChannelBias(Stream, Elements(y.Length), V(y), V(bias), y.N, cout, hw);
        }
    }

    public void Conv2dBackward(Tensor x, Tensor w, Tensor dy, Tensor? dx, Tensor dw, Tensor? dbias)
    {
        int k = Conv(x, w, dy);
        SameLength(w, dw, "conv2d backward");
        int n = x.N, taps = k * k, hw = x.H * x.W, cin = x.C, cout = dy.C;
        if (dx != null)
        {
            SameLength(x, dx, "conv2d backward");
            var data = Gemm(n, cin, hw, cout * taps);
            _k.ConvBackwardData(Stream, Tiles(data), new FilterByInput(V(w), cin, taps), new ConvPatches(V(dy), cout, x.H, x.W, k, -1),
                new GemmTarget(V(dx), 0, (long)cin * hw, hw, 1, 1f, 0f), data);
        }
        var filter = Gemm(1, cout, cin * taps, n * hw);
        _k.ConvBackwardFilter(Stream, Tiles(filter), new ChannelRows(V(dy), cout, hw), new PatchRows(V(x), cin, x.H, x.W, k),
            new GemmTarget(V(dw), 0, 0, cin * taps, 1, 1f, 1f), filter);
        if (dbias != null)
        {
            ConvBias(dbias, cout, "conv2d backward");
            _k.ChannelSumAccumulate(Stream, Groups(cout), V(dy), V(dbias), n, cout, hw);
        }
    }

    // ---------------------------------------------------------------- resampling

    private void Reduce(Tensor big, Tensor small, float scale)
    {
        Resample(big, small);
        _k.ResampleReduce(Stream, Elements(small.Length), V(big), V(small), small.N * small.C, small.H, small.W, scale);
    }

    private void Expand(Tensor small, Tensor big, float scale)
    {
        Resample(big, small);
        _k.ResampleExpand(Stream, Elements(big.Length), V(small), V(big), small.N * small.C, small.H, small.W, scale);
    }

    public void AvgPool2x(Tensor x, Tensor y) => Reduce(x, y, 0.25f);
    public void AvgPool2xBackward(Tensor dy, Tensor dx) => Expand(dy, dx, 0.25f);
    public void Upsample2x(Tensor x, Tensor y) => Expand(x, y, 1f);
    public void Upsample2xBackward(Tensor dy, Tensor dx) => Reduce(dy, dx, 1f);

    // ---------------------------------------------------------------- scale-shift modulation (ADM)

    private static ScaleShiftArgs ScaleShiftArgs(Tensor x, Tensor scaleShift, bool silu, DropoutSpec dropout)
    {
        if (scaleShift.Length != 2 * x.N * x.C) throw new ArgumentException($"ScaleShift: scaleShift must be [N, 2C] = [{x.N}, {2 * x.C}], got {scaleShift.ShapeString}");
        return new(x.N, x.C, x.SampleSize / x.C, silu ? 1 : 0, dropout.Active ? 1 : 0, dropout.Seed, SimdMath.DropThreshold(dropout.P),
            dropout.Active ? 1f / (1f - dropout.P) : 1f);
    }

    public void ScaleShiftForward(Tensor x, Tensor scaleShift, bool silu, DropoutSpec dropout, Tensor y)
    {
        SameLength(x, y, "ScaleShift");
        _k.ScaleShiftForward(Stream, Elements(y.Length), V(x), V(scaleShift), V(y), ScaleShiftArgs(x, scaleShift, silu, dropout));
    }

    public void ScaleShiftBackward(Tensor x, Tensor scaleShift, bool silu, DropoutSpec dropout, Tensor dy, Tensor dx, Tensor dScaleShift)
    {
        SameLength(x, dy, "ScaleShift backward"); SameLength(x, dx, "ScaleShift backward"); SameLength(scaleShift, dScaleShift, "ScaleShift backward");
        _k.ScaleShiftBackward(Stream, Groups((long)x.N * x.C, 2), V(x), V(scaleShift), V(dy), V(dx), V(dScaleShift),
            ScaleShiftArgs(x, scaleShift, silu, dropout));
    }

    // ---------------------------------------------------------------- GroupNorm (+shift, SiLU, dropout)

    private static GroupNormArgs GroupNormArgs(Tensor x, Tensor? shift, Tensor? dshift, int groups, float eps, bool silu, DropoutSpec dropout) =>
        new(x.N, x.C, groups, x.SampleSize / x.C, eps, silu ? 1 : 0, shift != null ? 1 : 0, dshift != null ? 1 : 0,
            dropout.Active ? 1 : 0, dropout.Seed, SimdMath.DropThreshold(dropout.P), dropout.Active ? 1f / (1f - dropout.P) : 1f);

    public void GroupNormForward(Tensor x, Tensor? shift, Tensor gamma, Tensor beta, int groups, float eps, bool silu,
        DropoutSpec dropout, Tensor y, Tensor mean, Tensor rstd)
    {
        GroupNorm(x, shift, gamma, beta, groups, mean, rstd);
        SameLength(x, y, "GroupNorm");
        _k.GroupNormForward(Stream, Groups((long)x.N * groups, 2), V(x), VOrNone(shift), V(gamma), V(beta), V(y), V(mean), V(rstd),
            GroupNormArgs(x, shift, null, groups, eps, silu, dropout));
    }

    public void GroupNormBackward(Tensor x, Tensor? shift, Tensor gamma, Tensor beta, int groups, bool silu, DropoutSpec dropout,
        Tensor mean, Tensor rstd, Tensor dy, Tensor dx, Tensor? dshift, Tensor dgamma, Tensor dbeta)
    {
        GroupNorm(x, shift, gamma, beta, groups, mean, rstd);
        SameLength(x, dy, "GroupNorm backward"); SameLength(x, dx, "GroupNorm backward");
        if (!(dshift == null || dshift.Length == x.N * x.C)) throw new ArgumentException("GroupNorm: dshift must be [N, C]");
        int n = x.N, c = x.C;
        var partials = _scratch.Get<float>("groupnorm-partials", 2L * n * c);
        ArrayView<float> partGamma = partials.SubView(0, (long)n * c), partBeta = partials.SubView((long)n * c, (long)n * c);
        _k.GroupNormBackward(Stream, Groups((long)n * groups, 2), V(x), VOrNone(shift), V(gamma), V(beta), V(mean), V(rstd), V(dy), V(dx),
            VOrNone(dshift), partGamma, partBeta, GroupNormArgs(x, shift, dshift, groups, 0f, silu, dropout));
        _k.SumRowsAccumulate(Stream, Elements(c), partGamma, V(dgamma), n, c);
        _k.SumRowsAccumulate(Stream, Elements(c), partBeta, V(dbeta), n, c);
    }

    // ---------------------------------------------------------------- dense

    public void LinearForward(Tensor x, Tensor w, Tensor? bias, Tensor y)
    {
        Linear(x, w, y.SampleSize, y.N);
        int n = x.N, inF = w.Dim(1), outF = w.Dim(0);
        var shape = Gemm(1, n, outF, inF);   // y = x W^T
        _k.Gemm(Stream, Tiles(shape), Rows(V(x), inF), Columns(V(w), inF), new GemmTarget(V(y), 0, 0, outF, 1, 1f, 0f), shape);
        if (bias != null) _k.AddRowBias(Stream, Elements(y.Length), V(y), V(bias), n, outF);
    }

    public void LinearBackward(Tensor x, Tensor w, Tensor dy, Tensor? dx, Tensor dw, Tensor? dbias)
    {
        Linear(x, w, dy.SampleSize, dy.N);
        int n = x.N, inF = w.Dim(1), outF = w.Dim(0);
        if (dx != null)
        {
            var data = Gemm(1, n, inF, outF);   // dx = dy W
            _k.Gemm(Stream, Tiles(data), Rows(V(dy), outF), Rows(V(w), inF), new GemmTarget(V(dx), 0, 0, inF, 1, 1f, 0f), data);
        }
        var weights = Gemm(1, outF, inF, n);   // dW += dy^T x
        _k.Gemm(Stream, Tiles(weights), Columns(V(dy), outF), Rows(V(x), inF), new GemmTarget(V(dw), 0, 0, inF, 1, 1f, 1f), weights);
        if (dbias != null) _k.SumRowsAccumulate(Stream, Elements(outF), V(dy), V(dbias), n, outF);
    }

    public void PositionalEmbedding(Tensor t, Tensor y)
    {
        int n = t.Length, channels = y.SampleSize, half = channels / 2;
        if (!(y.N == n && channels % 2 == 0)) throw new ArgumentException($"positional embedding: t {t.ShapeString}, y {y.ShapeString}");
        if (half == 0) return;
        if (!_frequencies.TryGetValue(half, out var freqs))
        {
            // The same doubles the CPU backend computes.
            var host = new double[half];
            for (int i = 0; i < half; i++) host[i] = half > 1 ? Math.Pow(1.0 / 10000.0, (double)i / (half - 1)) : 1.0;
            freqs = _accelerator.Allocate1D(host);
            _frequencies[half] = freqs;
        }
        _k.PositionalEmbedding(Stream, Elements((long)n * half), V(t), freqs.View, V(y), n, half);
    }

    // ---------------------------------------------------------------- attention
    // qkv [N, 3C, P]: q_c is row 3c, k_c row 3c+1, v_c row 3c+2 of each sample, so Q, K, V are [C, P] matrices with row
    // stride 3P at offsets 0, P, 2P. Forward: S = Q^T K / sqrt(C); W = softmax rows; Y = V W^T. Backward: dV = dY W;
    // dW = dY^T V; dS = softmax backward; dK = Q dS / sqrt(C); dQ = K dS^T / sqrt(C).

    public void AttentionForward(Tensor qkv, Tensor y, Tensor? probs)
    {
        var (n, c, p) = Attention(qkv, y);
        long pp = (long)p * p, sample = 3L * c * p, cp = (long)c * p;
        AttentionProbs(probs, n, pp);
        var s = probs != null ? V(probs) : _scratch.Get<float>("attention-scores", n * pp);
        var q = V(qkv);
        float scale = 1f / MathF.Sqrt(c);
        var scores = Gemm(n, p, p, c);
        _k.Gemm(Stream, Tiles(scores), Columns(q, 3 * p, 0, sample), Rows(q, 3 * p, p, sample), new GemmTarget(s, 0, pp, p, 1, scale, 0f), scores);
        _k.SoftmaxRows(Stream, Groups((long)n * p), s, n * p, p);
        var output = Gemm(n, c, p, p);
        _k.Gemm(Stream, Tiles(output), Rows(q, 3 * p, 2L * p, sample), Columns(s, p, 0, pp), new GemmTarget(V(y), 0, cp, p, 1, 1f, 0f), output);
    }

    public void AttentionBackward(Tensor qkv, Tensor probs, Tensor dy, Tensor dqkv)
    {
        var (n, c, p) = Attention(qkv, dy);
        SameLength(qkv, dqkv, "attention backward");
        long pp = (long)p * p, sample = 3L * c * p, cp = (long)c * p;
        AttentionProbs(probs, n, pp);
        var g = _scratch.Get<float>("attention-grad", n * pp);
        ArrayView<float> q = V(qkv), w = V(probs), d = V(dy), dq = V(dqkv);
        float scale = 1f / MathF.Sqrt(c);
        var cByP = Gemm(n, c, p, p);
        _k.Gemm(Stream, Tiles(cByP), Rows(d, p, 0, cp), Rows(w, p, 0, pp), new GemmTarget(dq, 2L * p, sample, 3 * p, 1, 1f, 0f), cByP);   // dV
        var pByP = Gemm(n, p, p, c);
        _k.Gemm(Stream, Tiles(pByP), Columns(d, p, 0, cp), Rows(q, 3 * p, 2L * p, sample), new GemmTarget(g, 0, pp, p, 1, 1f, 0f), pByP);   // dW
        _k.SoftmaxBackwardRows(Stream, Groups((long)n * p), w, g, n * p, p);   // dS
        _k.Gemm(Stream, Tiles(cByP), Rows(q, 3 * p, 0, sample), Rows(g, p, 0, pp), new GemmTarget(dq, p, sample, 3 * p, 1, scale, 0f), cByP);   // dK
        _k.Gemm(Stream, Tiles(cByP), Rows(q, 3 * p, p, sample), Columns(g, p, 0, pp), new GemmTarget(dq, 0, sample, 3 * p, 1, scale, 0f), cByP);   // dQ
    }

    // ---------------------------------------------------------------- dynamic-skip concat

    public void ConcatScaled(Tensor a, Tensor b, Tensor? scaleA, Tensor? scaleB, Tensor y)
    {
        Concat(a, b, scaleA, scaleB, y);
        _k.Concat(Stream, Elements(y.Length), V(a), V(b), ScaleOrOnes(scaleA, y.N), ScaleOrOnes(scaleB, y.N), V(y), y.N, a.SampleSize, b.SampleSize);
    }

    public void ConcatScaledBackward(Tensor dy, Tensor? scaleA, Tensor? scaleB, Tensor da, Tensor db)
    {
        Concat(da, db, scaleA, scaleB, dy);
        _k.ConcatBackward(Stream, Elements(dy.Length), V(dy), ScaleOrOnes(scaleA, dy.N), ScaleOrOnes(scaleB, dy.N), V(da), V(db),
            dy.N, da.SampleSize, db.SampleSize);
    }

    // ---------------------------------------------------------------- per-sample arithmetic

    public void ScaleAddPerSample(Tensor x, Tensor? a, float ca, Tensor y, Tensor? b, float cb)
    {
        DeviceArgumentChecks.ScaleAddPerSample(x, a, y, b);
        _k.ScaleAddPerSample(Stream, Elements(y.Length), V(x), ScaleOrOnes(a, x.N), V(y), ScaleOrOnes(b, x.N), x.N, x.SampleSize, ca, cb);
    }

    public void SelectPerSample(Tensor mask, Tensor ifTrue, Tensor ifFalse, Tensor y)
    {
        DeviceArgumentChecks.SelectPerSample(mask, ifTrue, ifFalse, y);
        _k.SelectPerSample(Stream, Elements(y.Length), V(mask), V(ifTrue), V(ifFalse), V(y), y.N, y.SampleSize);
    }

    public void Reparameterize(Tensor muLogvar, Tensor noise, Tensor x1)
    {
        DeviceArgumentChecks.Reparameterize(muLogvar, noise, x1);
        _k.Reparameterize(Stream, Elements(x1.Length), V(muLogvar), V(noise), V(x1), x1.N, x1.SampleSize);
    }

    public void ReparameterizeBackward(Tensor muLogvar, Tensor noise, Tensor dx1, Tensor dMuLogvar)
    {
        DeviceArgumentChecks.ReparameterizeBackward(muLogvar, noise, dx1, dMuLogvar);
        _k.ReparameterizeBackward(Stream, Elements(dx1.Length), V(muLogvar), V(noise), V(dx1), V(dMuLogvar), dx1.N, dx1.SampleSize);
    }

    public void CatchUpPoint(Tensor z, Tensor k1, Tensor? k2, Tensor? k3, Tensor t, Tensor dt, CatchUpStep step, Tensor y, Tensor time)
    {
        int n = z.N;
        DeviceArgumentChecks.CatchUpPoint(z, k1, k2, k3, t, dt, y, time);
        var args = new CatchUpArgs(n, z.SampleSize, step.C1, step.C2, step.C3, step.TimeShift, k2 != null ? 1 : 0, k3 != null ? 1 : 0,
            step.ClampTime ? 1 : 0, step.Epsilon);
        _k.CatchUpPoint(Stream, Elements(Math.Max(z.Length, n)), V(z), V(k1), VOrNone(k2), VOrNone(k3), V(t), V(dt), V(y), V(time), args);
    }

    // ---------------------------------------------------------------- optimizer

    public void AdamStep(Tensor param, Tensor grad, Tensor m, Tensor v, AdamSpec spec)
    {
        var (bc1, bc2) = DeviceArgumentChecks.Adam(param, grad, m, v, spec);
        var args = new AdamArgs(param.Length, spec.LearningRate, spec.Beta1, spec.Beta2, spec.Epsilon, spec.WeightDecay, bc1, bc2, spec.Decoupled ? 1 : 0);
        _k.Adam(Stream, Elements(param.Length), V(param), V(grad), V(m), V(v), args);
    }

    public void EmaUpdate(Tensor ema, Tensor param, float decay)
    {
        SameLength(ema, param, "EMA");
        _k.Ema(Stream, Elements(param.Length), V(ema), V(param), param.Length, 1f - decay);
    }

    // ---------------------------------------------------------------- reductions to one host scalar

    private int ReductionGroups(long n) => (int)Math.Clamp((n + _shape.GroupSize - 1) / _shape.GroupSize, 1, _shape.MaxGroups);

    private KernelConfig Reduction(int groups) =>
        new(groups, _shape.GroupSize, SharedMemoryConfig.RequestDynamic<double>(_shape.GroupSize));

    /// <summary>Adds the first-stage partials on the device and copies the one double back.</summary>
    private double FinishSum(ArrayView<double> partials, int count)
    {
        var result = _scratch.Get<double>("reduction-result", 1);
        _k.FinishSum(Stream, Reduction(1), partials, result, count);
        double value = 0;
        result.CopyToCPU(Stream, ref value, 1);
        Stream.Synchronize();
        return value;
    }

    public double SumSquares(Tensor x) => SumSquares([x]);

    public double SumSquares(IReadOnlyList<Tensor> tensors)
    {
        if (tensors.Count == 0) return 0;
        // Each tensor's first stage writes its partials after the previous tensor's; one second stage adds them all.
        var partials = _scratch.Get<double>("reduction-partials", (long)tensors.Count * _shape.MaxGroups);
        int total = 0;
        for (int i = 0; i < tensors.Count; i++)
        {
            var x = tensors[i];
            int groups = ReductionGroups(x.Length);
            if (x.Length > 0) _k.SumSquaresPartial(Stream, Reduction(groups), V(x), partials, x.Length, total);
            else continue;
            total += groups;
        }
        return total == 0 ? 0 : FinishSum(partials, total);
    }

    public float MseLoss(Tensor a, Tensor b, Tensor? grad, float gradScale)
    {
        Mse(a, b, grad);
        if (a.Length == 0) return 0f;
        int groups = ReductionGroups(a.Length);
        var partials = _scratch.Get<double>("reduction-partials", _shape.MaxGroups);
        _k.MsePartial(Stream, Reduction(groups), V(a), V(b), VOrNone(grad), partials, a.Length, (float)(2.0 * gradScale / a.Length), grad != null ? 1 : 0);
        return (float)(FinishSum(partials, groups) / a.Length);
    }

    public float KlLoss(Tensor muLogvar, Tensor? grad, float gradScale)
    {
        int n = muLogvar.N, half = Kl(muLogvar, grad);
        double norm = (double)n * half;
        int groups = ReductionGroups((long)n * half);
        var partials = _scratch.Get<double>("reduction-partials", _shape.MaxGroups);
        _k.KlPartial(Stream, Reduction(groups), V(muLogvar), VOrNone(grad), partials, n, half, (float)(gradScale / norm),
            (float)(0.5 * gradScale / norm), grad != null ? 1 : 0);
        return (float)(FinishSum(partials, groups) / norm);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _accelerator.Synchronize();
        foreach (var f in _frequencies.Values) f.Dispose();
        _frequencies.Clear();
        _scratch.Dispose();
        _memory.Dispose();
        _accelerator.Dispose();
        _context.Dispose();
    }
}
