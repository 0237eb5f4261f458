namespace CatchUp.Imaging;

public enum PngColor
{
    Gray = 0,
    Rgb = 2,
}

/// <summary>An 8-bit image: <see cref="Pixels"/> is row-major with interleaved channels (1 byte per pixel for gray, R,G,B for RGB).</summary>
public sealed record PngImage(int Width, int Height, PngColor Color, byte[] Pixels)
{
    public int Channels => PngFormat.Channels(Color);

    public byte this[int x, int y, int channel = 0] => Pixels[(y * Width + x) * Channels + channel];
}

internal static class PngFormat
{
    public static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    public static int Channels(PngColor color) => color switch
    {
        PngColor.Gray => 1,
        PngColor.Rgb => 3,
        _ => throw new ArgumentOutOfRangeException(nameof(color), color, "only 8-bit gray and RGB PNGs are supported"),
    };

    /// <summary>The Paeth predictor of the PNG specification, section 9.4.</summary>
    public static byte Paeth(byte left, byte up, byte upLeft)
    {
        int p = left + up - upLeft;
        int pa = Math.Abs(p - left), pb = Math.Abs(p - up), pc = Math.Abs(p - upLeft);
        if (pa <= pb && pa <= pc) return left;
        return pb <= pc ? up : upLeft;
    }
}
