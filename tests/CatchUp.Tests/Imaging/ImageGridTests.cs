using CatchUp.Imaging;
using CatchUp.IO;
using CatchUp.Tests.IO;
using Xunit;

namespace CatchUp.Tests.Imaging;

public class ImageGridTests
{
    [Theory]
    [InlineData(1, null, 1, 1)]
    [InlineData(10, null, 3, 4)]
    [InlineData(16, null, 4, 4)]
    [InlineData(17, null, 4, 5)]
    [InlineData(64, null, 8, 8)]
    [InlineData(10, 5, 2, 5)]
    [InlineData(3, 8, 1, 3)]
    public void LayoutIsNearSquareOrAsGiven(int count, int? columns, int rows, int cols)
    {
        Assert.Equal((rows, cols), ImageGrid.Layout(count, columns));
    }

    [Fact]
    public void ToByteMapsMinusOneToOneOntoFullRangeAndClamps()
    {
        Assert.Equal(0, ImageGrid.ToByte(-1f));
        Assert.Equal(255, ImageGrid.ToByte(1f));
        Assert.Equal(0, ImageGrid.ToByte(-3f));
        Assert.Equal(255, ImageGrid.ToByte(7f));
        Assert.Equal(0, ImageGrid.ToByte(float.NaN));
        for (int b = 0; b < 256; b++) Assert.Equal(b, ImageGrid.ToByte(b / 127.5f - 1f)); // inverse of the data set scaling
    }

    [Fact]
    public void GrayGridPlacesTilesWithTwoPixelPadding()
    {
        // 5 images of 1x3x4 (H=3, W=4): 3 columns x 2 rows; image n is uniformly gray level n * 50.
        const int count = 5, h = 3, w = 4;
        var images = new float[count * h * w];
        for (int i = 0; i < images.Length; i++) images[i] = i / (h * w) * 50 / 127.5f - 1f;

        PngImage grid = ImageGrid.Compose(new HostTensor([count, 1, h, w], images));

        Assert.Equal(3 * (w + 2) + 2, grid.Width);
        Assert.Equal(2 * (h + 2) + 2, grid.Height);
        Assert.Equal(PngColor.Gray, grid.Color);
        Assert.Equal(0, grid[0, 0]);                       // border
        Assert.Equal(0, grid[2, 2]);                       // image 0, top-left, level 0
        Assert.Equal(50, grid[2 + (w + 2), 2]);            // image 1
        Assert.Equal(0, grid[2 + w, 2]);                   // gap between images 0 and 1
        Assert.Equal(150, grid[2 + w - 1, 2 + (h + 2) + h - 1]); // image 3, bottom-right pixel
        Assert.Equal(200, grid[2 + (w + 2), 2 + (h + 2)]);  // image 4
        Assert.Equal(0, grid[2 + 2 * (w + 2), 2 + (h + 2)]); // empty sixth cell
    }

    [Fact]
    public void RgbGridKeepsChannelsAndRoundTripsThroughPng()
    {
        // 2 images 3x2x2: channel c of image n is constant (n * 3 + c) * 20.
        var images = new float[2 * 3 * 2 * 2];
        for (int i = 0; i < images.Length; i++) images[i] = i / 4 * 20 / 127.5f - 1f;
        using var dir = new TempDirectory();
        string path = dir.File("grid.png");

        ImageGrid.WritePng(path, new HostTensor([2, 3, 2, 2], images), columns: 1);
        PngImage grid = PngReader.Read(path);

        Assert.Equal((2 + 2 + 2, 2 * (2 + 2) + 2, PngColor.Rgb), (grid.Width, grid.Height, grid.Color));
        Assert.Equal([0, 20, 40], new[] { grid[2, 2, 0], grid[2, 2, 1], grid[2, 2, 2] }.Select(b => (int)b));
        Assert.Equal([60, 80, 100], new[] { grid[3, 7, 0], grid[3, 7, 1], grid[3, 7, 2] }.Select(b => (int)b));
    }

    [Fact]
    public void BadShapesAreRejected()
    {
        Assert.Throws<ArgumentException>(() => ImageGrid.Compose(new HostTensor(2, 2, 4, 4)));
        Assert.Throws<ArgumentException>(() => ImageGrid.Compose(new HostTensor(2, 16)));
        Assert.Throws<ArgumentException>(() => ImageGrid.Compose(new float[10], 2, 1, 2, 2));
    }
}
