namespace CatchUp.IO;

/// <summary>Class labels in safetensors: an int64 (or int32) tensor <c>y</c> [count] of class indices, as
/// <c>catchup sample --labels</c> and <c>catchup velocity</c>'s input take them.</summary>
public static class LabelsFile
{
    /// <summary>Reads <c>y</c> from <paramref name="path"/>: one label per sample, each in [0, <paramref name="classes"/>).</summary>
    public static int[] Read(string path, int count, int classes)
    {
        var file = SafetensorsFile.Read(path);
        if (!file.Tensors.TryGetValue("y", out var y))
            throw new InvalidDataFileException(path, $"holds no tensor 'y' (int64 class indices [{count}]); it has {string.Join(", ", file.Tensors.Keys)}");
        return Check(y, path, count, classes);
    }

    /// <summary>The labels of <paramref name="y"/>, checked: integer, shape [count], every class in [0, classes).</summary>
    public static int[] Check(HostTensor y, string source, int count, int classes)
    {
        if (!y.IsInteger || y.Rank != 1 || y.Shape[0] != count)
            throw new InvalidDataFileException(source, $"tensor 'y' must be int64 of shape [{count}], got {y.DType} {HostTensor.FormatShape(y.Shape)}");
        int bad = Array.FindIndex(y.Data, v => !(v >= 0 && v < classes));
        if (bad >= 0) throw new InvalidDataFileException(source, $"tensor 'y': class {y.Data[bad]} of sample {bad} is outside [0, {classes})");
        return Array.ConvertAll(y.Data, v => (int)v);
    }
}
