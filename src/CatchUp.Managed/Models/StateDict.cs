using CatchUp.IO;
using CatchUp.Nn;

namespace CatchUp.Models;

/// <summary>Moves a network's parameters to and from a PyTorch-compatible state dict (reference key names).</summary>
public static class StateDict
{
    private static readonly int[] ResampleFilterShape = [1, 1, 2, 2];

    /// <summary>How many unknown keys an error message names.</summary>
    private const int MaxListed = 5;

    /// <summary>
    /// Uploads every parameter from <paramref name="tensors"/>. Unknown keys, missing parameters, wrong shapes,
    /// non-finite values and resample-filter buffers other than EDM's are errors naming the key and the file.
    /// Keys for which <paramref name="ignore"/> returns true are skipped (e.g. another network's tensors).
    /// </summary>
    public static void Load(ParameterSet parameters, IReadOnlyDictionary<string, HostTensor> tensors, string sourcePath,
        Func<string, bool>? ignore = null)
    {
        var buffers = new HashSet<string>(parameters.ResampleFilterBuffers, StringComparer.Ordinal);
        var unknown = new List<string>();
        foreach (var (key, tensor) in tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (ignore?.Invoke(key) == true || parameters.TryGet(key, out _)) continue;
            if (buffers.Contains(key))
            {
                if (!tensor.HasShape(ResampleFilterShape) || tensor.Data.Any(v => v != 0.25f))
                    throw new InvalidDataFileException(sourcePath,
                        $"buffer '{key}' must be the [1,1] resample filter (shape [1, 1, 2, 2], all 0.25), got {tensor}");
                continue;
            }
            unknown.Add($"'{key}' {HostTensor.FormatShape(tensor.Shape)}");
        }
        if (unknown.Count == 1) throw new InvalidDataFileException(sourcePath, $"unknown tensor {unknown[0]}: the model has no such parameter");
        if (unknown.Count > 1) throw new InvalidDataFileException(sourcePath, $"{unknown.Count} unknown tensors (the model has no such parameters): {Listed(unknown)}");
        var missing = parameters.All.Where(p => !tensors.ContainsKey(p.Name)).Select(p => $"'{p.Name}' (expected shape {HostTensor.FormatShape(p.ReferenceShape)})").ToList();
        if (missing.Count == 1) throw new InvalidDataFileException(sourcePath, $"missing tensor {missing[0]}");
        if (missing.Count > 1) throw new InvalidDataFileException(sourcePath, $"{missing.Count} missing tensors: {Listed(missing)}");
        foreach (var p in parameters.All)
        {
            var t = tensors[p.Name];
            if (!t.HasShape(p.ReferenceShape))
                throw new InvalidDataFileException(sourcePath,
                    $"tensor '{p.Name}' has shape {HostTensor.FormatShape(t.Shape)}, the model expects {HostTensor.FormatShape(p.ReferenceShape)}");
            int bad = Array.FindIndex(t.Data, v => !float.IsFinite(v));
            if (bad >= 0) throw new InvalidDataFileException(sourcePath, $"tensor '{p.Name}' holds a non-finite value ({t.Data[bad]}) at element {bad}");
        }
        foreach (var p in parameters.All)
            parameters.Backend.Upload(p.Layout is { } layout ? layout.ToInternal(tensors[p.Name].Data) : tensors[p.Name].Data, p.Value);
    }

    /// <summary>The first few entries of a list for an error message.</summary>
    private static string Listed(IReadOnlyList<string> items) => string.Join(", ", items.Take(MaxListed)) + (items.Count > MaxListed ? ", ..." : "");

    /// <summary>Downloads the parameters (and the resample-filter buffers, so PyTorch loads the file strictly).</summary>
    public static Dictionary<string, HostTensor> Export(ParameterSet parameters, bool includeBuffers = true, string prefix = "")
    {
        var result = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        foreach (var p in parameters.All)
            result[prefix + p.Name] = ToReference(p, p.Value);
        if (includeBuffers)
            foreach (var name in parameters.ResampleFilterBuffers)
                result[prefix + name] = new HostTensor(ResampleFilterShape, [0.25f, 0.25f, 0.25f, 0.25f]);
        return result;
    }

    /// <summary>A parameter-shaped tensor (the value or the gradient) in the reference layout.</summary>
    public static HostTensor ToReference(Parameter p, Tensors.Tensor valueOrGrad)
    {
        var data = valueOrGrad.ToArray();
        return new HostTensor(p.ReferenceShape.ToArray(), p.Layout is { } layout ? layout.ToReference(data) : data);
    }

    /// <summary>How many extra heads a state dict holds (keys <c>heads.{i}.*</c>).</summary>
    public static int CountHeads(IEnumerable<string> keys, string prefix = "heads.")
    {
        int count = 0, p = prefix.Length;
        foreach (var key in keys)
        {
            if (!key.StartsWith(prefix, StringComparison.Ordinal)) continue;
            int dot = key.IndexOf('.', p);
            if (dot > p && int.TryParse(key.AsSpan(p, dot - p), out int i)) count = Math.Max(count, i + 1);
        }
        return count;
    }
}
