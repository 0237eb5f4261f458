using System.Buffers.Binary;
using System.Text;
using System.Text.RegularExpressions;
using CatchUp.IO;

namespace CatchUp.Data.ImageNet;

/// <summary>
/// One NumPy .npy array (format versions 1-3): little-endian or byte-sized integers only, C order. The header is parsed
/// as the fixed dictionary NumPy writes (descr, fortran_order, shape); nothing in it is evaluated. The data length
/// the header declares is checked against the bytes present before anything is allocated.
/// </summary>
public sealed partial class NpyArray
{
    private NpyArray(string descr, long[] shape, byte[] data)
    {
        Descr = descr;
        Shape = shape;
        Data = data;
    }

    /// <summary>NumPy's type string: |u1, |i1, &lt;i2, &lt;u2, &lt;i4, &lt;u4, &lt;i8, &lt;u8.</summary>
    public string Descr { get; }
    public long[] Shape { get; }
    /// <summary>The raw little-endian elements.</summary>
    public byte[] Data { get; }
    public long Count => Shape.Aggregate(1L, (a, d) => a * d);
    public int ItemBytes => ItemSize(Descr);

    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    [GeneratedRegex(@"^\{\s*'descr':\s*'(?<descr>[^']*)',\s*'fortran_order':\s*(?<fortran>True|False),\s*'shape':\s*\((?<shape>[0-9,\s]*)\),?\s*\}\s*$")]
    private static partial Regex HeaderPattern();

    /// <summary>Reads an array of at most <paramref name="maxBytes"/> data bytes from <paramref name="stream"/>
    /// (<paramref name="available"/>: the bytes the stream holds, when known).</summary>
    public static NpyArray Read(Stream stream, string source, long maxBytes, long? available = null)
    {
        Span<byte> prefix = stackalloc byte[10];
        ReadExactly(stream, prefix, source, "the .npy preamble");
        if (!prefix[..6].SequenceEqual(Magic)) throw new InvalidDataFileException(source, "not a NumPy .npy array (wrong magic)");
        int major = prefix[6];
        long headerLength;
        int preamble;
        if (major == 1) { headerLength = BinaryPrimitives.ReadUInt16LittleEndian(prefix[8..]); preamble = 10; }
        else if (major is 2 or 3)
        {
            Span<byte> more = stackalloc byte[2];
            ReadExactly(stream, more, source, "the .npy preamble");
            headerLength = BinaryPrimitives.ReadUInt32LittleEndian([prefix[8], prefix[9], more[0], more[1]]);
            preamble = 12;
        }
        else throw new InvalidDataFileException(source, $".npy format version {major} is not supported (1, 2 or 3)");
        if (headerLength > 65536) throw new InvalidDataFileException(source, $".npy header of {headerLength} bytes is implausibly large");
        var header = new byte[headerLength];
        ReadExactly(stream, header, source, "the .npy header");
        var match = HeaderPattern().Match(Encoding.Latin1.GetString(header).TrimEnd('\n', ' ', '\0'));
        if (!match.Success) throw new InvalidDataFileException(source, "malformed .npy header (expected {'descr': ..., 'fortran_order': ..., 'shape': (...)})");
        string descr = match.Groups["descr"].Value;
        if (ItemSize(descr) == 0) throw new InvalidDataFileException(source, $".npy dtype '{descr}' is not supported (little-endian integers only)");
        if (match.Groups["fortran"].Value == "True") throw new InvalidDataFileException(source, ".npy arrays in Fortran order are not supported");
        var shape = match.Groups["shape"].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(d => long.TryParse(d, out long v) && v >= 0 ? v : throw new InvalidDataFileException(source, $"bad .npy dimension '{d}'")).ToArray();
        long bytes = ItemSize(descr);
        foreach (long d in shape)
        {
            bytes = d == 0 ? 0 : bytes > long.MaxValue / d ? long.MaxValue : bytes * d;
        }
        if (bytes > maxBytes || bytes > Array.MaxLength)
            throw new InvalidDataFileException(source, $".npy array of shape ({string.Join(", ", shape)}) needs {bytes} bytes, more than the {maxBytes} allowed");
        if (available is long have && have - preamble - headerLength < bytes)
            throw new InvalidDataFileException(source, $"truncated: the .npy header declares {bytes} data bytes, the file holds {have - preamble - headerLength}");
        var data = new byte[bytes];
        ReadExactly(stream, data, source, "the .npy data");
        return new NpyArray(descr, shape, data);
    }

    private static int ItemSize(string descr) => descr switch
    {
        "|u1" or "|i1" or "<u1" or "<i1" => 1,
        "<i2" or "<u2" => 2,
        "<i4" or "<u4" => 4,
        "<i8" or "<u8" => 8,
        _ => 0,
    };

    /// <summary>Element i as a signed 64-bit integer (unsigned 64-bit values above long.MaxValue are rejected).</summary>
    public long Int(long i)
    {
        var span = Data.AsSpan(checked((int)(i * ItemBytes)), ItemBytes);
        return Descr switch
        {
            "|u1" or "<u1" => span[0],
            "|i1" or "<i1" => (sbyte)span[0],
            "<i2" => BinaryPrimitives.ReadInt16LittleEndian(span),
            "<u2" => BinaryPrimitives.ReadUInt16LittleEndian(span),
            "<i4" => BinaryPrimitives.ReadInt32LittleEndian(span),
            "<u4" => BinaryPrimitives.ReadUInt32LittleEndian(span),
            "<i8" => BinaryPrimitives.ReadInt64LittleEndian(span),
            _ => checked((long)BinaryPrimitives.ReadUInt64LittleEndian(span)),
        };
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer, string source, string what)
    {
        try { stream.ReadExactly(buffer); }
        catch (EndOfStreamException) { throw new InvalidDataFileException(source, $"truncated in {what}"); }
        catch (InvalidDataException e) { throw new InvalidDataFileException(source, $"corrupt compressed data in {what}: {e.Message}"); }
    }
}
