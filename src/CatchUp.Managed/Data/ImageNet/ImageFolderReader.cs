using CatchUp.Imaging;
using CatchUp.IO;
using SkiaSharp;

namespace CatchUp.Data.ImageNet;

/// <summary>
/// guided-diffusion's image folders: every .jpg/.jpeg/.png/.gif below the directory (any depth, sorted per directory
/// as the reference lists them), the class being the file name's prefix before the first '_' (classes numbered in
/// sorted order of their names). Each image is decoded (SkiaSharp), converted to RGB, halved with a box filter while
/// its short side is at least twice the resolution, resized bicubically so its short side is the resolution, and
/// centre-cropped: guided-diffusion's center_crop_arr, computed with Pillow's arithmetic (<see cref="PilResample"/>).
/// </summary>
public static class ImageFolderReader
{
    private static readonly string[] Extensions = ["jpg", "jpeg", "png", "gif"];
    /// <summary>Refuses images whose decoded size would exceed this many pixels (a decompression bomb).</summary>
    public const long MaxPixels = 100_000_000;

    public sealed record Folder(byte[] Pixels, int[] Labels, string[] ClassNames, int Resolution);

    /// <summary>All images as [N, 3, r, r] bytes (planes), with their class indices.</summary>
    public static Folder Read(string directory, int resolution)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(resolution, 1);
        var files = ListImages(directory);
        if (files.Count == 0) throw new InvalidDataFileException(directory, $"no images ({string.Join(", ", Extensions.Select(e => "*." + e))}) in this directory or below it");
        var names = files.Select(f => Path.GetFileName(f).Split('_')[0]).ToArray();
        var classNames = names.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        var index = classNames.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i, StringComparer.Ordinal);
        int plane = resolution * resolution;
        if ((long)files.Count * 3 * plane > Array.MaxLength)
            throw new InvalidDataFileException(directory, $"{files.Count:N0} images, more than this in-memory loader takes " +
                $"({Array.MaxLength / (3L * plane):N0} at {resolution}x{resolution}); point --data at a smaller folder");
        var pixels = new byte[(long)files.Count * 3 * plane];
        var labels = new int[files.Count];
        for (int n = 0; n < files.Count; n++)
        {
            var hwc = CenterCrop(Decode(files[n]), resolution);
            var image = pixels.AsSpan(checked(n * 3 * plane), 3 * plane);
            for (int p = 0; p < plane; p++)
                for (int c = 0; c < 3; c++) image[c * plane + p] = hwc[p * 3 + c];
            labels[n] = index[names[n]];
        }
        return new Folder(pixels, labels, classNames, resolution);
    }

    /// <summary>True when the directory holds (at any depth) at least one image the reader takes.</summary>
    public static bool HasImages(string directory) =>
        Directory.Exists(directory) && Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Any(IsImage);

    private static bool IsImage(string path)
    {
        string name = Path.GetFileName(path);
        int dot = name.LastIndexOf('.');
        return dot >= 0 && Extensions.Contains(name[(dot + 1)..].ToLowerInvariant());
    }

    /// <summary>The reference's _list_image_files_recursively: entries sorted by name, images kept, folders descended.</summary>
    private static List<string> ListImages(string directory)
    {
        var result = new List<string>();
        foreach (string entry in Directory.EnumerateFileSystemEntries(directory).Order(StringComparer.Ordinal))
        {
            if (File.Exists(entry) && IsImage(entry)) result.Add(entry);
            else if (Directory.Exists(entry)) result.AddRange(ListImages(entry));
        }
        return result;
    }

    /// <summary>An RGB image as interleaved HWC bytes.</summary>
    public readonly record struct RgbImage(byte[] Pixels, int Width, int Height);

    public static RgbImage Decode(string path)
    {
        using var codec = SKCodec.Create(path, out var result)
            ?? throw new InvalidDataFileException(path, $"not a readable image ({result})");
        var info = codec.Info;
        if ((long)info.Width * info.Height > MaxPixels || info.Width < 1 || info.Height < 1)
            throw new InvalidDataFileException(path, $"image of {info.Width}x{info.Height} pixels is outside 1..{MaxPixels} pixels");
        var target = new SKImageInfo(info.Width, info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(target);
        var decoded = codec.GetPixels(target, bitmap.GetPixels());
        if (decoded is not (SKCodecResult.Success or SKCodecResult.IncompleteInput))
            throw new InvalidDataFileException(path, $"could not be decoded ({decoded})");
        if (decoded == SKCodecResult.IncompleteInput) throw new InvalidDataFileException(path, "truncated image data");
        var rgba = bitmap.GetPixelSpan();
        var rgb = new byte[info.Width * info.Height * 3];
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
        {
            rgb[i] = rgba[j];
            rgb[i + 1] = rgba[j + 1];
            rgb[i + 2] = rgba[j + 2];
        }
        return new RgbImage(rgb, info.Width, info.Height);
    }

    /// <summary>guided-diffusion's center_crop_arr on an RGB image: r x r x 3 interleaved bytes.</summary>
    public static byte[] CenterCrop(RgbImage image, int resolution)
    {
        var (pixels, w, h) = (image.Pixels, image.Width, image.Height);
        while (Math.Min(w, h) >= 2 * resolution)
        {
            pixels = PilResample.Resize(pixels, w, h, 3, w / 2, h / 2, PilResample.Filter.Box);
            (w, h) = (w / 2, h / 2);
        }
        double scale = (double)resolution / Math.Min(w, h);
        int nw = (int)Math.Round(w * scale, MidpointRounding.ToEven), nh = (int)Math.Round(h * scale, MidpointRounding.ToEven);
        pixels = PilResample.Resize(pixels, w, h, 3, nw, nh, PilResample.Filter.Bicubic);
        int top = (nh - resolution) / 2, left = (nw - resolution) / 2;
        var crop = new byte[resolution * resolution * 3];
        for (int y = 0; y < resolution; y++)
            pixels.AsSpan(((top + y) * nw + left) * 3, resolution * 3).CopyTo(crop.AsSpan(y * resolution * 3));
        return crop;
    }
}
