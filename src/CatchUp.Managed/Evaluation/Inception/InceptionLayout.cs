namespace CatchUp.Evaluation.Inception;

/// <summary>One BasicConv2d of the network (convolution without bias, BatchNorm, ReLU) with its state-dict prefix.</summary>
internal sealed record ConvSpec(string Name, int InChannels, int OutChannels, int KernelH, int KernelW, int Stride, int PadH, int PadW)
{
    public int Fan => InChannels * KernelH * KernelW;
    public int OutputHeight(int height) => (height + 2 * PadH - KernelH) / Stride + 1;
    public int OutputWidth(int width) => (width + 2 * PadW - KernelW) / Stride + 1;
    public string WeightKey => Name + ".conv.weight";
    public string BnWeightKey => Name + ".bn.weight";
    public string BnBiasKey => Name + ".bn.bias";
    public string BnMeanKey => Name + ".bn.running_mean";
    public string BnVarKey => Name + ".bn.running_var";
    public string BnBatchesKey => Name + ".bn.num_batches_tracked";
}

/// <summary>
/// The layers of pytorch-fid's FID Inception-v3 (torchvision's Inception3 with num_classes = 1008, no auxiliary head,
/// and the FID-patched Mixed blocks), named exactly as in its state dict (<c>pt_inception-2015-12-05-6726825d.pth</c>).
/// </summary>
internal static class InceptionLayout
{
    public const int InputSize = 299;
    public const int FeatureDim = 2048;
    public const int ClassifierClasses = 1008;
    public const double BatchNormEps = 0.001;

    public static IReadOnlyList<ConvSpec> Convs { get; } = Build();

    /// <summary>Tensors that pytorch-fid's state dict also holds but the pool3 features do not use (the classifier).</summary>
    public static IReadOnlyDictionary<string, int[]> UnusedTensors { get; } = new Dictionary<string, int[]>(StringComparer.Ordinal)
    {
        ["fc.weight"] = [ClassifierClasses, FeatureDim],
        ["fc.bias"] = [ClassifierClasses],
    };

    /// <summary>Every tensor the features need, with its shape, in layer order.</summary>
    public static IEnumerable<(string Key, int[] Shape)> RequiredTensors()
    {
        foreach (ConvSpec c in Convs)
        {
            yield return (c.WeightKey, [c.OutChannels, c.InChannels, c.KernelH, c.KernelW]);
            yield return (c.BnWeightKey, [c.OutChannels]);
            yield return (c.BnBiasKey, [c.OutChannels]);
            yield return (c.BnMeanKey, [c.OutChannels]);
            yield return (c.BnVarKey, [c.OutChannels]);
        }
    }

    private static List<ConvSpec> Build()
    {
        var list = new List<ConvSpec>();
        void Conv(string name, int cin, int cout, int kh, int kw, int stride = 1, int padH = 0, int padW = 0) =>
            list.Add(new ConvSpec(name, cin, cout, kh, kw, stride, padH, padW));

        Conv("Conv2d_1a_3x3", 3, 32, 3, 3, stride: 2);
        Conv("Conv2d_2a_3x3", 32, 32, 3, 3);
        Conv("Conv2d_2b_3x3", 32, 64, 3, 3, padH: 1, padW: 1);
        Conv("Conv2d_3b_1x1", 64, 80, 1, 1);
        Conv("Conv2d_4a_3x3", 80, 192, 3, 3);

        void BlockA(string b, int cin, int poolFeatures)
        {
            Conv($"{b}.branch1x1", cin, 64, 1, 1);
            Conv($"{b}.branch5x5_1", cin, 48, 1, 1);
            Conv($"{b}.branch5x5_2", 48, 64, 5, 5, padH: 2, padW: 2);
            Conv($"{b}.branch3x3dbl_1", cin, 64, 1, 1);
            Conv($"{b}.branch3x3dbl_2", 64, 96, 3, 3, padH: 1, padW: 1);
            Conv($"{b}.branch3x3dbl_3", 96, 96, 3, 3, padH: 1, padW: 1);
            Conv($"{b}.branch_pool", cin, poolFeatures, 1, 1);
        }
        BlockA("Mixed_5b", 192, 32);
        BlockA("Mixed_5c", 256, 64);
        BlockA("Mixed_5d", 288, 64);

        Conv("Mixed_6a.branch3x3", 288, 384, 3, 3, stride: 2);
        Conv("Mixed_6a.branch3x3dbl_1", 288, 64, 1, 1);
        Conv("Mixed_6a.branch3x3dbl_2", 64, 96, 3, 3, padH: 1, padW: 1);
        Conv("Mixed_6a.branch3x3dbl_3", 96, 96, 3, 3, stride: 2);

        void BlockC(string b, int c7)
        {
            Conv($"{b}.branch1x1", 768, 192, 1, 1);
            Conv($"{b}.branch7x7_1", 768, c7, 1, 1);
            Conv($"{b}.branch7x7_2", c7, c7, 1, 7, padW: 3);
            Conv($"{b}.branch7x7_3", c7, 192, 7, 1, padH: 3);
            Conv($"{b}.branch7x7dbl_1", 768, c7, 1, 1);
            Conv($"{b}.branch7x7dbl_2", c7, c7, 7, 1, padH: 3);
            Conv($"{b}.branch7x7dbl_3", c7, c7, 1, 7, padW: 3);
            Conv($"{b}.branch7x7dbl_4", c7, c7, 7, 1, padH: 3);
            Conv($"{b}.branch7x7dbl_5", c7, 192, 1, 7, padW: 3);
            Conv($"{b}.branch_pool", 768, 192, 1, 1);
        }
        BlockC("Mixed_6b", 128);
        BlockC("Mixed_6c", 160);
        BlockC("Mixed_6d", 160);
        BlockC("Mixed_6e", 192);

        Conv("Mixed_7a.branch3x3_1", 768, 192, 1, 1);
        Conv("Mixed_7a.branch3x3_2", 192, 320, 3, 3, stride: 2);
        Conv("Mixed_7a.branch7x7x3_1", 768, 192, 1, 1);
        Conv("Mixed_7a.branch7x7x3_2", 192, 192, 1, 7, padW: 3);
        Conv("Mixed_7a.branch7x7x3_3", 192, 192, 7, 1, padH: 3);
        Conv("Mixed_7a.branch7x7x3_4", 192, 192, 3, 3, stride: 2);

        void BlockE(string b, int cin)
        {
            Conv($"{b}.branch1x1", cin, 320, 1, 1);
            Conv($"{b}.branch3x3_1", cin, 384, 1, 1);
            Conv($"{b}.branch3x3_2a", 384, 384, 1, 3, padW: 1);
            Conv($"{b}.branch3x3_2b", 384, 384, 3, 1, padH: 1);
            Conv($"{b}.branch3x3dbl_1", cin, 448, 1, 1);
            Conv($"{b}.branch3x3dbl_2", 448, 384, 3, 3, padH: 1, padW: 1);
            Conv($"{b}.branch3x3dbl_3a", 384, 384, 1, 3, padW: 1);
            Conv($"{b}.branch3x3dbl_3b", 384, 384, 3, 1, padH: 1);
            Conv($"{b}.branch_pool", cin, 192, 1, 1);
        }
        BlockE("Mixed_7b", 1280);
        BlockE("Mixed_7c", 2048);
        return list;
    }
}
