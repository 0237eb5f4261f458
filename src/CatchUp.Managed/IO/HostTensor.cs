namespace CatchUp.IO;

/// <summary>
/// A row-major float32 array with a shape, in ordinary managed memory: what a safetensors file holds
/// before it is uploaded to a backend. A 0-d shape (<c>[]</c>) is a scalar with one element.
/// </summary>
public sealed class HostTensor
{
    /// <summary>Wraps <paramref name="data"/> without copying it; the shape is copied.</summary>
    public HostTensor(int[] shape, float[] data)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        int length = ElementCount(shape);
        if (data.Length != length)
            throw new ArgumentException($"shape {FormatShape(shape)} needs {length} elements but the data has {data.Length}", nameof(data));
        Shape = (int[])shape.Clone();
        Data = data;
    }

    /// <summary>A zero-filled tensor of the given shape.</summary>
    public HostTensor(params int[] shape) : this(shape, new float[ElementCount(shape)])
    {
    }

    public int[] Shape { get; }
    public float[] Data { get; }
    /// <summary>The element type in the file: "F32" (also for F16/BF16/F64 data, converted on reading) or "I64"
    /// (integers, e.g. class labels; written as int64, so the values must be integers).</summary>
    public string DType { get; init; } = "F32";
    public bool IsInteger => DType == "I64";
    public int Length => Data.Length;
    public int Rank => Shape.Length;

    /// <summary>Product of the dimensions; throws if a dimension is negative or the product exceeds the largest array.</summary>
    public static int ElementCount(ReadOnlySpan<int> shape)
    {
        long count = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"negative dimension in shape {FormatShape(shape)}");
            count *= d;
            // count <= Array.MaxLength and d <= int.MaxValue, so the next product cannot overflow a long.
            if (count > Array.MaxLength) throw new ArgumentException($"shape {FormatShape(shape)} has more elements than an array can hold");
        }
        return (int)count;
    }

    public static string FormatShape(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    public bool HasShape(ReadOnlySpan<int> shape) => shape.SequenceEqual(Shape);

    public override string ToString()
    {
        const int preview = 4;
        if (Length == 0) return $"HostTensor{FormatShape(Shape)} (empty)";
        string values = string.Join(", ", Data.Take(preview).Select(v => v.ToString("G6", System.Globalization.CultureInfo.InvariantCulture)));
        if (Length > preview) values += ", ...";
        return $"HostTensor{FormatShape(Shape)} ({Length} elements: {values})";
    }
}
