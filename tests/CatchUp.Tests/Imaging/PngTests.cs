using System.Buffers.Binary;
using System.Text;
using CatchUp.Imaging;
using CatchUp.IO;
using CatchUp.Tests.IO;
using Xunit;

namespace CatchUp.Tests.Imaging;

public class PngTests
{
    private static readonly byte[] Signature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Gradients, noise and flat areas, so the writer picks several different scanline filters.</summary>
    private static PngImage Pattern(int width, int height, PngColor color)
    {
        int channels = color == PngColor.Gray ? 1 : 3;
        var pixels = new byte[width * height * channels];
        ulong state = 12345;
        for (int i = 0; i < pixels.Length; i++)
        {
            int y = i / channels / width;
            state = state * 6364136223846793005UL + 1442695040888963407UL;
            pixels[i] = (y % 4) switch
            {
                0 => (byte)(i / channels % width * 9),
                1 => (byte)(state >> 56),
                2 => 77,
                _ => (byte)(y * 13 + i % channels * 40),
            };
        }
        return new PngImage(width, height, color, pixels);
    }

    [Theory]
    [InlineData(PngColor.Gray, 1, 1)]
    [InlineData(PngColor.Gray, 17, 12)]
    [InlineData(PngColor.Rgb, 1, 1)]
    [InlineData(PngColor.Rgb, 23, 9)]
    public void WrittenPngReadsBackToTheSamePixels(PngColor color, int width, int height)
    {
        using var dir = new TempDirectory();
        string path = dir.File("image.png");
        PngImage image = Pattern(width, height, color);

        PngWriter.Write(path, image);
        PngImage back = PngReader.Read(path);

        Assert.Equal(Signature, File.ReadAllBytes(path)[..8]);
        Assert.Equal((width, height, color), (back.Width, back.Height, back.Color));
        Assert.Equal(image.Pixels, back.Pixels);
        Assert.Equal(["image.png"], dir.FileNames()); // written atomically, no temp file left
    }

    [Fact]
    public void ResidualOf128IsScoredWithoutOverflow()
    {
        // Every filter leaves residual bytes of 0x80 (-128 as a signed byte) on rows like this one.
        var image = new PngImage(4, 2, PngColor.Gray, [0, 128, 0, 128, 128, 0, 128, 0]);

        Assert.Equal(image.Pixels, PngReader.Decode(PngWriter.Encode(image), "x.png").Pixels);
    }

    [Fact]
    public void ReaderUndoesEveryFilterType()
    {
        // Hand-built IDAT: one scanline per filter type 0..4, each with its own residuals.
        PngImage image = Pattern(6, 5, PngColor.Rgb);
        byte[] png = PngWriter.Encode(image);
        Assert.Equal(image.Pixels, PngReader.Decode(png, "x.png").Pixels);

        byte[] raw = FilterEachRowDifferently(image);
        byte[] handMade = Assemble(image.Width, image.Height, 2, raw);
        Assert.Equal(image.Pixels, PngReader.Decode(handMade, "hand.png").Pixels);
    }

    [Fact]
    public void CrcMatchesKnownValues()
    {
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));
        Assert.Equal(0xAE426082u, Crc32.Compute("IEND"u8)); // the CRC every PNG ends with
        Assert.Equal(Crc32.Compute("IHDR and data"u8), Crc32.Append(Crc32.Compute("IHDR "u8), "and data"u8));
    }

    [Fact]
    public void ChunksCarryTheirCrc()
    {
        byte[] png = PngWriter.Encode(new PngImage(2, 1, PngColor.Gray, [0, 255]));

        Assert.Equal([0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82], png[^12..]); // IEND
        // IHDR: length 13, type, width 2, height 1, depth 8, gray, then the CRC of type + data.
        Assert.Equal(13, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(8)));
        Assert.Equal("IHDR", Encoding.ASCII.GetString(png, 12, 4));
        Assert.Equal(new byte[] { 0, 0, 0, 2, 0, 0, 0, 1, 8, 0, 0, 0, 0 }, png[16..29]);
        Assert.Equal(Crc32.Compute(png.AsSpan(12, 17)), BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(29)));
    }

    [Fact]
    public void CorruptPngsAreReportedWithTheirName()
    {
        byte[] png = PngWriter.Encode(Pattern(4, 4, PngColor.Gray));
        byte[] badCrc = (byte[])png.Clone();
        badCrc[20] ^= 1; // inside IHDR data

        Assert.Contains("bad signature", Assert.Throws<InvalidDataFileException>(() => PngReader.Decode(png[1..], "a.png")).Message);
        Assert.Equal("b.png: CRC mismatch in chunk 'IHDR' at byte 8", Assert.Throws<InvalidDataFileException>(() => PngReader.Decode(badCrc, "b.png")).Message);
        Assert.Contains("truncated", Assert.Throws<InvalidDataFileException>(() => PngReader.Decode(png[..^6], "c.png")).Message);
    }

    [Fact]
    public void WriterRejectsPixelCountMismatch()
    {
        Assert.Throws<ArgumentException>(() => PngWriter.Encode(new PngImage(2, 2, PngColor.Rgb, new byte[4])));
    }

    private static byte[] FilterEachRowDifferently(PngImage image)
    {
        int bpp = 3, rowBytes = image.Width * bpp;
        var raw = new List<byte>();
        for (int y = 0; y < image.Height; y++)
        {
            int type = y % 5;
            raw.Add((byte)type);
            for (int i = 0; i < rowBytes; i++)
            {
                int x = image.Pixels[y * rowBytes + i];
                int a = i >= bpp ? image.Pixels[y * rowBytes + i - bpp] : 0;
                int b = y > 0 ? image.Pixels[(y - 1) * rowBytes + i] : 0;
                int c = y > 0 && i >= bpp ? image.Pixels[(y - 1) * rowBytes + i - bpp] : 0;
                int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
                int paeth = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
                int predicted = type switch { 0 => 0, 1 => a, 2 => b, 3 => (a + b) / 2, _ => paeth };
                raw.Add((byte)(x - predicted));
            }
        }
        return raw.ToArray();
    }

    private static byte[] Assemble(int width, int height, byte colorType, byte[] scanlines)
    {
        using var stream = new MemoryStream();
        stream.Write(Signature);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8;
        header[9] = colorType;
        PngWriter.WriteChunk(stream, "IHDR", header);
        PngWriter.WriteChunk(stream, "tEXt", "Comment\0ancillary, skipped"u8);
        using var compressed = new MemoryStream();
        using (var zlib = new System.IO.Compression.ZLibStream(compressed, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
            zlib.Write(scanlines);
        byte[] idat = compressed.ToArray();
        PngWriter.WriteChunk(stream, "IDAT", idat.AsSpan(0, idat.Length / 2)); // image data split over two chunks
        PngWriter.WriteChunk(stream, "IDAT", idat.AsSpan(idat.Length / 2));
        PngWriter.WriteChunk(stream, "IEND", []);
        return stream.ToArray();
    }
}
