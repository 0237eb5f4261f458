using System.Buffers.Binary;
using System.IO.Compression;

namespace CatchUp.Tests.Data;

/// <summary>Builds small IDX and CIFAR-10 files for the reader tests.</summary>
internal static class DataFiles
{
    public static byte[] Idx(int magic, int[] dims, byte[] payload)
    {
        var bytes = new byte[4 + 4 * dims.Length + payload.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * i), dims[i]);
        payload.CopyTo(bytes, 4 + 4 * dims.Length);
        return bytes;
    }

    public static byte[] Images(int count, int rows, int cols, Func<int, byte> pixel) =>
        Idx(0x803, [count, rows, cols], Enumerable.Range(0, count * rows * cols).Select(pixel).ToArray());

    public static byte[] Labels(params byte[] labels) => Idx(0x801, [labels.Length], labels);

    public static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest)) gzip.Write(data);
        return output.ToArray();
    }

    /// <summary>CIFAR-10 records: label, then pixel value (record * 7 + offset) % 256 for each of the 3072 bytes.</summary>
    public static byte[] Cifar(params byte[] labels)
    {
        var bytes = new byte[labels.Length * 3073];
        for (int r = 0; r < labels.Length; r++)
        {
            bytes[r * 3073] = labels[r];
            for (int i = 0; i < 3072; i++) bytes[r * 3073 + 1 + i] = CifarPixel(r, i);
        }
        return bytes;
    }

    public static byte CifarPixel(int record, int offset) => (byte)((record * 7 + offset) % 256);

    /// <summary>An MNIST-style directory: train has <paramref name="trainCount"/> 4x3 images, t10k has 2.</summary>
    public static void WriteMnistDirectory(string dir, int trainCount, bool gzip, byte pixelBase = 0)
    {
        Directory.CreateDirectory(dir);
        void Write(string name, byte[] content) =>
            File.WriteAllBytes(Path.Combine(dir, gzip ? name + ".gz" : name), gzip ? Gzip(content) : content);

        Write("train-images-idx3-ubyte", Images(trainCount, 4, 3, i => (byte)(pixelBase + i % 50)));
        Write("train-labels-idx1-ubyte", Labels(Enumerable.Range(0, trainCount).Select(i => (byte)(i % 10)).ToArray()));
        Write("t10k-images-idx3-ubyte", Images(2, 4, 3, i => (byte)(pixelBase + i)));
        Write("t10k-labels-idx1-ubyte", Labels(9, 0));
    }
}
