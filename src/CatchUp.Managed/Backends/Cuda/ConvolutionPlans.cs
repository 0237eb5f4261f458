using CatchUp.Backends.Cuda.Interop;

namespace CatchUp.Backends.Cuda;

/// <summary>Everything cuDNN needs for one convolution shape: descriptors, the chosen algorithms and their workspace sizes.</summary>
internal sealed class ConvolutionPlan : IDisposable
{
    public required TensorDescriptorHandle X, Y;
    public required FilterDescriptorHandle W;
    public required ConvolutionDescriptorHandle Conv;
    public int ForwardAlgo, BackwardDataAlgo, BackwardFilterAlgo;
    public long ForwardWorkspace, BackwardDataWorkspace, BackwardFilterWorkspace;

    public void Dispose()
    {
        X.Dispose(); Y.Dispose(); W.Dispose(); Conv.Dispose();
    }
}

/// <summary>
/// Plans cached per (N, Cin, H, W, Cout, k). Algorithms come from cuDNN's heuristics (the *_v7 queries), taking the
/// first that succeeds, is deterministic (same inputs, same bits) and fits <see cref="WorkspaceLimit"/>; the
/// descriptors use FP32 FMA math unless TF32 is allowed.
/// </summary>
internal sealed unsafe class ConvolutionPlans : IDisposable
{
    public const long WorkspaceLimit = 512L << 20;
    private readonly record struct Key(int N, int Cin, int H, int W, int Cout, int K);

    private readonly Dictionary<Key, ConvolutionPlan> _plans = new();
    private readonly nint _cudnn;
    private readonly bool _allowTf32;

    public ConvolutionPlans(nint cudnn, bool allowTf32)
    {
        _cudnn = cudnn;
        _allowTf32 = allowTf32;
    }

    public ConvolutionPlan Get(int n, int cin, int h, int w, int cout, int k)
    {
        var key = new Key(n, cin, h, w, cout, k);
        if (_plans.TryGetValue(key, out var plan)) return plan;
        plan = new ConvolutionPlan
        {
            X = TensorDescriptorHandle.Create(n, cin, h, w),
            Y = TensorDescriptorHandle.Create(n, cout, h, w),
            W = FilterDescriptorHandle.Create(cout, cin, k, k),
            Conv = ConvolutionDescriptorHandle.Create(k / 2, _allowTf32),
        };
        const int Requested = 16;
        var perf = stackalloc CuDnn.AlgoPerf[Requested];
        int returned;
        nuint bytes;
        string shape = $"x [{n},{cin},{h},{w}], w [{cout},{cin},{k},{k}]";

        CuDnn.Check(CuDnn.cudnnGetConvolutionForwardAlgorithm_v7(_cudnn, plan.X.Value, plan.W.Value, plan.Conv.Value, plan.Y.Value, Requested, &returned, perf),
            "cudnnGetConvolutionForwardAlgorithm_v7");
        plan.ForwardAlgo = Choose(perf, returned, "forward", shape);
        CuDnn.Check(CuDnn.cudnnGetConvolutionForwardWorkspaceSize(_cudnn, plan.X.Value, plan.W.Value, plan.Conv.Value, plan.Y.Value, plan.ForwardAlgo, &bytes),
            "cudnnGetConvolutionForwardWorkspaceSize");
        plan.ForwardWorkspace = (long)bytes;

        CuDnn.Check(CuDnn.cudnnGetConvolutionBackwardDataAlgorithm_v7(_cudnn, plan.W.Value, plan.Y.Value, plan.Conv.Value, plan.X.Value, Requested, &returned, perf),
            "cudnnGetConvolutionBackwardDataAlgorithm_v7");
        plan.BackwardDataAlgo = Choose(perf, returned, "backward-data", shape);
        CuDnn.Check(CuDnn.cudnnGetConvolutionBackwardDataWorkspaceSize(_cudnn, plan.W.Value, plan.Y.Value, plan.Conv.Value, plan.X.Value, plan.BackwardDataAlgo, &bytes),
            "cudnnGetConvolutionBackwardDataWorkspaceSize");
        plan.BackwardDataWorkspace = (long)bytes;

        CuDnn.Check(CuDnn.cudnnGetConvolutionBackwardFilterAlgorithm_v7(_cudnn, plan.X.Value, plan.Y.Value, plan.Conv.Value, plan.W.Value, Requested, &returned, perf),
            "cudnnGetConvolutionBackwardFilterAlgorithm_v7");
        plan.BackwardFilterAlgo = Choose(perf, returned, "backward-filter", shape);
        CuDnn.Check(CuDnn.cudnnGetConvolutionBackwardFilterWorkspaceSize(_cudnn, plan.X.Value, plan.Y.Value, plan.Conv.Value, plan.W.Value, plan.BackwardFilterAlgo, &bytes),
            "cudnnGetConvolutionBackwardFilterWorkspaceSize");
        plan.BackwardFilterWorkspace = (long)bytes;

        _plans[key] = plan;
        return plan;
    }

    /// <summary>The first usable result in cuDNN's order, preferring deterministic ones; without TF32, results that
    /// would run on tensor ops (math type TENSOR_OP or ALLOW_CONVERSION) are skipped.</summary>
    private int Choose(CuDnn.AlgoPerf* perf, int count, string pass, string shape)
    {
        bool Usable(in CuDnn.AlgoPerf p) => p.Status == 0 && (long)p.Memory <= WorkspaceLimit
            && (_allowTf32 || p.MathType is CuDnn.DefaultMath or CuDnn.FmaMath);
        for (int i = 0; i < count; i++)
            if (Usable(perf[i]) && perf[i].Determinism == CuDnn.Deterministic) return perf[i].Algo;
        for (int i = 0; i < count; i++)
            if (Usable(perf[i])) return perf[i].Algo;
        throw new CudaException($"cuDNN offers no usable {pass} convolution algorithm for {shape}");
    }

    public void Dispose()
    {
        foreach (var p in _plans.Values) p.Dispose();
        _plans.Clear();
    }
}
