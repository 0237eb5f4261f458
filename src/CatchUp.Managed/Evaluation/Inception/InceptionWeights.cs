using CatchUp.IO;

namespace CatchUp.Evaluation.Inception;

/// <summary>
/// Reads pytorch-fid's FID Inception-v3 state dict (converted to safetensors with the same key names) and folds each
/// BatchNorm into its convolution. The file must hold exactly the tensors the network needs, plus optionally the unused
/// classifier (<c>fc.weight</c>, <c>fc.bias</c>) and BatchNorm <c>num_batches_tracked</c> counters; anything missing,
/// unknown, mis-shaped or non-finite is an <see cref="InvalidDataFileException"/> naming the file and the tensor.
/// </summary>
internal static class InceptionWeights
{
    public static IReadOnlyList<FoldedConv> Load(string path) => Fold(SafetensorsFile.Read(path));

    public static IReadOnlyList<FoldedConv> Fold(SafetensorsFile file)
    {
        Validate(file);
        var convs = new List<FoldedConv>(InceptionLayout.Convs.Count);
        foreach (ConvSpec spec in InceptionLayout.Convs)
        {
            convs.Add(FoldedConv.Fold(spec, file.Get(spec.WeightKey).Data, file.Get(spec.BnWeightKey).Data, file.Get(spec.BnBiasKey).Data,
                file.Get(spec.BnMeanKey).Data, file.Get(spec.BnVarKey).Data, InceptionLayout.BatchNormEps));
        }
        return convs;
    }

    private static void Validate(SafetensorsFile file)
    {
        string path = file.Path;
        var required = InceptionLayout.RequiredTensors().ToList();
        foreach ((string key, int[] shape) in required)
        {
            if (!file.Tensors.ContainsKey(key))
                throw new SafetensorsException(path, $"missing: the FID Inception-v3 needs it with shape {HostTensor.FormatShape(shape)}" + ConversionHint, key);
        }

        var known = required.Select(r => r.Key).ToHashSet(StringComparer.Ordinal);
        var counters = InceptionLayout.Convs.Select(c => c.BnBatchesKey).ToHashSet(StringComparer.Ordinal);
        foreach (string key in file.Tensors.Keys.Order(StringComparer.Ordinal))
        {
            if (known.Contains(key) || InceptionLayout.UnusedTensors.ContainsKey(key) || counters.Contains(key)) continue;
            string hint = key.StartsWith("AuxLogits.", StringComparison.Ordinal)
                ? " (an auxiliary classifier: these look like torchvision's Inception-v3 weights, not pytorch-fid's FID weights)"
                : "";
            throw new SafetensorsException(path, "unknown tensor: not part of pytorch-fid's FID Inception-v3" + hint, key);
        }

        foreach ((string key, int[] shape) in required.Concat(InceptionLayout.UnusedTensors.Select(u => (u.Key, u.Value))))
        {
            if (!file.Tensors.TryGetValue(key, out HostTensor? tensor)) continue;
            if (!tensor.HasShape(shape))
            {
                string hint = key == "fc.weight" && tensor.Rank == 2 && tensor.Shape[0] == 1000
                    ? " (1000 classes: torchvision's ImageNet Inception-v3, not pytorch-fid's 1008-class FID weights)"
                    : "";
                throw new SafetensorsException(path, $"has shape {HostTensor.FormatShape(tensor.Shape)}, expected {HostTensor.FormatShape(shape)}" + hint, key);
            }
        }

        foreach ((string key, _) in required)
        {
            float[] data = file.Tensors[key].Data;
            int bad = Array.FindIndex(data, v => !float.IsFinite(v));
            if (bad >= 0) throw new SafetensorsException(path, $"element {bad} is {data[bad]} (weights must be finite)", key);
        }
        foreach (ConvSpec spec in InceptionLayout.Convs)
        {
            float[] variance = file.Tensors[spec.BnVarKey].Data;
            int negative = Array.FindIndex(variance, v => v < 0);
            if (negative >= 0) throw new SafetensorsException(path, $"element {negative} is {variance[negative]}: a running variance cannot be negative", spec.BnVarKey);
        }
    }

    private const string ConversionHint = " (convert pytorch-fid's pt_inception-2015-12-05-6726825d.pth as the README's Inception FID section shows)";
}
