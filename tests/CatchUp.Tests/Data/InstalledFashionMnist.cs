using CatchUp.Data;
using Xunit;
using Xunit.Abstractions;

namespace CatchUp.Tests.Data;

/// <summary>
/// Whether Debian's dataset-fashion-mnist package is installed. Under CI=true it must be; elsewhere a test that needs
/// it passes with a note when it is absent (xunit 2 has no runtime skip).
/// </summary>
internal static class InstalledFashionMnist
{
    public static bool Available(ITestOutputHelper output)
    {
        if (Directory.Exists(ImageDataset.DefaultFashionMnistDirectory)) return true;
        Assert.False(string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase),
            $"CI=true but {ImageDataset.DefaultFashionMnistDirectory} is missing: apt-get install dataset-fashion-mnist");
        output.WriteLine($"not checked: {ImageDataset.DefaultFashionMnistDirectory} is absent (apt-get install dataset-fashion-mnist)");
        return false;
    }
}
