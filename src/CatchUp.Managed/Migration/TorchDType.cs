namespace CatchUp.Migration;

/// <summary>The element types of PyTorch storages; only the floating-point ones can become weights.</summary>
internal enum TorchDType
{
    Float32,
    Float64,
    Float16,
    BFloat16,
    Int64,
    Int32,
    Int16,
    Int8,
    UInt8,
    Bool,
}

internal static class TorchDTypes
{
    /// <summary>The storage classes <c>torch.save</c> names (<c>torch.FloatStorage</c>, ...).</summary>
    public static readonly IReadOnlyDictionary<string, TorchDType> StorageTypes = new Dictionary<string, TorchDType>(StringComparer.Ordinal)
    {
        ["FloatStorage"] = TorchDType.Float32, ["DoubleStorage"] = TorchDType.Float64, ["HalfStorage"] = TorchDType.Float16,
        ["BFloat16Storage"] = TorchDType.BFloat16, ["LongStorage"] = TorchDType.Int64, ["IntStorage"] = TorchDType.Int32,
        ["ShortStorage"] = TorchDType.Int16, ["CharStorage"] = TorchDType.Int8, ["ByteStorage"] = TorchDType.UInt8,
        ["BoolStorage"] = TorchDType.Bool,
    };

    /// <summary>The dtype objects (<c>torch.float32</c>, ...) that may appear as values.</summary>
    public static readonly IReadOnlySet<string> DTypeNames = new HashSet<string>(StringComparer.Ordinal)
    {
        "float32", "float", "float64", "double", "float16", "half", "bfloat16", "int64", "long", "int32", "int", "int16", "short",
        "int8", "uint8", "bool",
    };

    public static int Size(this TorchDType dtype) => dtype switch
    {
        TorchDType.Float64 or TorchDType.Int64 => 8,
        TorchDType.Float32 or TorchDType.Int32 => 4,
        TorchDType.Float16 or TorchDType.BFloat16 or TorchDType.Int16 => 2,
        _ => 1,
    };

    public static bool IsFloatingPoint(this TorchDType dtype) => dtype is TorchDType.Float32 or TorchDType.Float64 or TorchDType.Float16 or TorchDType.BFloat16;

    public static string TorchName(this TorchDType dtype) => "torch." + dtype.ToString().ToLowerInvariant();
}
