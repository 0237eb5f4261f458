using System.Collections.Concurrent;
using CatchUp.Backends.Cpu;
using CatchUp.IO;

namespace CatchUp.Evaluation.Inception;

/// <summary>
/// 2048-d pool3 features of pytorch-fid's FID Inception-v3, computed on the CPU from user-supplied weights, for FID that
/// is comparable with the standard tools. Images arrive in [-1, 1] (values outside are clamped), with 1 (replicated to
/// RGB) or 3 channels at any resolution; each is mapped to [0, 1], resized to 299 x 299 bilinearly (align_corners=False)
/// and scaled by 2x - 1, exactly as pytorch-fid's <c>InceptionV3(resize_input=True, normalize_input=True)</c>.
/// Batches of at least <see cref="Threads"/> images run one image per thread, each with its own reusable workspace;
/// smaller batches run one image at a time with every convolution split over a worker pool. NaN inputs give NaN features.
/// </summary>
public sealed unsafe class InceptionV3Features : IDisposable
{
    private readonly InceptionNetwork _network;
    private readonly GemmPath _path;
    private readonly ConcurrentBag<InceptionWorkspace> _workspaces = new();
    private readonly object _sharedGate = new();
    private WorkerPool? _sharedPool;
    private InceptionWorkspace? _sharedWorkspace;
    private bool _disposed;

    private InceptionV3Features(InceptionNetwork network, string weightsPath, int threads, GemmPath path)
    {
        _network = network;
        WeightsPath = weightsPath;
        Threads = threads;
        _path = path;
    }

    public string FeatureSpace => "inception_v3_pool3";
    public int FeatureDim => InceptionLayout.FeatureDim;
    public int Threads { get; }
    public string WeightsPath { get; }

    /// <summary>Floating-point operations of the convolutions per image (about 11.4 GFLOP); 0 before the first <see cref="Extract"/>.</summary>
    public long FlopsPerImage => _network.FlopsPerImage;

    /// <summary>Loads and validates the weights (see <see cref="InceptionWeights"/>); bad files throw <see cref="InvalidDataFileException"/>.</summary>
    public static InceptionV3Features Load(string path, int threads) => Load(path, threads, PackedGemm.DefaultPath);

    internal static InceptionV3Features Load(string path, int threads, GemmPath gemmPath)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), "at least one thread is needed");
        return new InceptionV3Features(new InceptionNetwork(InceptionWeights.Load(path)), path, threads, gemmPath);
    }

    /// <summary>
    /// Features of <paramref name="count"/> images stored [count, channels, height, width] in [-1, 1], written row-major
    /// [count, 2048] into <paramref name="features"/>.
    /// </summary>
    public void Extract(float[] images, int count, int channels, int height, int width, double[] features)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(features);
        if (channels is not (1 or 3)) throw new ArgumentException($"images must have 1 or 3 channels, not {channels}", nameof(channels));
        if (count < 0 || height < 1 || width < 1) throw new ArgumentException($"invalid image batch [{count}, {channels}, {height}, {width}]");
        long imageFloats = (long)channels * height * width;
        if (images.LongLength != count * imageFloats)
            throw new ArgumentException($"images hold {images.LongLength} values, [{count}, {channels}, {height}, {width}] needs {count * imageFloats}", nameof(images));
        if (features.LongLength != (long)count * FeatureDim)
            throw new ArgumentException($"features hold {features.LongLength} values, [{count}, {FeatureDim}] needs {(long)count * FeatureDim}", nameof(features));
        if (count == 0) return;

        var resize = new BilinearResize(height, width, InceptionLayout.InputSize, InceptionLayout.InputSize);
        if (count < Threads)
        {
            ExtractEachOnAllThreads(images, count, channels, imageFloats, resize, features);
            return;
        }
        var options = new ParallelOptions { MaxDegreeOfParallelism = Threads };
        Parallel.For(0, count, options, RentWorkspace, (i, _, ws) =>
        {
            ExtractOne(images, i, channels, imageFloats, resize, ws, features);
            return ws;
        }, _workspaces.Add);
    }

    /// <summary>Too few images to give each thread one: run them one after another, each convolution on all threads.</summary>
    private void ExtractEachOnAllThreads(float[] images, int count, int channels, long imageFloats, BilinearResize resize, double[] features)
    {
        lock (_sharedGate)
        {
            _sharedPool ??= new WorkerPool(Threads);
            _sharedWorkspace ??= new InceptionWorkspace(_path, _sharedPool);
            for (int i = 0; i < count; i++) ExtractOne(images, i, channels, imageFloats, resize, _sharedWorkspace, features);
        }
    }

    private void ExtractOne(float[] images, int i, int channels, long imageFloats, BilinearResize resize, InceptionWorkspace ws, double[] features)
    {
        fixed (float* image = &images[i * imageFloats])
            PrepareInput(image, channels, resize, ws);
        _network.Forward(ws, features.AsSpan(i * FeatureDim, FeatureDim));
    }

    private InceptionWorkspace RentWorkspace() => _workspaces.TryTake(out InceptionWorkspace? ws) ? ws : new InceptionWorkspace(_path);

    /// <summary>[-1, 1] to [0, 1], resize to 299 x 299, then 2x - 1, into the workspace's first block buffer.</summary>
    private static void PrepareInput(float* image, int channels, BilinearResize resize, InceptionWorkspace ws)
    {
        int inPlane = resize.InHeight * resize.InWidth;
        int outPlane = resize.OutHeight * resize.OutWidth;
        float* staging = ws.Staging(inPlane);
        for (int c = 0; c < channels; c++)
        {
            float* src = image + (long)c * inPlane;
            for (int i = 0; i < inPlane; i++) staging[i] = (Math.Clamp(src[i], -1f, 1f) + 1f) * 0.5f;
            float* dst = ws.BlockA + (long)c * outPlane;
            resize.Apply(staging, dst);
            for (int i = 0; i < outPlane; i++) dst[i] = 2f * dst[i] - 1f;
        }
        for (int c = channels; c < 3; c++)
            new ReadOnlySpan<float>(ws.BlockA, outPlane).CopyTo(new Span<float>(ws.BlockA + (long)c * outPlane, outPlane));
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        while (_workspaces.TryTake(out InceptionWorkspace? ws)) ws.Dispose();
        lock (_sharedGate)
        {
            _sharedWorkspace?.Dispose();
            _sharedPool?.Dispose();
        }
    }
}
