using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using CatchUp.IO;

namespace CatchUp.Imaging;

/// <summary>
/// Reads the PNGs this project writes: non-interlaced, 8-bit gray or RGB, any of the five scanline filters.
/// Chunk CRCs are checked; ancillary chunks are skipped. Anything else is an <see cref="InvalidDataFileException"/>.
/// </summary>
public static class PngReader
{
    /// <summary>Images with more bytes than this are rejected as corrupt headers rather than allocated.</summary>
    public const long MaxPixelBytes = 1L << 30;

    public static PngImage Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
            throw new InvalidDataFileException(path, "file not found");
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataFileException(path, $"cannot read file: {e.Message}", e);
        }
        return Decode(bytes, path);
    }

    /// <param name="name">The file name used in error messages.</param>
    public static PngImage Decode(ReadOnlySpan<byte> png, string name)
    {
        if (png.Length < PngFormat.Signature.Length || !png[..PngFormat.Signature.Length].SequenceEqual(PngFormat.Signature))
            throw new InvalidDataFileException(name, "not a PNG file (bad signature)");

        int width = 0, height = 0;
        PngColor color = PngColor.Gray;
        bool seenHeader = false, seenEnd = false;
        using var idat = new MemoryStream();
        int offset = PngFormat.Signature.Length;
        while (!seenEnd)
        {
            if (png.Length - offset < 12)
                throw new InvalidDataFileException(name, $"truncated: chunk header at byte {offset} is incomplete (no IEND)");
            uint length = BinaryPrimitives.ReadUInt32BigEndian(png[offset..]);
            string type = Encoding.ASCII.GetString(png.Slice(offset + 4, 4));
            if (length > (uint)(png.Length - offset - 12))
                throw new InvalidDataFileException(name, $"truncated: chunk '{type}' at byte {offset} claims {length} bytes, only {png.Length - offset - 12} follow");
            ReadOnlySpan<byte> typeAndData = png.Slice(offset + 4, 4 + (int)length);
            ReadOnlySpan<byte> data = typeAndData[4..];
            uint storedCrc = BinaryPrimitives.ReadUInt32BigEndian(png[(offset + 8 + (int)length)..]);
            if (Crc32.Compute(typeAndData) != storedCrc)
                throw new InvalidDataFileException(name, $"CRC mismatch in chunk '{type}' at byte {offset}");
            offset += 12 + (int)length;

            if (!seenHeader && type != "IHDR")
                throw new InvalidDataFileException(name, $"first chunk is '{type}', expected IHDR");
            switch (type)
            {
                case "IHDR":
                    if (seenHeader) throw new InvalidDataFileException(name, "more than one IHDR chunk");
                    (width, height, color) = ParseHeader(data, name);
                    seenHeader = true;
                    break;
                case "IDAT":
                    idat.Write(data);
                    break;
                case "IEND":
                    seenEnd = true;
                    break;
                default:
                    // Bit 5 of the first letter clear (upper case) marks a chunk a decoder must understand.
                    if ((typeAndData[0] & 0x20) == 0)
                        throw new InvalidDataFileException(name, $"unsupported critical chunk '{type}'");
                    break;
            }
        }

        int bpp = PngFormat.Channels(color);
        int rowBytes = width * bpp;
        var pixels = new byte[(long)rowBytes * height];
        idat.Position = 0;
        try
        {
            using var zlib = new ZLibStream(idat, CompressionMode.Decompress);
            Unfilter(zlib, pixels, rowBytes, height, bpp, name);
            if (zlib.ReadByte() >= 0)
                throw new InvalidDataFileException(name, "image data is longer than the header's dimensions need");
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataFileException(name, $"corrupted zlib image data: {e.Message}", e);
        }
        return new PngImage(width, height, color, pixels);
    }

    private static (int Width, int Height, PngColor Color) ParseHeader(ReadOnlySpan<byte> data, string name)
    {
        if (data.Length != 13)
            throw new InvalidDataFileException(name, $"IHDR has {data.Length} bytes, expected 13");
        uint width = BinaryPrimitives.ReadUInt32BigEndian(data);
        uint height = BinaryPrimitives.ReadUInt32BigEndian(data[4..]);
        byte bitDepth = data[8], colorType = data[9], compression = data[10], filter = data[11], interlace = data[12];
        if (width == 0 || height == 0 || width > int.MaxValue || height > int.MaxValue)
            throw new InvalidDataFileException(name, $"invalid dimensions {width}x{height}");
        if (bitDepth != 8 || colorType is not (0 or 2))
            throw new InvalidDataFileException(name, $"unsupported format: bit depth {bitDepth}, color type {colorType} (only 8-bit gray and RGB are read)");
        if (compression != 0 || filter != 0)
            throw new InvalidDataFileException(name, $"unknown compression method {compression} or filter method {filter}");
        if (interlace != 0)
            throw new InvalidDataFileException(name, "interlaced PNGs are not supported");
        var color = (PngColor)colorType;
        if ((long)width * height * PngFormat.Channels(color) > MaxPixelBytes)
            throw new InvalidDataFileException(name, $"{width}x{height} image exceeds the {MaxPixelBytes}-byte limit");
        return ((int)width, (int)height, color);
    }

    private static void Unfilter(Stream zlib, byte[] pixels, int rowBytes, int height, int bpp, string name)
    {
        var zeroRow = new byte[rowBytes];
        for (int y = 0; y < height; y++)
        {
            int filter = zlib.ReadByte();
            Span<byte> row = pixels.AsSpan(y * rowBytes, rowBytes);
            if (filter < 0 || zlib.ReadAtLeast(row, rowBytes, throwOnEndOfStream: false) < rowBytes)
                throw new InvalidDataFileException(name, $"image data ends in scanline {y} of {height}");
            ReadOnlySpan<byte> up = y == 0 ? zeroRow : pixels.AsSpan((y - 1) * rowBytes, rowBytes);
            for (int i = 0; i < rowBytes; i++)
            {
                byte left = i >= bpp ? row[i - bpp] : (byte)0;
                byte upLeft = i >= bpp ? up[i - bpp] : (byte)0;
                int predicted = filter switch
                {
                    0 => 0,
                    1 => left,
                    2 => up[i],
                    3 => (left + up[i]) >> 1,
                    4 => PngFormat.Paeth(left, up[i], upLeft),
                    _ => throw new InvalidDataFileException(name, $"scanline {y} has unknown filter type {filter}"),
                };
                row[i] = (byte)(row[i] + predicted);
            }
        }
    }
}
