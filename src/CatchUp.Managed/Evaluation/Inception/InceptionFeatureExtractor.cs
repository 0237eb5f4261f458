namespace CatchUp.Evaluation.Inception;

/// <summary>Inception-v3 pool3 features as an evaluation feature space (FID, precision/recall; no class
/// probabilities, so no Inception Score from it).</summary>
public sealed class InceptionFeatureExtractor(InceptionV3Features network) : IFeatureExtractor, IDisposable
{
    public static InceptionFeatureExtractor Load(string weightsPath, int threads) => new(InceptionV3Features.Load(weightsPath, threads));

    public string FeatureSpace => network.FeatureSpace;
    public int FeatureDim => network.FeatureDim;
    public int Classes => 0;

    public void Extract(float[] images, int count, int channels, int height, int width, double[] features, double[]? probs)
    {
        if (probs is not null) throw new ArgumentException("the Inception pool3 feature space gives no class probabilities");
        long used = (long)count * channels * height * width;
        // The interface lets callers pass a longer buffer; the network wants exactly count images.
        float[] exact = images.LongLength == used ? images : images.AsSpan(0, checked((int)used)).ToArray();
        double[] output = features.LongLength == (long)count * FeatureDim ? features : new double[(long)count * FeatureDim];
        network.Extract(exact, count, channels, height, width, output);
        if (!ReferenceEquals(output, features)) output.CopyTo(features, 0);
    }

    public void Dispose() => network.Dispose();
}
