namespace CatchUp.Evaluation;

/// <summary>
/// A network that maps images to the feature vectors the metrics compare (FID, precision/recall) and, when it is a
/// classifier, to class probabilities (Inception Score). Implementations: <see cref="ClassifierFeatureExtractor"/>
/// (our own dataset classifier) and Inception-v3 with user-supplied weights. Owners of an extractor dispose it when it
/// also implements <see cref="IDisposable"/>.
/// </summary>
public interface IFeatureExtractor
{
    /// <summary>Names the feature space in every reported number, e.g. "classifier" or "inception".</summary>
    string FeatureSpace { get; }
    int FeatureDim { get; }
    /// <summary>Number of classes of <c>probs</c>; 0 when the extractor gives no class probabilities.</summary>
    int Classes { get; }
    /// <summary>
    /// images: [count, channels, height, width] in [-1, 1] (it may be longer than count images). Writes features [count, FeatureDim] and, when
    /// <paramref name="probs"/> is non-null, softmax probabilities [count, Classes]. Images of a shape the extractor
    /// cannot take are an <see cref="ArgumentException"/>.
    /// </summary>
    void Extract(float[] images, int count, int channels, int height, int width, double[] features, double[]? probs);
}
