using CatchUp.Data;

namespace CatchUp.Cli;

/// <summary>Turns --dataset and --data values into data set kinds, as usage errors when they make no sense.</summary>
internal static class DatasetArguments
{
    public static DatasetKind Parse(string name) => DatasetNames.TryParse(name, out var kind) ? kind
        : throw new CliUsageException($"dataset '{name}': expected {DatasetNames.Expected}");

    public static string Detect(string dir) => ImageDataset.Detect(dir) is DatasetKind kind ? DatasetNames.Name(kind)
        : throw new CliUsageException($"--data {dir}: found neither IDX files (train-images-idx3-ubyte[.gz]), CIFAR-10 batches (data_batch_*.bin), downsampled-ImageNet batches (*.npz) nor images (*.jpg, *.png, ...)");
}
