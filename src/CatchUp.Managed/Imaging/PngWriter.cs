using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using CatchUp.IO;

namespace CatchUp.Imaging;

/// <summary>
/// Writes 8-bit gray or RGB PNGs (https://www.w3.org/TR/png-3/): signature, IHDR, one zlib-compressed IDAT, IEND.
/// Each scanline gets the filter (None, Sub, Up, Average, Paeth) with the smallest sum of absolute residuals, the
/// usual heuristic, which keeps sample grids small.
/// </summary>
public static class PngWriter
{
    /// <summary>Writes the image atomically: readers see the old file or the complete new one.</summary>
    public static void Write(string path, PngImage image)
    {
        Validate(image);
        AtomicFile.Write(path, stream => Write(stream, image));
    }

    public static byte[] Encode(PngImage image)
    {
        using var stream = new MemoryStream();
        Write(stream, image);
        return stream.ToArray();
    }

    public static void Write(Stream stream, PngImage image)
    {
        Validate(image);
        stream.Write(PngFormat.Signature);

        Span<byte> header = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, image.Width);
        BinaryPrimitives.WriteInt32BigEndian(header[4..], image.Height);
        header[8] = 8; // bit depth
        header[9] = (byte)image.Color;
        header[10] = 0; // compression: deflate
        header[11] = 0; // filter method: adaptive
        header[12] = 0; // no interlace
        WriteChunk(stream, "IHDR", header);
        WriteChunk(stream, "IDAT", Compress(image));
        WriteChunk(stream, "IEND", []);
    }

    /// <summary>One chunk: big-endian data length, 4-byte type, data, CRC-32 of type and data.</summary>
    internal static void WriteChunk(Stream stream, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        stream.Write(word);
        Span<byte> typeBytes = stackalloc byte[4];
        Encoding.ASCII.GetBytes(type, typeBytes);
        stream.Write(typeBytes);
        stream.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32.Append(Crc32.Compute(typeBytes), data));
        stream.Write(word);
    }

    private static void Validate(PngImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(image.Width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(image.Height);
        long expected = (long)image.Width * image.Height * PngFormat.Channels(image.Color);
        if (image.Pixels.LongLength != expected)
            throw new ArgumentException($"a {image.Width}x{image.Height} {image.Color} image needs {expected} bytes but has {image.Pixels.Length}", nameof(image));
    }

    private static byte[] Compress(PngImage image)
    {
        int bpp = image.Channels;
        int rowBytes = image.Width * bpp;
        var candidates = new byte[5][];
        for (int f = 0; f < candidates.Length; f++) candidates[f] = new byte[rowBytes];
        var zeroRow = new byte[rowBytes];

        using var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            for (int y = 0; y < image.Height; y++)
            {
                ReadOnlySpan<byte> row = image.Pixels.AsSpan(y * rowBytes, rowBytes);
                ReadOnlySpan<byte> up = y == 0 ? zeroRow : image.Pixels.AsSpan((y - 1) * rowBytes, rowBytes);
                int best = 0;
                long bestScore = long.MaxValue;
                for (int f = 0; f < candidates.Length; f++)
                {
                    Filter(f, row, up, bpp, candidates[f]);
                    long score = 0;
                    foreach (byte b in candidates[f]) score += Math.Abs((int)(sbyte)b);
                    if (score < bestScore)
                    {
                        bestScore = score;
                        best = f;
                    }
                }
                zlib.WriteByte((byte)best);
                zlib.Write(candidates[best]);
            }
        }
        return compressed.ToArray();
    }

    private static void Filter(int type, ReadOnlySpan<byte> row, ReadOnlySpan<byte> up, int bpp, Span<byte> output)
    {
        for (int i = 0; i < row.Length; i++)
        {
            byte left = i >= bpp ? row[i - bpp] : (byte)0;
            byte upLeft = i >= bpp ? up[i - bpp] : (byte)0;
            int predicted = type switch
            {
                0 => 0,
                1 => left,
                2 => up[i],
                3 => (left + up[i]) >> 1,
                _ => PngFormat.Paeth(left, up[i], upLeft),
            };
            output[i] = (byte)(row[i] - predicted);
        }
    }
}
