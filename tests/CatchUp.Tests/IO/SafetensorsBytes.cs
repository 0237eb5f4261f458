using System.Buffers.Binary;
using System.Text;

namespace CatchUp.Tests.IO;

/// <summary>Hand-built safetensors files, so tests control every byte.</summary>
internal static class SafetensorsBytes
{
    public static byte[] Build(string headerJson, byte[] data) => BuildRaw(Encoding.UTF8.GetBytes(headerJson), data);

    public static byte[] BuildRaw(byte[] header, byte[] data) =>
        [.. Prefix((ulong)header.Length), .. header, .. data];

    public static byte[] Prefix(ulong headerLength)
    {
        var prefix = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, headerLength);
        return prefix;
    }

    public static byte[] F32(params float[] values)
    {
        var bytes = new byte[4 * values.Length];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), values[i]);
        return bytes;
    }

    public static byte[] U16(params ushort[] values)
    {
        var bytes = new byte[2 * values.Length];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * i), values[i]);
        return bytes;
    }

    public static byte[] F64(params double[] values)
    {
        var bytes = new byte[8 * values.Length];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(8 * i), values[i]);
        return bytes;
    }
}
