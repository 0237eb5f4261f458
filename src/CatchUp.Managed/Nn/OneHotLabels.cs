using CatchUp.Backends;
using CatchUp.Tensors;

namespace CatchUp.Nn;

/// <summary>
/// Class labels as device rows <c>scale * one_hot(y)</c> [N, classes]: the input of a label embedding computed as a
/// Linear (ADM's <c>label_emb</c>, EDM's <c>map_label</c>), so its forward and backward are the backend's GEMMs.
/// The tensor is reused and valid until the next <see cref="Encode"/>.
/// </summary>
public sealed class OneHotLabels(IBackend backend, int classes, float scale = 1f)
{
    private float[] _host = [];
    private Tensor? _rows;

    public int Classes { get; } = classes;

    public Tensor Encode(ReadOnlySpan<int> labels)
    {
        int n = labels.Length;
        if (_host.Length != n * Classes) _host = new float[n * Classes];
        else Array.Clear(_host);
        for (int i = 0; i < n; i++)
        {
            if ((uint)labels[i] >= (uint)Classes) throw new ArgumentException($"class label {labels[i]} of sample {i} is outside [0, {Classes})");
            _host[i * Classes + labels[i]] = scale;
        }
        var rows = backend.Ensure(ref _rows, n, Classes);
        backend.Upload(_host, rows);
        return rows;
    }

    /// <summary>Labels must come exactly with a class-conditional model (<paramref name="classes"/> &gt; 0), one per sample.</summary>
    public static void CheckPresence(int[]? labels, int classes, int batch)
    {
        if ((labels is not null) != (classes > 0))
            throw new ArgumentException(classes > 0 ? "a class-conditional model needs class labels y" : "an unconditional model takes no class labels");
        if (labels is not null && labels.Length != batch) throw new ArgumentException($"y has {labels.Length} labels for a batch of {batch}");
    }
}
