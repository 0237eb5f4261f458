using CatchUp.Backends.Cpu;
using CatchUp.Evaluation;
using CatchUp.Tests.Data;

namespace CatchUp.Tests.Evaluation;

/// <summary>
/// A temp directory with a small MNIST-format data set of 8x8 images (train 64, test 40: a bright square whose place
/// depends on the label, plus hashed noise) and an untrained 8x8 classifier saved as if trained on "mnist" (a file of its
/// own: same weights for the same seed, but a unique id in its metadata).
/// </summary>
internal sealed class EvaluationFixture : IDisposable
{
    public const int Side = 8, TestCount = 40;
    public static readonly ClassifierConfig Config = new(1, Side, [8, 16], 10);

    public EvaluationFixture()
    {
        Root = Directory.CreateTempSubdirectory("catchup-eval-").FullName;
        DataDir = Path.Combine(Root, "data");
        Directory.CreateDirectory(DataDir);
        WriteSplit("train", 64);
        WriteSplit("t10k", TestCount);
        ClassifierPath = Path.Combine(Root, "classifier.safetensors");
        WriteClassifier(ClassifierPath, seed: 1);
    }

    public string Root { get; }
    public string DataDir { get; }
    public string ClassifierPath { get; }

    public string File(string name) => Path.Combine(Root, name);

    public static void WriteClassifier(string path, ulong seed, string dataset = "mnist")
    {
        using var backend = new CpuBackend(1);
        using var net = new ClassifierNetwork(Config, backend);
        net.Parameters.Initialize(seed);
        // A unique id in the metadata gives every fixture's file its own hash, so its own real-feature cache (the cache
        // folder is shared by the whole test run, and tests run in parallel).
        ClassifierFile.Save(path, net, dataset, testAccuracy: 0.5, new Dictionary<string, string> { ["fixture_id"] = Guid.NewGuid().ToString("N") });
    }

    /// <summary>The test split as the data loader scales it ([-1, 1]).</summary>
    public float[] TestImages() => CatchUp.Data.ImageDataset.Load(DataDir, CatchUp.Data.DatasetKind.Mnist, train: false).Images;

    private void WriteSplit(string prefix, int count)
    {
        var labels = Enumerable.Range(0, count).Select(i => (byte)(i % 10)).ToArray();
        byte Pixel(int index)
        {
            int image = index / (Side * Side), y = index / Side % Side, x = index % Side;
            int label = labels[image];
            bool square = y / 2 == label % 4 && x / 2 == label / 4 % 4;
            return (byte)((square ? 200 : 0) + (uint)(index * 2654435761u) % 50);
        }
        System.IO.File.WriteAllBytes(Path.Combine(DataDir, $"{prefix}-images-idx3-ubyte"), DataFiles.Images(count, Side, Side, Pixel));
        System.IO.File.WriteAllBytes(Path.Combine(DataDir, $"{prefix}-labels-idx1-ubyte"), DataFiles.Labels(labels));
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
