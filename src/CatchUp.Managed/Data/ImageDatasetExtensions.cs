namespace CatchUp.Data;

public static class ImageDatasetExtensions
{
    /// <summary>A copy of the first <paramref name="count"/> images (all of them if there are fewer).</summary>
    public static ImageDataset Head(this ImageDataset data, int count)
    {
        count = Math.Min(count, data.Count);
        return new ImageDataset(data.Kind, data.Images.AsSpan(0, count * data.ImageSize).ToArray(), data.Labels.AsSpan(0, count).ToArray(),
            data.Channels, data.Height, data.Width, data.Source);
    }
}
