using CatchUp.Evaluation;
using CatchUp.IO;
using CatchUp.Tests.Evaluation;
using Xunit;

namespace CatchUp.Tests.Cli;

[Collection("Console")]
public class ClassifierCommandTests : IDisposable
{
    private readonly EvaluationFixture _f = new();

    public void Dispose() => _f.Dispose();

    private static (int Exit, string Stdout, string Stderr) Run(params string[] args) => CliRunner.Run(args);

    [Fact]
    public void TrainsAndStoresTheTestAccuracyInTheFile()
    {
        string path = _f.File("trained/c.safetensors");
        var (exit, stdout, stderr) = Run("classifier", "train", "--data", _f.DataDir, "--dataset", "mnist", "--epochs", "2", "--batch", "16",
            "--threads", "2", "--out", path);
        Assert.True(exit == 0, stderr);
        Assert.Contains("it/s", stdout);
        Assert.Contains("test accuracy", stdout);
        var metadata = ClassifierFile.ReadMetadata(SafetensorsFile.Read(path));
        Assert.Equal("mnist", metadata.Dataset);
        Assert.Equal(ClassifierConfig.For(1, 8), metadata.Config);
        Assert.Equal(128, metadata.Config.FeatureDim);
        Assert.InRange(metadata.TestAccuracy, 0, 1);
        Assert.Equal("2", metadata.All["epochs"]);
        Assert.Equal("64", metadata.All["train_count"]);
        Assert.Contains($"\"test_accuracy\":{metadata.TestAccuracy.ToString(System.Globalization.CultureInfo.InvariantCulture)}", stdout);
    }

    [Fact]
    public void BadArgumentsAreOneLineErrors()
    {
        var (exit, _, stderr) = Run("classifier", "train", "--data", _f.DataDir, "--dataset", "mnist", "--epochs", "0");
        Assert.Equal(1, exit);
        Assert.Contains("epochs must be at least 1", stderr);
        (exit, _, stderr) = Run("classifier", "train", "--data", _f.File("absent"), "--dataset", "mnist");
        Assert.Equal(1, exit);
        Assert.Contains("absent", stderr);
        (exit, _, stderr) = Run("classifier", "train", "--data", _f.DataDir, "--dataset", "svhn");
        Assert.Equal(1, exit);
        Assert.Contains("svhn", stderr);
    }
}
