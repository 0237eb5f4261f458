using CatchUp.Evaluation.Inception;
using CatchUp.IO;

namespace CatchUp.Tests.Evaluation.Inception;

/// <summary>
/// The FID Inception-v3 weights that tests/golden/inception/make_inception_golden.py generates, rebuilt bit for bit:
/// element i of the tensor at position t in ordinal name order is float32(offset + amplitude * s), s = (h >> 8) 2^-23 - 1,
/// h = lowbias32(i ^ lowbias32(t * 0x9E3779B9)), all arithmetic in double as in the script.
/// </summary>
internal static class DeterministicInceptionWeights
{
    private static readonly Lazy<SortedDictionary<string, HostTensor>> Cached = new(Generate);

    /// <summary>A fresh dictionary over shared tensors: edit by replacing or removing entries, never by writing into them.</summary>
    public static SortedDictionary<string, HostTensor> Build() => new(Cached.Value, StringComparer.Ordinal);

    private static SortedDictionary<string, HostTensor> Generate()
    {
        var shapes = InceptionLayout.RequiredTensors().Concat(InceptionLayout.UnusedTensors.Select(u => (u.Key, u.Value)));
        var tensors = new SortedDictionary<string, HostTensor>(StringComparer.Ordinal);
        foreach ((string key, int[] shape) in shapes) tensors.Add(key, new HostTensor(shape));
        int index = 0;
        foreach ((string key, HostTensor tensor) in tensors) Fill(index++, key, tensor);
        return tensors;
    }

    /// <summary>Writes the weights to <paramref name="path"/>, optionally edited first.</summary>
    public static string Write(string path, Action<SortedDictionary<string, HostTensor>>? edit = null)
    {
        var tensors = Build();
        edit?.Invoke(tensors);
        SafetensorsFile.Write(path, tensors);
        return path;
    }

    private static void Fill(int index, string key, HostTensor tensor)
    {
        (double offset, double amplitude) = Range(key, tensor.Shape);
        uint seed = LowBias32(unchecked((uint)index * 0x9E3779B9u));
        Span<float> data = tensor.Data;
        for (int i = 0; i < data.Length; i++)
        {
            double s = (LowBias32((uint)i ^ seed) >> 8) * (1.0 / 8388608.0) - 1.0;
            data[i] = (float)(offset + amplitude * s);
        }
    }

    private static (double Offset, double Amplitude) Range(string key, int[] shape)
    {
        if (key.EndsWith(".conv.weight", StringComparison.Ordinal)) return (0, Math.Sqrt(6.0 / (shape[1] * shape[2] * shape[3])));
        if (key.EndsWith(".bn.weight", StringComparison.Ordinal)) return (1, 0.2);
        if (key.EndsWith(".bn.running_var", StringComparison.Ordinal)) return (1, 0.5);
        if (key.EndsWith(".bn.bias", StringComparison.Ordinal) || key.EndsWith(".bn.running_mean", StringComparison.Ordinal)) return (0, 0.2);
        if (key.StartsWith("fc.", StringComparison.Ordinal)) return (0, 0.01);
        throw new ArgumentException($"no value range for {key}");
    }

    private static uint LowBias32(uint x)
    {
        unchecked
        {
            x ^= x >> 16;
            x *= 0x7FEB352Du;
            x ^= x >> 15;
            x *= 0x846CA68Bu;
            x ^= x >> 16;
            return x;
        }
    }
}
