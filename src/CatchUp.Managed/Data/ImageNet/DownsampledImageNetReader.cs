using System.IO.Compression;
using CatchUp.IO;

namespace CatchUp.Data.ImageNet;

/// <summary>
/// The downsampled ImageNet batches (Chrabaszcz et al. 2017: train_data_batch_1..10.npz, val_data.npz): NumPy .npz
/// archives holding <c>data</c>, uint8 [N, 3·r·r] with each image stored as its R, G and B planes, and <c>labels</c>,
/// the classes 1..1000. Archive entries are read through bounded streams: a declared size larger than the image count
/// allows is refused before it is read, so a zip bomb cannot exhaust memory.
/// </summary>
public static class DownsampledImageNetReader
{
    public const int Classes = 1000;
    /// <summary>The largest data entry accepted: 10 batches of 64x64 hold ~1.28M images, one batch ~128k (1.5 GB).</summary>
    public const long MaxEntryBytes = 4L << 30;

    public sealed record Batch(byte[] Pixels, int[] Labels, int Resolution);

    public static Batch Read(string path)
    {
        ZipArchive zip;
        try { zip = ZipFile.OpenRead(path); }
        catch (InvalidDataException e) { throw new InvalidDataFileException(path, $"not a .npz (zip) archive: {e.Message}"); }
        using (zip)
        {
            var data = ReadEntry(zip, path, "data", MaxEntryBytes);
            if (data.Shape.Length != 2 || data.ItemBytes != 1)
                throw new InvalidDataFileException(path, $"'data' must be uint8 [N, 3*r*r], it is {data.Descr} ({string.Join(", ", data.Shape)})");
            long pixels = data.Shape[1];
            int resolution = (int)Math.Round(Math.Sqrt(pixels / 3.0));
            if (pixels != 3L * resolution * resolution || resolution < 1)
                throw new InvalidDataFileException(path, $"'data' rows hold {pixels} bytes, not 3 x r x r for any resolution r");
            int count = checked((int)data.Shape[0]);
            var labels = ReadEntry(zip, path, "labels", 8L * count + 1024);
            if (labels.Count != count)
                throw new InvalidDataFileException(path, $"'labels' holds {labels.Count} entries for {count} images");
            var classes = new int[count];
            for (int i = 0; i < count; i++)
            {
                long label = labels.Int(i);
                if (label is < 1 or > Classes) throw new InvalidDataFileException(path, $"label {i} is {label}, expected 1..{Classes} (the batches' labels are 1-based)");
                classes[i] = (int)label - 1;
            }
            return new Batch(data.Data, classes, resolution);
        }
    }

    private static NpyArray ReadEntry(ZipArchive zip, string path, string name, long maxBytes)
    {
        var entry = zip.GetEntry(name + ".npy") ?? zip.GetEntry(name)
            ?? throw new InvalidDataFileException(path, $"no '{name}' array in the archive (it holds: {string.Join(", ", zip.Entries.Select(e => e.FullName))})");
        if (entry.Length > maxBytes + 65536)
            throw new InvalidDataFileException(path, $"'{name}' declares {entry.Length} uncompressed bytes, more than the {maxBytes + 65536} allowed");
        try
        {
            using var stream = entry.Open();
            return NpyArray.Read(stream, $"{path}:{entry.FullName}", maxBytes, entry.Length);
        }
        catch (InvalidDataException e) { throw new InvalidDataFileException(path, $"'{name}' is corrupt: {e.Message}"); }
    }
}
