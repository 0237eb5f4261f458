namespace CatchUp.Data;

/// <summary>The data sets' names on the command line and in files: fashion-mnist, mnist, cifar10, imagenet64.</summary>
public static class DatasetNames
{
    public const string Expected = "fashion-mnist, mnist, cifar10 or imagenet64";

    public static bool TryParse(string name, out DatasetKind kind)
    {
        (bool ok, kind) = name switch
        {
            "fashion-mnist" => (true, DatasetKind.FashionMnist),
            "mnist" => (true, DatasetKind.Mnist),
            "cifar10" => (true, DatasetKind.Cifar10),
            "imagenet64" => (true, DatasetKind.ImageNet64),
            _ => (false, default),
        };
        return ok;
    }

    /// <summary>The kind named <paramref name="name"/>; an <see cref="ArgumentException"/> for an unknown name.</summary>
    public static DatasetKind Parse(string name) => TryParse(name, out var kind) ? kind
        : throw new ArgumentException($"dataset '{name}': expected {Expected}");

    public static string Name(DatasetKind kind) => kind switch
    {
        DatasetKind.FashionMnist => "fashion-mnist",
        DatasetKind.Mnist => "mnist",
        DatasetKind.Cifar10 => "cifar10",
        DatasetKind.ImageNet64 => "imagenet64",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}
