using System.Globalization;
using CatchUp.Data;
using CatchUp.IO;

namespace CatchUp.Evaluation;

/// <summary>
/// The real images' features, computed once per (feature-extractor weights, data set) and cached in the per-user cache
/// folder (<see cref="CacheDirectory"/>, never next to the weights, which may sit in a repository) as
/// <c>&lt;weights file name without .safetensors&gt;-&lt;first 16 hex digits of its SHA-256&gt;.stats-&lt;dataset&gt;.safetensors</c>:
/// tensor <c>features</c> [N, D] (float32) and the images' class labels <c>labels</c> [N] (int64, for per-class FID) with
/// metadata naming the weights' SHA-256, the data set, the split, the feature space and N. A cache whose key does
/// not match, or that cannot be read, is recomputed and replaced. The real set is the data set's test split: held out
/// from the classifier's training, so its features are as unseen as those of generated images. Caches of an older format
/// (v1 had no labels) are rebuilt.
/// </summary>
public static class RealFeatureCache
{
    /// <summary>v2 added the <c>labels</c> tensor; a v1 cache is rebuilt.</summary>
    public const string Format = "catchup-real-features-v2";
    public const string Split = "test";

    /// <summary>Where the cache for these weights and data set lives (the cache folder is created).</summary>
    public static string PathFor(string weightsPath, string dataset) => PathFor(weightsPath, FileHash.Sha256(weightsPath), dataset);

    private static string PathFor(string weightsPath, string hash, string dataset)
    {
        string name = Path.GetFileName(weightsPath);
        string stem = name.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) ? name[..^".safetensors".Length] : name;
        return CacheDirectory.File($"{stem}-{hash[..16]}.stats-{dataset}.safetensors");
    }

    /// <summary>
    /// The cached features when the cache is valid for these weights and data set; otherwise extracts them from
    /// <paramref name="loadReal"/>'s images, writes the cache (atomically) and returns them: features [N, extractor.FeatureDim]
    /// and the images' labels [N].
    /// </summary>
    public static RealFeatures LoadOrCompute(string weightsPath, IFeatureExtractor extractor, string dataset, Func<ImageDataset> loadReal, TextWriter log)
    {
        string hash = FileHash.Sha256(weightsPath);
        string cachePath = PathFor(weightsPath, hash, dataset);
        string? stale = null;
        if (File.Exists(cachePath))
        {
            try
            {
                var cached = SafetensorsFile.Read(cachePath);
                stale = WhyStale(cached, hash, dataset, extractor);
                if (stale is null)
                {
                    var features = cached.Get("features");
                    int[] labels = cached.Tensors.TryGetValue("labels", out var y) ? LabelsFile.Check(y, cachePath, features.Shape[0], ClassesOf(dataset))
                        : throw new InvalidDataFileException(cachePath, "no 'labels' tensor");
                    log.WriteLine($"real features: {features.Shape[0]} {dataset} {Split} images from the cache {cachePath}");
                    return new RealFeatures(features.Data, labels);
                }
            }
            catch (InvalidDataFileException e)
            {
                stale = e.Problem;
            }
            log.WriteLine($"real features: cache {cachePath} not usable ({stale}); recomputing");
        }

        var real = loadReal();
        log.WriteLine($"real features: extracting {real.Count} {dataset} {Split} images ({real.Source}) in the {extractor.FeatureSpace} feature space");
        var features64 = new double[(long)real.Count * extractor.FeatureDim];
        extractor.Extract(real.Images, real.Count, real.Channels, real.Height, real.Width, features64, probs: null);
        var result = new float[features64.Length];
        for (int i = 0; i < result.Length; i++) result[i] = (float)features64[i];
        SafetensorsFile.Write(cachePath, new Dictionary<string, HostTensor>
            {
                ["features"] = new([real.Count, extractor.FeatureDim], result),
                ["labels"] = new([real.Count], Array.ConvertAll(real.Labels, l => (float)l)) { DType = "I64" },
            },
            new Dictionary<string, string>
            {
                ["format"] = Format,
                ["weights_sha256"] = hash,
                ["dataset"] = dataset,
                ["split"] = Split,
                ["feature_space"] = extractor.FeatureSpace,
                ["count"] = real.Count.ToString(CultureInfo.InvariantCulture),
            });
        log.WriteLine($"real features: cached in {cachePath}");
        return new RealFeatures(result, real.Labels);
    }

    /// <summary>How many classes the labels of <paramref name="dataset"/> range over.</summary>
    public static int ClassesOf(string dataset) => ImageDataset.ClassesOf(DatasetNames.Parse(dataset));

    /// <summary>Why a cache file cannot be used for this key, or null when it can.</summary>
    private static string? WhyStale(SafetensorsFile cached, string hash, string dataset, IFeatureExtractor extractor)
    {
        string Meta(string key) => cached.Metadata.TryGetValue(key, out var v) ? v : "(missing)";
        if (Meta("format") != Format) return $"format {Meta("format")}, not {Format}";
        if (Meta("weights_sha256") != hash) return "it was computed with other weights";
        if (Meta("dataset") != dataset) return $"it is for data set {Meta("dataset")}";
        if (Meta("split") != Split) return $"it is for split {Meta("split")}";
        if (Meta("feature_space") != extractor.FeatureSpace) return $"it is for feature space {Meta("feature_space")}";
        if (!cached.Tensors.TryGetValue("features", out var f)) return "no 'features' tensor";
        if (f.Rank != 2 || f.Shape[1] != extractor.FeatureDim || f.Shape[0] < 2 || Meta("count") != f.Shape[0].ToString(CultureInfo.InvariantCulture))
            return $"'features' has shape {HostTensor.FormatShape(f.Shape)}, expected [{Meta("count")}, {extractor.FeatureDim}]";
        if (f.Data.Any(v => !float.IsFinite(v))) return "'features' holds non-finite values";
        return null;
    }
}

/// <summary>The real test images' features [N, D] (float32, row-major) and class labels [N].</summary>
public sealed record RealFeatures(float[] Features, int[] Labels);
