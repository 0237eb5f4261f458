using CatchUp.Evaluation.Inception;
using CatchUp.IO;
using CatchUp.Tests.IO;
using Xunit;

namespace CatchUp.Tests.Evaluation.Inception;

/// <summary>The weights loader refuses anything that is not exactly pytorch-fid's FID Inception-v3 state dict.</summary>
public class InceptionWeightsTests
{
    private static InvalidDataFileException LoadFails(TempDirectory dir, Action<SortedDictionary<string, HostTensor>> edit)
    {
        string path = DeterministicInceptionWeights.Write(dir.File("weights.safetensors"), edit);
        var e = Assert.ThrowsAny<InvalidDataFileException>(() => InceptionV3Features.Load(path, 1));
        Assert.StartsWith(path + ": ", e.Message);
        return e;
    }

    [Fact]
    public void MissingTensorIsNamed()
    {
        using var dir = new TempDirectory();
        var e = LoadFails(dir, t => t.Remove("Mixed_6c.branch7x7dbl_3.bn.running_var"));
        Assert.Contains("'Mixed_6c.branch7x7dbl_3.bn.running_var'", e.Message);
        Assert.Contains("missing", e.Message);
        Assert.Contains("[160]", e.Message);
    }

    [Fact]
    public void TransposedAsymmetricKernelIsAShapeError()
    {
        using var dir = new TempDirectory();
        var e = LoadFails(dir, t => t["Mixed_7b.branch3x3_2a.conv.weight"] = new HostTensor(384, 384, 3, 1));
        Assert.Contains("'Mixed_7b.branch3x3_2a.conv.weight'", e.Message);
        Assert.Contains("has shape [384, 384, 3, 1], expected [384, 384, 1, 3]", e.Message);
    }

    [Fact]
    public void UnknownTensorIsNamedWithATorchvisionHint()
    {
        using var dir = new TempDirectory();
        var e = LoadFails(dir, t => t["AuxLogits.fc.weight"] = new HostTensor(1000, 768));
        Assert.Contains("'AuxLogits.fc.weight'", e.Message);
        Assert.Contains("unknown tensor", e.Message);
        Assert.Contains("torchvision", e.Message);
    }

    [Fact]
    public void ImageNetClassifierIsRecognisedAsTorchvisionWeights()
    {
        using var dir = new TempDirectory();
        var e = LoadFails(dir, t => t["fc.weight"] = new HostTensor(1000, 2048));
        Assert.Contains("'fc.weight'", e.Message);
        Assert.Contains("1008-class FID weights", e.Message);
    }

    [Fact]
    public void NonFiniteWeightIsRejected()
    {
        using var dir = new TempDirectory();
        var e = LoadFails(dir, t =>
        {
            var bad = new HostTensor(t["Mixed_5d.branch5x5_2.conv.weight"].Shape);
            bad.Data[123] = float.PositiveInfinity;
            t["Mixed_5d.branch5x5_2.conv.weight"] = bad;
        });
        Assert.Contains("'Mixed_5d.branch5x5_2.conv.weight': element 123 is", e.Message);
    }

    [Fact]
    public void NegativeRunningVarianceIsRejected()
    {
        using var dir = new TempDirectory();
        var e = LoadFails(dir, t =>
        {
            var bad = new HostTensor(t["Conv2d_1a_3x3.bn.running_var"].Shape);
            Array.Fill(bad.Data, 1f);
            bad.Data[5] = -0.5f;
            t["Conv2d_1a_3x3.bn.running_var"] = bad;
        });
        Assert.Contains("'Conv2d_1a_3x3.bn.running_var': element 5 is -0.5", e.Message);
    }

    [Fact]
    public void MissingFileIsAnInvalidDataFileError()
    {
        using var dir = new TempDirectory();
        string path = dir.File("absent.safetensors");
        var e = Assert.ThrowsAny<InvalidDataFileException>(() => InceptionV3Features.Load(path, 1));
        Assert.StartsWith(path, e.Message);
    }

    [Fact]
    public void ClassifierIsOptionalAndBatchCountersAreIgnored()
    {
        using var dir = new TempDirectory();
        string path = DeterministicInceptionWeights.Write(dir.File("weights.safetensors"), t =>
        {
            t.Remove("fc.weight");
            t.Remove("fc.bias");
            t["Conv2d_1a_3x3.bn.num_batches_tracked"] = new HostTensor([], [0f]);
        });
        using var inception = InceptionV3Features.Load(path, 1);
        Assert.Equal("inception_v3_pool3", inception.FeatureSpace);
        Assert.Equal(2048, inception.FeatureDim);
    }
}
