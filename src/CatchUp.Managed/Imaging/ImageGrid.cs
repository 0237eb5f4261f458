using CatchUp.IO;

namespace CatchUp.Imaging;

/// <summary>
/// Tiles a batch of images [B, C, H, W] with values in [-1, 1] into one picture, like torchvision's make_grid:
/// <see cref="Padding"/> black pixels around and between the tiles, row-major order, unused cells left black.
/// C is 1 (gray) or 3 (RGB).
/// </summary>
public static class ImageGrid
{
    public const int Padding = 2;

    /// <summary>The grid shape: <paramref name="columns"/> if given (at most <paramref name="count"/>), else ceil(sqrt(count)) columns, then as many rows as needed.</summary>
    public static (int Rows, int Columns) Layout(int count, int? columns = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        if (columns is int c) ArgumentOutOfRangeException.ThrowIfNegativeOrZero(c, nameof(columns));
        int cols = Math.Min(columns ?? (int)Math.Ceiling(Math.Sqrt(count)), count);
        return ((count + cols - 1) / cols, cols);
    }

    /// <summary>Maps [-1, 1] to 0..255 (rounded; out-of-range values clamp; NaN becomes 0).</summary>
    public static byte ToByte(float value)
    {
        float scaled = (value + 1f) * 127.5f;
        if (!(scaled > 0f)) return 0; // also catches NaN
        return scaled >= 255f ? (byte)255 : (byte)MathF.Round(scaled, MidpointRounding.AwayFromZero);
    }

    public static PngImage Compose(HostTensor images, int? columns = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Rank != 4)
            throw new ArgumentException($"expected images [B, C, H, W], got shape {HostTensor.FormatShape(images.Shape)}", nameof(images));
        return Compose(images.Data, images.Shape[0], images.Shape[1], images.Shape[2], images.Shape[3], columns);
    }

    public static PngImage Compose(ReadOnlySpan<float> images, int count, int channels, int height, int width, int? columns = null)
    {
        if (channels is not (1 or 3))
            throw new ArgumentException($"images must have 1 (gray) or 3 (RGB) channels, not {channels}", nameof(channels));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        long imageSize = (long)channels * height * width;
        if (images.Length != imageSize * count)
            throw new ArgumentException($"{count} images of {channels}x{height}x{width} need {imageSize * count} values but {images.Length} were given", nameof(images));

        (int rows, int cols) = Layout(count, columns);
        int gridWidth = checked(cols * (width + Padding) + Padding);
        int gridHeight = checked(rows * (height + Padding) + Padding);
        var pixels = new byte[checked(gridWidth * gridHeight * channels)];
        int planeSize = height * width;
        for (int n = 0; n < count; n++)
        {
            ReadOnlySpan<float> image = images.Slice((int)(n * imageSize), (int)imageSize);
            int left = Padding + n % cols * (width + Padding);
            int top = Padding + n / cols * (height + Padding);
            for (int y = 0; y < height; y++)
            {
                for (int x = 0; x < width; x++)
                {
                    int target = ((top + y) * gridWidth + left + x) * channels;
                    for (int c = 0; c < channels; c++)
                        pixels[target + c] = ToByte(image[c * planeSize + y * width + x]);
                }
            }
        }
        return new PngImage(gridWidth, gridHeight, channels == 1 ? PngColor.Gray : PngColor.Rgb, pixels);
    }

    /// <summary>Composes the grid and writes it as a PNG (atomically).</summary>
    public static void WritePng(string path, HostTensor images, int? columns = null) =>
        PngWriter.Write(path, Compose(images, columns));

    public static void WritePng(string path, ReadOnlySpan<float> images, int count, int channels, int height, int width, int? columns = null) =>
        PngWriter.Write(path, Compose(images, count, channels, height, width, columns));
}
