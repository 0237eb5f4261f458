using CatchUp.Sampling;

namespace CatchUp.Imaging;

/// <summary>Per-class sample grids of class-conditional samples: <c>classes/class_K.png</c> holds the images of class K
/// (at most a limit each), so a reader can check each requested class at a glance.</summary>
public static class ClassGrids
{
    /// <summary>Writes one grid per class present; returns a short description of what was written.</summary>
    public static string Write(string outDir, GeneratedSamples s, int[] labels, int limitPerClass)
    {
        string dir = Path.Combine(outDir, "classes");
        Directory.CreateDirectory(dir);
        int size = s.Channels * s.Height * s.Width;
        var classes = labels.Distinct().Order().ToArray();
        foreach (int k in classes)
        {
            var members = Enumerable.Range(0, labels.Length).Where(i => labels[i] == k).Take(limitPerClass).ToArray();
            var pixels = new float[members.Length * size];
            for (int j = 0; j < members.Length; j++) s.X.AsSpan(members[j] * size, size).CopyTo(pixels.AsSpan(j * size));
            ImageGrid.WritePng(Path.Combine(dir, $"class_{k}.png"), pixels, members.Length, s.Channels, s.Height, s.Width);
        }
        return classes.Length == 1 ? $"classes/class_{classes[0]}.png" : $"classes/class_K.png ({classes.Length} classes)";
    }
}
