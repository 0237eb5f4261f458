using CatchUp.Data.ImageNet;
using CatchUp.IO;

namespace CatchUp.Data;

public enum DatasetKind
{
    FashionMnist,
    Mnist,
    Cifar10,
    /// <summary>ImageNet 64x64, 1000 classes: downsampled-ImageNet .npz batches or guided-diffusion image folders.</summary>
    ImageNet64,
}

/// <summary>
/// A labelled image data set held in memory as float32 [N, C, H, W] scaled from bytes to [-1, 1] (x / 127.5 - 1),
/// the range the diffusion models train in. Loaders validate every file and report problems as
/// <see cref="InvalidDataFileException"/>s naming the file.
/// </summary>
public sealed class ImageDataset
{
    /// <summary>Where Debian's <c>dataset-fashion-mnist</c> package installs the data set.</summary>
    public const string DefaultFashionMnistDirectory = "/usr/share/datasets/fashion-mnist";

    public const string CifarSubdirectory = "cifar-10-batches-bin";
    /// <summary>Classes of MNIST, Fashion-MNIST and CIFAR-10.</summary>
    public const int ClassCount = 10;
    public const int ImageNetResolution = 64;

    private static readonly float[] ByteToUnit = BuildByteToUnit();

    /// <summary>Wraps <paramref name="images"/> ([count, channels, height, width], values in [-1, 1]) without copying.</summary>
    public ImageDataset(DatasetKind kind, float[] images, byte[] labels, int channels, int height, int width, string source)
        : this(kind, images, Array.ConvertAll(labels, l => (int)l), channels, height, width, source) { }

