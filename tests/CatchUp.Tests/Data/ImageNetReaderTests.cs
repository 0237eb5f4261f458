using System.IO.Compression;
using CatchUp.Data;
using CatchUp.Data.ImageNet;
using CatchUp.IO;
using CatchUp.Tests.Cuda;
using Xunit;

namespace CatchUp.Tests.Data;

/// <summary>The ImageNet-64 readers against files written by NumPy and Pillow (tests/golden/imagenet/), and broken ones.</summary>
public sealed class ImageNetReaderTests : IDisposable
{
    private static readonly string Golden = RepositoryFiles.Path("tests", "golden", "imagenet");
    private readonly string _dir = Directory.CreateTempSubdirectory("catchup-imagenet-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static NpyArray Entry(string npz, string name)
    {
        using var zip = ZipFile.OpenRead(npz);
        var entry = zip.GetEntry(name + ".npy")!;
        using var s = entry.Open();
        return NpyArray.Read(s, npz, 1 << 20, entry.Length);
    }

    [Fact]
    public void ImageFoldersGiveGuidedDiffusionsCropsAndClassesByteForByte()
    {
        var folder = ImageFolderReader.Read(Path.Combine(Golden, "folder"), 16);
        var expected = Entry(Path.Combine(Golden, "folder_expected_r16.npz"), "images");   // [N, 16, 16, 3] HWC, Pillow's center_crop_arr
        var labels = Entry(Path.Combine(Golden, "folder_expected_r16.npz"), "labels");
        Assert.Equal(new long[] { 4, 16, 16, 3 }, expected.Shape);
        Assert.Equal(Enumerable.Range(0, 4).Select(i => (int)labels.Int(i)), folder.Labels);
        Assert.Equal(["n01", "n02", "n03"], folder.ClassNames);
        int plane = 16 * 16, mismatches = 0;
        for (int n = 0; n < 4; n++)
            for (int p = 0; p < plane; p++)
                for (int c = 0; c < 3; c++)
                    if (folder.Pixels[n * 3 * plane + c * plane + p] != expected.Data[(n * plane + p) * 3 + c]) mismatches++;
        Assert.Equal(0, mismatches);
    }

    [Fact]
    public void DownsampledBatchesLoadWithZeroBasedLabelsAsPlanes()
    {
        File.Copy(Path.Combine(Golden, "train_data_batch_1.npz"), Path.Combine(_dir, "train_data_batch_1.npz"));
        File.Copy(Path.Combine(Golden, "val_data.npz"), Path.Combine(_dir, "val_data.npz"));
        Assert.Equal(DatasetKind.ImageNet64, ImageDataset.Detect(_dir));
        var train = ImageDataset.Load(_dir, DatasetKind.ImageNet64, train: true);
        var val = ImageDataset.Load(_dir, DatasetKind.ImageNet64, train: false);
        var raw = Entry(Path.Combine(Golden, "train_data_batch_1.npz"), "data");
        var rawLabels = Entry(Path.Combine(Golden, "train_data_batch_1.npz"), "labels");
        Assert.Equal([6, 3, 8, 8], train.Shape);
        Assert.Equal(3, val.Count);
        Assert.Equal(1000, train.Classes);
        Assert.Equal(Enumerable.Range(0, 6).Select(i => (int)rawLabels.Int(i) - 1), train.Labels);
        for (int i = 0; i < raw.Data.Length; i++) Assert.Equal(ImageDataset.PixelToUnit(raw.Data[i]), train.Images[i]);
    }

    [Fact]
    public void AnImageFolderIsAnImageNetDataSetWithAValSubfolderForTheTestSplit()
    {
        CopyDirectory(Path.Combine(Golden, "folder"), _dir);
        CopyDirectory(Path.Combine(Golden, "folder", "sub"), Path.Combine(_dir, "val"));
        Assert.Equal(DatasetKind.ImageNet64, ImageDataset.Detect(_dir));
        var train = ImageDataset.Load(_dir, DatasetKind.ImageNet64, train: true);
        Assert.Equal([6, 3, 64, 64], train.Shape);   // 4 images + the 2 under val/ (the reference lists every depth)
        Assert.Equal(2, ImageDataset.Load(_dir, DatasetKind.ImageNet64, train: false).Count);
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        foreach (var d in Directory.GetDirectories(from)) CopyDirectory(d, Path.Combine(to, Path.GetFileName(d)));
    }

    public static TheoryData<string, string> BrokenBatches => new()
    {
        { "not-a-zip", "not a .npz (zip) archive" },
        { "no-labels", "no 'labels' array in the archive" },
        { "label-zero", "label 2 is 0, expected 1..1000 (the batches' labels are 1-based)" },
        { "odd-rows", "'data' rows hold 100 bytes, not 3 x r x r for any resolution r" },
        { "float-data", "'data' must be uint8 [N, 3*r*r]" },
        { "truncated-npy", "truncated: the .npy header declares 576 data bytes, the file holds 100" },
        { "bad-header", "malformed .npy header" },
        { "huge-shape", "more than the 4294967296 allowed" },
        { "count-mismatch", "'labels' holds 2 entries for 3 images" },
    };

    [Theory]
    [MemberData(nameof(BrokenBatches))]
    public void BrokenBatchesAreErrorsNamingTheFile(string kind, string message)
    {
        string path = Path.Combine(_dir, "train_data_batch_1.npz");
        WriteBroken(path, kind);
        var e = Assert.Throws<InvalidDataFileException>(() => ImageDataset.Load(_dir, DatasetKind.ImageNet64, train: true));
        Assert.Contains("train_data_batch_1.npz", e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void UnreadableImagesAreErrorsNamingTheFile()
    {
        File.WriteAllBytes(Path.Combine(_dir, "n01_x.png"), [0x89, (byte)'P', (byte)'N', (byte)'G', 1, 2, 3]);
        var e = Assert.Throws<InvalidDataFileException>(() => ImageFolderReader.Read(_dir, 16));
        Assert.Contains("n01_x.png", e.Message);
        var truncated = File.ReadAllBytes(Path.Combine(Golden, "folder", "n02_b.png"));
        File.Delete(Path.Combine(_dir, "n01_x.png"));
        File.WriteAllBytes(Path.Combine(_dir, "n02_t.png"), truncated[..(truncated.Length / 2)]);
        e = Assert.Throws<InvalidDataFileException>(() => ImageFolderReader.Read(_dir, 16));
        Assert.Contains("n02_t.png", e.Message);
        Assert.Contains("truncated", e.Message);
    }

    private static byte[] Npy(string descr, string shape, byte[] data, int? headerBytes = null)
    {
        string header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({shape}), }}";
        header = header.PadRight(headerBytes ?? (64 - 10 - 1) + ((header.Length + 11) / 64) * 64) + "\n";
        using var ms = new MemoryStream();
        ms.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        ms.Write(BitConverter.GetBytes((ushort)header.Length));
        ms.Write(System.Text.Encoding.Latin1.GetBytes(header));
        ms.Write(data);
        return ms.ToArray();
    }

    private static byte[] Int64s(params long[] values) => values.SelectMany(BitConverter.GetBytes).ToArray();

    private static void WriteBroken(string path, string kind)
    {
        if (kind == "not-a-zip") { File.WriteAllText(path, "PK? no"); return; }
        var entries = new Dictionary<string, byte[]>
        {
            ["data.npy"] = Npy("|u1", "3, 192", new byte[3 * 192]),
            ["labels.npy"] = Npy("<i8", "3,", Int64s(1, 2, 3)),
        };
        switch (kind)
        {
            case "no-labels": entries.Remove("labels.npy"); break;
            case "label-zero": entries["labels.npy"] = Npy("<i8", "3,", Int64s(5, 6, 0)); break;
            case "odd-rows": entries["data.npy"] = Npy("|u1", "3, 100", new byte[300]); break;
            case "float-data": entries["data.npy"] = Npy("<i4", "3, 192", new byte[3 * 192 * 4]); break;
            case "truncated-npy": entries["data.npy"] = Npy("|u1", "3, 192", new byte[100]); break;
            case "bad-header": entries["data.npy"] = Npy("|u1", "__import__('os').system('x')", new byte[10]); break;
            case "huge-shape": entries["data.npy"] = Npy("|u1", "100000000, 12288", new byte[16]); break;
            case "count-mismatch": entries["labels.npy"] = Npy("<i8", "2,", Int64s(1, 2)); break;
        }
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (name, bytes) in entries)
        {
            using var s = zip.CreateEntry(name).Open();
            s.Write(bytes);
        }
    }
}
