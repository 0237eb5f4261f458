namespace CatchUp.Backends.Cuda;

/// <summary>How a kernel parameter is passed: a device pointer, a 32-bit int, a 64-bit unsigned or a float.</summary>
public enum KernelParamKind { Ptr, I32, U64, F32 }

/// <summary>A kernel the C# side launches: its PTX entry name and parameter list, declared once in <see cref="CudaKernels"/>.</summary>
public sealed record KernelDeclaration(string Name, KernelParamKind[] Params)
{
    public KernelDeclaration(string name, string signature) : this(name, ParseSignature(signature)) { }

    /// <summary>Compact signature: one letter per parameter, p = pointer, i = int, u = u64, f = float.</summary>
    private static KernelParamKind[] ParseSignature(string signature) => signature.Select(c => c switch
    {
        'p' => KernelParamKind.Ptr,
        'i' => KernelParamKind.I32,
        'u' => KernelParamKind.U64,
        'f' => KernelParamKind.F32,
        _ => throw new ArgumentException($"bad kernel signature letter '{c}' in \"{signature}\""),
    }).ToArray();

    /// <summary>Whether a PTX parameter type (u64, u32, f32, ...) carries this kind.</summary>
    public static bool Matches(KernelParamKind kind, string ptxType) => kind switch
    {
        KernelParamKind.Ptr or KernelParamKind.U64 => ptxType is "u64" or "b64" or "s64",
        KernelParamKind.I32 => ptxType is "u32" or "s32" or "b32",
        KernelParamKind.F32 => ptxType is "f32" or "b32",
        _ => false,
    };

    public override string ToString() => $"{Name}({string.Join(", ", Params)})";
}

/// <summary>One kernel argument: its kind and 8 bytes of value (little-endian, so a 4-byte value sits in the low half).</summary>
public readonly struct KernelArg
{
    public readonly KernelParamKind Kind;
    public readonly ulong Bits;

    private KernelArg(KernelParamKind kind, ulong bits) { Kind = kind; Bits = bits; }

    public static KernelArg Pointer(ulong address) => new(KernelParamKind.Ptr, address);
    public static KernelArg U64(ulong value) => new(KernelParamKind.U64, value);
    public static readonly KernelArg Null = new(KernelParamKind.Ptr, 0);

    public static implicit operator KernelArg(Tensors.Tensor? t) => new(KernelParamKind.Ptr, t is null ? 0UL : (ulong)t.Handle);
    public static implicit operator KernelArg(int v) => new(KernelParamKind.I32, (uint)v);
    public static implicit operator KernelArg(float v) => new(KernelParamKind.F32, BitConverter.SingleToUInt32Bits(v));
    public static implicit operator KernelArg(bool v) => new(KernelParamKind.I32, v ? 1u : 0u);
}
