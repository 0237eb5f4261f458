using CatchUp.Backends.Cpu;
using CatchUp.Evaluation;
using CatchUp.Tensors;
using CatchUp.Tests.Kernels;
using Xunit;

namespace CatchUp.Tests.Evaluation;

public class ClassifierGradientTests
{
    [Fact]
    public void BackwardMatchesFiniteDifferencesOfTheCrossEntropy()
    {
        var config = new ClassifierConfig(InChannels: 2, Resolution: 4, Widths: [8, 8], Classes: 3);
        const int n = 3;
        using var backend = new CpuBackend(1);
        using var net = new ClassifierNetwork(config, backend);
        net.Parameters.Initialize(7);
        var parameters = net.Parameters.All;
        var values = parameters.Select(p => p.Value.ToArray()).ToArray();
        // Non-zero biases, so their gradients are exercised away from the initialization's symmetric point.
        foreach (var (p, v) in parameters.Zip(values))
            if (p.Name.EndsWith(".bias", StringComparison.Ordinal)) GradCheck.Random(v.Length, p.Name.Length, -0.3f, 0.3f).CopyTo(v, 0);
        using var x = backend.FromArray(GradCheck.Random(n * 2 * 4 * 4, 3), n, 2, 4, 4);
        int[] labels = [0, 2, 1];
        var logits = new float[n * 3];
        var gradient = new float[n * 3];

        double Loss()
        {
            for (int i = 0; i < parameters.Count; i++) backend.Upload(values[i], parameters[i].Value);
            backend.Download(net.Forward(x), logits);
            return SoftmaxCrossEntropy.Compute(logits, labels, 3, default).Loss;
        }

        Loss();
        SoftmaxCrossEntropy.Compute(logits, labels, 3, gradient);
        net.Parameters.ZeroGrad();
        using var dLogits = backend.FromArray(gradient, n, 3);
        net.Backward(dLogits);
        var inputs = parameters.Select((p, i) => new GradCheck.Input(p.Name, values[i], p.Grad.ToArray())).ToList();
        Assert.Equal(["convs.0.weight", "convs.0.bias", "convs.1.weight", "convs.1.bias", "convs.2.weight", "convs.2.bias"],
            inputs.Select(i => i.Name).Where(s => s.StartsWith("convs", StringComparison.Ordinal)));
        GradCheck.Verify(Loss, inputs, samples: 8, step: 1e-2f);
    }

    [Fact]
    public void Takes32x32RgbImagesAndPoolsTheLastStageIntoFeatures()
    {
        var config = ClassifierConfig.For(3, 32) with { Widths = [8, 16, 32] };
        using var backend = new CpuBackend(2);
        using var net = new ClassifierNetwork(config, backend);
        net.Parameters.Initialize(3);
        using var x = backend.FromArray(GradCheck.Random(2 * 3 * 32 * 32, 5), 2, 3, 32, 32);
        var logits = net.Forward(x);
        Assert.Equal([2, 10], logits.Shape.ToArray());
        Assert.Equal([2, 32], net.Features.Shape.ToArray());
        Assert.Equal(8, config.FinalResolution);
        Assert.All(logits.ToArray(), v => Assert.True(float.IsFinite(v)));
        using var gray = backend.FromArray(new float[2 * 32 * 32], 2, 1, 32, 32);
        Assert.Throws<ArgumentException>(() => net.Forward(gray));
    }

    [Fact]
    public void CrossEntropyGradientIsSoftmaxMinusOneHotOverN()
    {
        float[] logits = [1, 2, 0.5f, -1, 0, 3];
        var gradient = new float[6];
        var (loss, correct) = SoftmaxCrossEntropy.Compute(logits, [1, 0], 3, gradient);
        var probs = new double[6];
        SoftmaxCrossEntropy.Softmax(logits, 3, probs);
        Assert.Equal((-Math.Log(probs[1]) - Math.Log(probs[3])) / 2, loss, 1e-12);
        Assert.Equal(1, correct);
        for (int i = 0; i < 6; i++) Assert.Equal((probs[i] - (i == 1 || i == 3 ? 1 : 0)) / 2, gradient[i], 1e-6);
    }
}
