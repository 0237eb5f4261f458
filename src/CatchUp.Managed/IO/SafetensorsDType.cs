using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace CatchUp.IO;

/// <summary>The element types a safetensors file may hold that we can load; everything is converted to float32.</summary>
internal enum SafetensorsDType
{
    F32,
    F16,
    BF16,
    F64,
    /// <summary>int64 (class labels): read as float32, exact for |v| &lt;= 2^24; larger magnitudes read as NaN.</summary>
    I64,
}

internal static class SafetensorsDTypes
{
    public const string Supported = "F32, F16, BF16, F64, I64";

    /// <summary>Integers up to this magnitude are exact in float32.</summary>
    public const long MaxExactInteger = 1 << 24;

    public static bool TryParse(string name, out SafetensorsDType dtype)
    {
        switch (name)
        {
            case "F32": dtype = SafetensorsDType.F32; return true;
            case "F16": dtype = SafetensorsDType.F16; return true;
            case "BF16": dtype = SafetensorsDType.BF16; return true;
            case "F64": dtype = SafetensorsDType.F64; return true;
            case "I64": dtype = SafetensorsDType.I64; return true;
            default: dtype = default; return false;
        }
    }

    public static int Size(this SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.F32 => 4,
        SafetensorsDType.F16 => 2,
        SafetensorsDType.BF16 => 2,
        SafetensorsDType.F64 => 8,
        SafetensorsDType.I64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    /// <summary>Converts little-endian elements of <paramref name="dtype"/> in <paramref name="source"/> to float32.</summary>
    public static void Decode(SafetensorsDType dtype, ReadOnlySpan<byte> source, Span<float> destination)
    {
        switch (dtype)
        {
            case SafetensorsDType.F32:
                for (int i = 0; i < destination.Length; i++)
                    destination[i] = BinaryPrimitives.ReadSingleLittleEndian(source[(4 * i)..]);
                break;
            case SafetensorsDType.F16:
                for (int i = 0; i < destination.Length; i++)
                    destination[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(source[(2 * i)..]);
                break;
            case SafetensorsDType.BF16:
                // bfloat16 is the top half of a float32.
                for (int i = 0; i < destination.Length; i++)
                    destination[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(source[(2 * i)..]) << 16);
                break;
            case SafetensorsDType.F64:
                for (int i = 0; i < destination.Length; i++)
                    destination[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(source[(8 * i)..]);
                break;
            case SafetensorsDType.I64:
                for (int i = 0; i < destination.Length; i++)
                {
                    long v = BinaryPrimitives.ReadInt64LittleEndian(source[(8 * i)..]);
                    destination[i] = Math.Abs(v) <= MaxExactInteger ? v : float.NaN;
                }
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(dtype));
        }
    }

    /// <summary>Integer-valued float32 data as little-endian int64 (class labels).</summary>
    public static void WriteI64(Stream stream, float[] data)
    {
        Span<byte> bytes = stackalloc byte[8];
        foreach (float v in data)
        {
            BinaryPrimitives.WriteInt64LittleEndian(bytes, (long)v);
            stream.Write(bytes);
        }
    }

    /// <summary>Float32 data as the little-endian bytes a safetensors file stores.</summary>
    public static void WriteF32(Stream stream, float[] data)
    {
        if (BitConverter.IsLittleEndian)
        {
            stream.Write(MemoryMarshal.AsBytes(data.AsSpan()));
            return;
        }
        Span<byte> bytes = stackalloc byte[4];
        foreach (float v in data)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes, v);
            stream.Write(bytes);
        }
    }
}
