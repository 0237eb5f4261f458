using CatchUp.Tests.Data;

namespace CatchUp.Tests.Cli;

/// <summary>The files of a tiny training run for the command tests: an 8x8 one-channel network and an IDX data set.</summary>
internal static class TinyRunFiles
{
    /// <summary>Writes dir/model.json (with one attention block at 4x4 when <paramref name="attention"/>) and returns its path.</summary>
    public static string WriteModel(string dir, bool attention = false)
    {
        string path = Path.Combine(dir, "model.json");
        File.WriteAllText(path, $$"""
            { "img_resolution": 8, "in_channels": 1, "out_channels": 1, "model_channels": 8, "channel_mult": [1, 2],
              "num_blocks": 1, "attn_resolutions": [{{(attention ? "4" : "")}}], "dropout": 0.1, "prior_shakedrop": true }
            """);
        return path;
    }

    /// <summary>Writes an MNIST-format data set of <paramref name="trainImages"/> 8x8 images to dir/data and returns that path.</summary>
    public static string WriteMnist(string dir, int trainImages)
    {
        string data = Path.Combine(dir, "data");
        Directory.CreateDirectory(data);
        File.WriteAllBytes(Path.Combine(data, "train-images-idx3-ubyte"), DataFiles.Images(trainImages, 8, 8, i => (byte)(i * 37 % 256)));
        File.WriteAllBytes(Path.Combine(data, "train-labels-idx1-ubyte"), DataFiles.Labels(new byte[trainImages]));
        File.WriteAllBytes(Path.Combine(data, "t10k-images-idx3-ubyte"), DataFiles.Images(2, 8, 8, i => (byte)i));
        File.WriteAllBytes(Path.Combine(data, "t10k-labels-idx1-ubyte"), DataFiles.Labels(0, 1));
        return data;
    }
}
