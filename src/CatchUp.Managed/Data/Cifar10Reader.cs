using CatchUp.IO;

namespace CatchUp.Data;

/// <summary>One CIFAR-10 binary batch: labels [n] and pixels [n, 3, 32, 32] (R, G, B planes, each row-major).</summary>
public sealed record Cifar10Batch(string Path, byte[] Labels, byte[] Pixels)
{
    public int Count => Labels.Length;
}

/// <summary>
/// Reads CIFAR-10 binary batches (data_batch_1.bin .. data_batch_5.bin, test_batch.bin from cifar-10-binary.tar.gz):
/// fixed-size records of one label byte (0..9) followed by 3072 pixel bytes, the 32x32 R, G and B planes in turn.
/// Every failure, including a missing file, is an <see cref="InvalidDataFileException"/>.
/// </summary>
public static class Cifar10Reader
{
    public const int Channels = 3;
    public const int Height = 32;
    public const int Width = 32;
    public const int PixelBytes = Channels * Height * Width;
    public const int RecordBytes = 1 + PixelBytes;
    public const int ClassCount = 10;

    /// <summary>The most records one file may hold: the pixels must fit in one array (a real batch holds 10000).</summary>
    public static readonly long MaxRecords = Array.MaxLength / PixelBytes;

    public static readonly string[] ClassNames =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    public static Cifar10Batch Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (Directory.Exists(path))
            throw new InvalidDataFileException(path, "is a directory, not a CIFAR-10 batch file");
        if (!File.Exists(path))
            throw new InvalidDataFileException(path, "file not found");
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16, FileOptions.SequentialScan);
            return Read(path, stream);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataFileException(path, $"cannot read file: {e.Message}", e);
        }
    }

    private static Cifar10Batch Read(string path, FileStream stream)
    {
        long length = stream.Length;
        if (length == 0)
            throw new InvalidDataFileException(path, "file is empty, expected CIFAR-10 records of 3073 bytes");
        if (length % RecordBytes != 0)
            throw new InvalidDataFileException(path, $"size {length} bytes is not a multiple of the {RecordBytes}-byte CIFAR-10 record (truncated, or not a CIFAR-10 binary batch)");
        long count = length / RecordBytes;
        if (count > MaxRecords)
            throw new InvalidDataFileException(path, $"{count} records exceed the {MaxRecords}-record limit");

        var labels = new byte[count];
        var pixels = new byte[count * PixelBytes];
        for (int i = 0; i < count; i++)
        {
            int label = stream.ReadByte();
            if (label < 0) throw new EndOfStreamException();
            if (label >= ClassCount)
                throw new InvalidDataFileException(path, $"record {i} (byte offset {(long)i * RecordBytes}) has label {label}, expected 0..{ClassCount - 1}");
            labels[i] = (byte)label;
            stream.ReadExactly(pixels, i * PixelBytes, PixelBytes);
        }
        return new Cifar10Batch(path, labels, pixels);
    }
}
