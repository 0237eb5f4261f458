using CatchUp.Backends;
using CatchUp.Backends.Cpu;
using CatchUp.Tensors;

namespace CatchUp.Evaluation;

/// <summary>
/// Features and class probabilities from our own dataset classifier: the globally pooled last-stage activations
/// (<see cref="ClassifierConfig.FeatureDim"/>-d) and the softmax of its logits. Runs in batches on its backend.
/// </summary>
public sealed class ClassifierFeatureExtractor : IFeatureExtractor, IDisposable
{
    public const string Space = "classifier";
    private const int BatchSize = 250;
    private readonly IBackend _backend;
    private readonly bool _ownsBackend;
    private readonly ClassifierNetwork _network;
    private Tensor? _x;
    private float[] _featuresHost = [], _logitsHost = [];

    public ClassifierFeatureExtractor(ClassifierNetwork network, ClassifierMetadata? metadata = null)
        : this(network, network.Parameters.Backend, ownsBackend: false, metadata)
    {
    }

    private ClassifierFeatureExtractor(ClassifierNetwork network, IBackend backend, bool ownsBackend, ClassifierMetadata? metadata)
    {
        _network = network;
        _backend = backend;
        _ownsBackend = ownsBackend;
        Metadata = metadata;
    }

    /// <summary>Loads a classifier file onto a CPU backend with <paramref name="threads"/> threads; the extractor owns both.</summary>
    public static ClassifierFeatureExtractor Load(string path, int threads)
    {
        var backend = new CpuBackend(threads);
        try
        {
            var (network, metadata) = ClassifierFile.Load(path, backend);
            return new ClassifierFeatureExtractor(network, backend, ownsBackend: true, metadata);
        }
        catch
        {
            backend.Dispose();
            throw;
        }
    }

    public string FeatureSpace => Space;
    public int FeatureDim => _network.Config.FeatureDim;
    public int Classes => _network.Config.Classes;
    public ClassifierConfig Config => _network.Config;
    public ClassifierMetadata? Metadata { get; }

    public void Extract(float[] images, int count, int channels, int height, int width, double[] features, double[]? probs)
    {
        var cfg = _network.Config;
        if (channels != cfg.InChannels || height != cfg.Resolution || width != cfg.Resolution)
            throw new ArgumentException($"images are {channels}x{height}x{width}, the classifier takes {cfg.InChannels}x{cfg.Resolution}x{cfg.Resolution}");
        int size = channels * height * width;
        if (images.Length < (long)count * size) throw new ArgumentException($"{count} images need {(long)count * size} values, got {images.Length}");
        if (features.Length != (long)count * FeatureDim) throw new ArgumentException($"features must hold {count}x{FeatureDim} values");
        if (probs is not null && probs.Length != (long)count * Classes) throw new ArgumentException($"probs must hold {count}x{Classes} values");
        for (int start = 0; start < count; start += BatchSize)
        {
            int n = Math.Min(BatchSize, count - start);
            var x = _backend.Ensure(ref _x, n, channels, height, width);
            _backend.Upload(images.AsSpan(start * size, n * size), x);
            var logits = _network.Forward(x);
            Download(_network.Features, ref _featuresHost);
            for (int i = 0; i < _featuresHost.Length; i++) features[start * FeatureDim + i] = _featuresHost[i];
            if (probs is null) continue;
            Download(logits, ref _logitsHost);
            SoftmaxCrossEntropy.Softmax(_logitsHost, Classes, probs.AsSpan(start * Classes, n * Classes));
        }
    }

    private void Download(Tensor t, ref float[] host)
    {
        if (host.Length != t.Length) host = new float[t.Length];
        _backend.Download(t, host);
    }

    public void Dispose()
    {
        _x?.Dispose();
        _network.Dispose();
        if (_ownsBackend) _backend.Dispose();
    }
}
