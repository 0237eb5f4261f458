using System.Buffers.Binary;
using System.IO.Compression;
using CatchUp.IO;

namespace CatchUp.Data;

/// <summary>An unsigned-byte IDX array: its dimensions (outermost first) and its row-major payload.</summary>
public sealed record IdxArray(string Path, int[] Dimensions, byte[] Data)
{
    public int Count => Dimensions[0];
}

/// <summary>
/// Reads IDX files, the format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/):
/// a big-endian magic 0x0000TTNN (TT = element type, NN = number of dimensions), NN big-endian uint32 sizes,
/// then the row-major payload. Only unsigned bytes (TT = 0x08) are supported, which is what those data sets use.
/// Files may be gzip-compressed; compression is recognised by its magic bytes, whatever the file name.
/// Every failure, including a missing file, is an <see cref="InvalidDataFileException"/>.
/// </summary>
public static class IdxReader
{
    /// <summary>Arrays with more elements than this are rejected as corrupt headers rather than allocated.</summary>
    public const long MaxElements = 100_000_000;

    public const int ImagesMagic = 0x00000803;
    public const int LabelsMagic = 0x00000801;

    private const byte UnsignedByteType = 0x08;
    private const int InitialGzipBufferBytes = 1 << 20;

    /// <summary>Reads an image file: magic 0x00000803, dimensions [n, rows, cols].</summary>
    public static IdxArray ReadImages(string path) => Read(path, ImagesMagic);

    /// <summary>Reads a label file: magic 0x00000801, dimensions [n].</summary>
    public static IdxArray ReadLabels(string path) => Read(path, LabelsMagic);

    /// <summary>Reads an unsigned-byte IDX file whose magic must equal <paramref name="expectedMagic"/>.</summary>
    public static IdxArray Read(string path, int expectedMagic)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if ((expectedMagic >> 8) != UnsignedByteType || (expectedMagic & 0xff) == 0)
            throw new ArgumentException($"0x{expectedMagic:x8} is not the magic of an unsigned-byte IDX array", nameof(expectedMagic));
        if (Directory.Exists(path))
            throw new InvalidDataFileException(path, "is a directory, not an IDX file");
        if (!File.Exists(path))
            throw new InvalidDataFileException(path, "file not found");
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16, FileOptions.SequentialScan);
            if (IsGzip(file))
            {
                using var gzip = new GZipStream(file, CompressionMode.Decompress);
                return Read(path, gzip, expectedMagic, compressedLength: file.Length);
            }
            return Read(path, file, expectedMagic, compressedLength: null);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataFileException(path, $"corrupted gzip stream: {e.Message}", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataFileException(path, $"cannot read file: {e.Message}", e);
        }
    }

    private static bool IsGzip(FileStream file)
    {
        Span<byte> magic = stackalloc byte[2];
        int read = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        file.Position = 0;
        return read == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    }

    /// <param name="compressedLength">Null for a raw file, whose exact length is then checked against the header.</param>
    private static IdxArray Read(string path, Stream stream, int expectedMagic, long? compressedLength)
    {
        Span<byte> word = stackalloc byte[4];
        if (ReadFully(stream, word) < 4)
            throw new InvalidDataFileException(path, "file ended inside the 4-byte IDX magic number");
        int magic = BinaryPrimitives.ReadInt32BigEndian(word);
        if (magic != expectedMagic)
            throw new InvalidDataFileException(path, $"wrong magic number 0x{magic:x8}, expected 0x{expectedMagic:x8} ({Describe(expectedMagic)}); not an IDX file of that kind");

        int rank = expectedMagic & 0xff;
        var dims = new int[rank];
        long elements = 1;
        for (int i = 0; i < rank; i++)
        {
            if (ReadFully(stream, word) < 4)
                throw new InvalidDataFileException(path, $"file ended inside the header (dimension {i} of {rank})");
            uint size = BinaryPrimitives.ReadUInt32BigEndian(word);
            if (size == 0)
                throw new InvalidDataFileException(path, $"dimension {i} is zero");
            elements *= size; // at most MaxElements * uint.MaxValue before the check below: no overflow
            if (elements > MaxElements)
                throw new InvalidDataFileException(path, $"header dimensions {FormatDims(dims, i, size)} exceed the {MaxElements}-element limit (corrupt header?)");
            dims[i] = (int)size;
        }

        long headerBytes = 4 + 4L * rank;
        if (compressedLength is null)
        {
            long available = stream.Length - headerBytes;
            if (available < elements)
                throw new InvalidDataFileException(path, $"truncated: header {FormatDims(dims)} promises {elements} payload bytes but the file has {available}");
            if (available > elements)
                throw new InvalidDataFileException(path, $"{available - elements} unexpected trailing bytes after the {elements}-byte payload");
        }

        byte[] data = compressedLength is null
            ? ReadRawPayload(stream, (int)elements)
            : ReadGrowing(path, stream, (int)elements, dims);
        if (compressedLength is not null && stream.ReadByte() >= 0)
            throw new InvalidDataFileException(path, $"unexpected trailing bytes after the {elements}-byte payload");
        return new IdxArray(path, dims, data);
    }

    private static byte[] ReadRawPayload(Stream stream, int length)
    {
        var data = new byte[length];
        stream.ReadExactly(data);
        return data;
    }

    /// <summary>
    /// The decompressed size is unknown until the stream ends, so the buffer grows as data arrives, never beyond what
    /// the (already bounded) header promises: a lying header in a small file cannot force a large allocation.
    /// </summary>
    private static byte[] ReadGrowing(string path, Stream stream, int promised, int[] dims)
    {
        var data = new byte[Math.Min(promised, InitialGzipBufferBytes)];
        int filled = 0;
        while (filled < promised)
        {
            if (filled == data.Length)
                Array.Resize(ref data, (int)Math.Min(promised, 2L * data.Length));
            int read = stream.Read(data, filled, data.Length - filled);
            if (read == 0)
                throw new InvalidDataFileException(path, $"truncated: header {FormatDims(dims)} promises {promised} payload bytes but the decompressed data has {filled}");
            filled += read;
        }
        return data;
    }

    private static int ReadFully(Stream stream, Span<byte> buffer) =>
        stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);

    private static string Describe(int magic) => magic switch
    {
        ImagesMagic => "unsigned-byte images [n, rows, cols]",
        LabelsMagic => "unsigned-byte labels [n]",
        _ => (magic >> 8 & 0xff) == UnsignedByteType ? $"unsigned-byte array of rank {magic & 0xff}" : "IDX array",
    };

    private static string FormatDims(int[] dims) => "[" + string.Join(", ", dims) + "]";

    private static string FormatDims(int[] dims, int failing, uint failingSize) =>
        "[" + string.Join(", ", dims.Take(failing).Select(d => d.ToString()).Append(failingSize.ToString())) + (failing + 1 < dims.Length ? ", ..." : "") + "]";
}