    /// <summary>As above with class indices below <see cref="ClassesOf"/>(<paramref name="kind"/>).</summary>
    public ImageDataset(DatasetKind kind, float[] images, int[] labels, int channels, int height, int width, string source)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        if (labels.Length == 0)
            throw new ArgumentException("a data set needs at least one image", nameof(labels));
        long imageSize = (long)channels * height * width;
        if (images.LongLength != imageSize * labels.Length)
            throw new ArgumentException($"{labels.Length} images of {channels}x{height}x{width} need {imageSize * labels.Length} floats but {images.Length} were given", nameof(images));
        int classes = ClassesOf(kind);
        foreach (int label in labels)
        {
            if ((uint)label >= classes) throw new ArgumentException($"label {label} is outside 0..{classes - 1}", nameof(labels));
        }
        Kind = kind;
        Images = images;
        Labels = labels;
        Channels = channels;
        Height = height;
        Width = width;
        Source = source;
    }

    public DatasetKind Kind { get; }

    /// <summary>[Count, Channels, Height, Width], row-major, in [-1, 1].</summary>
    public float[] Images { get; }

    /// <summary>Class labels, 0..<see cref="Classes"/>-1.</summary>
    public int[] Labels { get; }

    /// <summary>How many classes the data set's labels range over (10, or 1000 for ImageNet).</summary>
    public int Classes => ClassesOf(Kind);

    public static int ClassesOf(DatasetKind kind) => kind == DatasetKind.ImageNet64 ? DownsampledImageNetReader.Classes : ClassCount;

    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }

    /// <summary>Where the data came from (a directory or file), for messages and logs.</summary>
    public string Source { get; }

    public int Count => Labels.Length;
    public int ImageSize => Channels * Height * Width;
    public int[] Shape => [Count, Channels, Height, Width];

    public ReadOnlySpan<float> Image(int index) => Images.AsSpan(checked(index * ImageSize), ImageSize);

    /// <summary>The images as a [N, C, H, W] tensor sharing this data set's memory.</summary>
    public HostTensor ToHostTensor() => new(Shape, Images);

    /// <summary>The training scale: 0 maps to -1 and 255 to 1 exactly.</summary>
    public static float PixelToUnit(byte value) => ByteToUnit[value];

    /// <summary>Converts raw bytes [count, channels, height, width] to a data set.</summary>
    public static ImageDataset FromPixels(DatasetKind kind, ReadOnlySpan<byte> pixels, byte[] labels, int channels, int height, int width, string source) =>
        FromPixels(kind, pixels, Array.ConvertAll(labels, l => (int)l), channels, height, width, source);

    public static ImageDataset FromPixels(DatasetKind kind, ReadOnlySpan<byte> pixels, int[] labels, int channels, int height, int width, string source)
    {
        var images = new float[pixels.Length];
        for (int i = 0; i < pixels.Length; i++) images[i] = ByteToUnit[pixels[i]];
        return new ImageDataset(kind, images, labels, channels, height, width, source);
    }

    public static string DatasetName(DatasetKind kind) => kind switch
    {
        DatasetKind.FashionMnist => "Fashion-MNIST",
        DatasetKind.Mnist => "MNIST",
        DatasetKind.Cifar10 => "CIFAR-10",
        DatasetKind.ImageNet64 => "ImageNet 64x64",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>
    /// Loads the training or test split. <paramref name="directory"/> null means the default location, which only
    /// Fashion-MNIST has (<see cref="DefaultFashionMnistDirectory"/>).
    /// MNIST and Fashion-MNIST directories hold train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte
    /// and t10k-labels-idx1-ubyte, each optionally gzipped (.gz); CIFAR-10 directories hold data_batch_1..5.bin and
    /// test_batch.bin, directly or in a cifar-10-batches-bin subdirectory. ImageNet 64x64 directories hold the
    /// downsampled batches (train_data_batch_*.npz, val_data.npz) or images below them (guided-diffusion's layout, the
    /// class from the file name's prefix before '_'; for the test split, a val/ subdirectory).
    /// </summary>
    public static ImageDataset Load(string? directory, DatasetKind kind, bool train)
    {
        string dir = directory ?? DefaultDirectory(kind);
        if (!Directory.Exists(dir))
        {
            if (directory is null)
                throw new InvalidDataFileException(dir, $"{DatasetName(kind)} is not installed here: install it with `apt-get install dataset-fashion-mnist` or pass --data DIR");
            throw new InvalidDataFileException(dir, $"{DatasetName(kind)} directory not found");
        }
        return kind switch
        {
            DatasetKind.Cifar10 => LoadCifar10(dir, train),
            DatasetKind.ImageNet64 => LoadImageNet(dir, train),
            _ => LoadIdx(dir, kind, train),
        };
    }

    /// <summary>
    /// Which data set <paramref name="directory"/> holds, or null if it holds none (or does not exist).
    /// MNIST and Fashion-MNIST share file names, so they are told apart by a directory name containing "fashion" or,
    /// failing that, by the mean pixel of the images (about 33 for MNIST digits, 73 for Fashion-MNIST clothes).
    /// </summary>
    public static DatasetKind? Detect(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!Directory.Exists(directory)) return null;
        if (FindCifarDirectory(directory) is not null) return DatasetKind.Cifar10;
        if (ImageNetBatches(directory, train: true).Length > 0 || ImageNetBatches(directory, train: false).Length > 0) return DatasetKind.ImageNet64;
        if (ImageFolderReader.HasImages(directory)) return DatasetKind.ImageNet64;

        string? images = FindIdxFile(directory, "t10k-images-idx3-ubyte") ?? FindIdxFile(directory, "train-images-idx3-ubyte");
        if (images is null) return null;
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)));
        if (name.Contains("fashion", StringComparison.OrdinalIgnoreCase)) return DatasetKind.FashionMnist;

        const double meanPixelThreshold = 50;
        byte[] pixels = IdxReader.ReadImages(images).Data;
        long sum = 0;
        foreach (byte p in pixels) sum += p;
        return (double)sum / pixels.Length > meanPixelThreshold ? DatasetKind.FashionMnist : DatasetKind.Mnist;
    }

    private static string DefaultDirectory(DatasetKind kind) => kind switch
    {
        DatasetKind.FashionMnist => DefaultFashionMnistDirectory,
        // "--data" stands in for the file path: the flag is what the user must supply.
        _ => throw new InvalidDataFileException("--data", $"{DatasetName(kind)} has no default location: pass --data DIR, the directory holding the {DatasetName(kind)} files"),
    };

    private static ImageDataset LoadIdx(string dir, DatasetKind kind, bool train)
    {
        string prefix = train ? "train" : "t10k";
        string imagesPath = RequireIdxFile(dir, kind, $"{prefix}-images-idx3-ubyte");
        string labelsPath = RequireIdxFile(dir, kind, $"{prefix}-labels-idx1-ubyte");
        IdxArray images = IdxReader.ReadImages(imagesPath);
        IdxArray labels = IdxReader.ReadLabels(labelsPath);
        if (labels.Count != images.Count)
            throw new InvalidDataFileException(labelsPath, $"has {labels.Count} labels but {Path.GetFileName(imagesPath)} has {images.Count} images");
        CheckLabels(labelsPath, labels.Data);
        return FromPixels(kind, images.Data, labels.Data, 1, images.Dimensions[1], images.Dimensions[2], dir);
    }

    private static ImageDataset LoadCifar10(string dir, bool train)
    {
        string batchDir = FindCifarDirectory(dir)
            ?? throw new InvalidDataFileException(dir, $"no CIFAR-10 binary batches (data_batch_1.bin .. data_batch_5.bin, test_batch.bin) here or in {CifarSubdirectory}/; they come from cifar-10-binary.tar.gz");
        string[] files = train
            ? Enumerable.Range(1, 5).Select(i => Path.Combine(batchDir, $"data_batch_{i}.bin")).ToArray()
            : [Path.Combine(batchDir, "test_batch.bin")];
        Cifar10Batch[] batches = files.Select(Cifar10Reader.Read).ToArray();

        int count = batches.Sum(b => b.Count);
        var labels = new byte[count];
        var images = new float[(long)count * Cifar10Reader.PixelBytes];
        int done = 0;
        foreach (Cifar10Batch batch in batches)
        {
            batch.Labels.CopyTo(labels, done);
            Span<float> destination = images.AsSpan(done * Cifar10Reader.PixelBytes, batch.Pixels.Length);
            for (int i = 0; i < batch.Pixels.Length; i++) destination[i] = ByteToUnit[batch.Pixels[i]];
            done += batch.Count;
        }
        return new ImageDataset(DatasetKind.Cifar10, images, labels, Cifar10Reader.Channels, Cifar10Reader.Height, Cifar10Reader.Width, batchDir);
    }

    private static string[] ImageNetBatches(string dir, bool train) =>
        Directory.GetFiles(dir, train ? "train_data_batch_*.npz" : "val_data*.npz").Order(StringComparer.Ordinal).ToArray();

    private static ImageDataset LoadImageNet(string dir, bool train)
    {
        var batches = ImageNetBatches(dir, train);
        if (batches.Length > 0)
        {
            var read = new DownsampledImageNetReader.Batch[batches.Length];
            long total = 0;
            for (int i = 0; i < batches.Length; i++)
            {
                read[i] = DownsampledImageNetReader.Read(batches[i]);
                total += read[i].Pixels.Length;
                // the set is held in memory as one float32 array: refuse before it cannot be, not with an overflow
                if (total > Array.MaxLength)
                    throw new InvalidDataFileException(dir, $"the first {i + 1} of the {batches.Length} batches already hold " +
                        $"{total / (3L * read[0].Resolution * read[0].Resolution):N0} images, more than this in-memory loader takes " +
                        $"({Array.MaxLength / (3L * read[0].Resolution * read[0].Resolution):N0} at {read[0].Resolution}x{read[0].Resolution}); " +
                        "keep fewer train_data_batch_*.npz files in the directory");
            }
            int r = read[0].Resolution;
            if (read.FirstOrDefault(b => b.Resolution != r) is { } other)
                throw new InvalidDataFileException(batches[Array.IndexOf(read, other)], $"holds {other.Resolution}x{other.Resolution} images, {batches[0]} holds {r}x{r}");
            var pixels = new byte[read.Sum(b => (long)b.Pixels.Length)];
            long offset = 0;
            foreach (var b in read) { b.Pixels.CopyTo(pixels, offset); offset += b.Pixels.Length; }
            return FromPixels(DatasetKind.ImageNet64, pixels, read.SelectMany(b => b.Labels).ToArray(), 3, r, r, dir);
        }
        string folder = train ? dir : Path.Combine(dir, "val");
        if (!ImageFolderReader.HasImages(folder))
            throw new InvalidDataFileException(folder, train
                ? "neither downsampled-ImageNet batches (train_data_batch_*.npz) nor images (*.jpg, *.jpeg, *.png, *.gif) here"
                : "no val_data*.npz batch here and no images in its val/ subdirectory");
        var images = ImageFolderReader.Read(folder, ImageNetResolution);
        return FromPixels(DatasetKind.ImageNet64, images.Pixels, images.Labels, 3, images.Resolution, images.Resolution, folder);
    }

    private static string? FindCifarDirectory(string dir)
    {
        static bool HasBatches(string d) =>
            File.Exists(Path.Combine(d, "data_batch_1.bin")) || File.Exists(Path.Combine(d, "test_batch.bin"));

        if (HasBatches(dir)) return dir;
        string sub = Path.Combine(dir, CifarSubdirectory);
        return Directory.Exists(sub) && HasBatches(sub) ? sub : null;
    }

    /// <summary>The file under its canonical name, gzipped or not, or under the dotted name some mirrors use (train-images.idx3-ubyte).</summary>
    private static string? FindIdxFile(string dir, string name)
    {
        int dash = name.LastIndexOf('-', name.LastIndexOf("-ubyte", StringComparison.Ordinal) - 1);
        string dotted = name[..dash] + "." + name[(dash + 1)..];
        foreach (string candidate in new[] { name, name + ".gz", dotted, dotted + ".gz" })
        {
            string path = Path.Combine(dir, candidate);
            if (File.Exists(path)) return path;
        }
        return null;
    }

    private static string RequireIdxFile(string dir, DatasetKind kind, string name) =>
        FindIdxFile(dir, name)
        ?? throw new InvalidDataFileException(Path.Combine(dir, name), $"file not found (nor {name}.gz): is this a {DatasetName(kind)} directory?");

    private static void CheckLabels(string path, byte[] labels)
    {
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] >= ClassCount)
                throw new InvalidDataFileException(path, $"label {i} is {labels[i]}, expected 0..{ClassCount - 1}");
        }
    }

    private static float[] BuildByteToUnit()
    {
        var table = new float[256];
        for (int i = 0; i < table.Length; i++) table[i] = i / 127.5f - 1f;
        return table;
    }
}
