namespace CatchUp.Evaluation.Inception;

/// <summary>
/// The FID Inception-v3 forward pass for one 3 x 299 x 299 image in [-1, 1] up to the 2048-d pool3 features, following
/// pytorch-fid: stem, Mixed_5b-5d (FIDInceptionA: average pool without padded zeros), Mixed_6a (InceptionB),
/// Mixed_6b-6e (FIDInceptionC), Mixed_7a (InceptionD), Mixed_7b (FIDInceptionE_1), Mixed_7c (FIDInceptionE_2: max pool
/// in the pool branch), global average. Branch outputs are written straight into their channel slice of the block output.
/// Layers are consumed in <see cref="InceptionLayout.Convs"/> order; each call names the layer it expects, so a wrong
/// order fails loudly instead of silently using the wrong weights.
/// </summary>
internal sealed unsafe class InceptionNetwork
{
    private readonly FoldedConv[] _convs;

    /// <param name="convs">One folded convolution per <see cref="InceptionLayout.Convs"/> entry, in that order.</param>
    public InceptionNetwork(IReadOnlyList<FoldedConv> convs)
    {
        if (convs.Count != InceptionLayout.Convs.Count) throw new ArgumentException($"{convs.Count} layers, expected {InceptionLayout.Convs.Count}", nameof(convs));
        for (int i = 0; i < convs.Count; i++)
            if (convs[i].Spec != InceptionLayout.Convs[i]) throw new ArgumentException($"layer {i} is {convs[i].Spec.Name}, expected {InceptionLayout.Convs[i].Name}", nameof(convs));
        _convs = convs.ToArray();
    }

    /// <summary>Floating-point operations (2 per multiply-add) of the convolutions for one image; known after the first <see cref="Forward"/>.</summary>
    public long FlopsPerImage { get; private set; }

    private struct Pass
    {
        public InceptionWorkspace Ws;
        public int Next;
        public long Flops;
    }

    /// <summary>Runs the network on <see cref="InceptionWorkspace.BlockA"/> (3 x 299 x 299) and writes the 2048 features.</summary>
    public void Forward(InceptionWorkspace ws, Span<double> features)
    {
        var pass = new Pass { Ws = ws };
        float* x = ws.BlockA, y = ws.BlockB;
        int h = InceptionLayout.InputSize, w = h;

        Conv(ref pass, "Conv2d_1a_3x3", x, ref h, ref w, y);
        Conv(ref pass, "Conv2d_2a_3x3", y, ref h, ref w, x);
        Conv(ref pass, "Conv2d_2b_3x3", x, ref h, ref w, y);
        MaxPool(y, 64, ref h, ref w, x);
        Conv(ref pass, "Conv2d_3b_1x1", x, ref h, ref w, y);
        Conv(ref pass, "Conv2d_4a_3x3", y, ref h, ref w, x);
        MaxPool(x, 192, ref h, ref w, y);
        Swap(ref x, ref y);

        int c = 192;
        for (int i = 0; i < 3; i++, Swap(ref x, ref y)) c = BlockA(ref pass, x, c, h, w, y);
        c = BlockB(ref pass, x, c, ref h, ref w, y);
        Swap(ref x, ref y);
        for (int i = 0; i < 4; i++, Swap(ref x, ref y)) c = BlockC(ref pass, x, c, h, w, y);
        c = BlockD(ref pass, x, c, ref h, ref w, y);
        Swap(ref x, ref y);
        c = BlockE(ref pass, x, c, h, w, y, maxPoolBranch: false);
        Swap(ref x, ref y);
        c = BlockE(ref pass, x, c, h, w, y, maxPoolBranch: true);

        if (pass.Next != _convs.Length) throw new InvalidOperationException($"forward pass used {pass.Next} of {_convs.Length} layers");
        Pooling.GlobalAverage(y, c, h * w, features);
        FlopsPerImage = pass.Flops;
    }

    /// <summary>FIDInceptionA (Mixed_5b-5d).</summary>
    private int BlockA(ref Pass p, float* x, int c, int h, int w, float* y)
    {
        int n = h * w, offset = 0;
        offset += Same(ref p, "branch1x1", x, h, w, y);
        offset += Chain(ref p, "branch5x5_1", "branch5x5_2", x, h, w, y + (long)offset * n);
        offset += Chain(ref p, "branch3x3dbl_1", "branch3x3dbl_3", x, h, w, y + (long)offset * n);
        Pooling.Window3x3Same(x, c, h, w, max: false, p.Ws.PoolRows(h * w), p.Ws.Temp3);
        offset += Same(ref p, "branch_pool", p.Ws.Temp3, h, w, y + (long)offset * n);
        return offset;
    }

    /// <summary>InceptionB (Mixed_6a): 35x35 to 17x17.</summary>
    private int BlockB(ref Pass p, float* x, int c, ref int h, ref int w, float* y)
    {
        int outH = Pooling.OutputSize(h, 3, 2, 0), outW = Pooling.OutputSize(w, 3, 2, 0), n = outH * outW, offset = 0;
        offset += Chain(ref p, "branch3x3", "branch3x3", x, h, w, y);
        offset += Chain(ref p, "branch3x3dbl_1", "branch3x3dbl_3", x, h, w, y + (long)offset * n);
        Pooling.Max(x, c, h, w, 3, 2, 0, y + (long)offset * n);
        (h, w) = (outH, outW);
        return offset + c;
    }

    /// <summary>FIDInceptionC (Mixed_6b-6e): factorized 7x7 convolutions.</summary>
    private int BlockC(ref Pass p, float* x, int c, int h, int w, float* y)
    {
        int n = h * w, offset = 0;
        offset += Same(ref p, "branch1x1", x, h, w, y);
        offset += Chain(ref p, "branch7x7_1", "branch7x7_3", x, h, w, y + (long)offset * n);
        offset += Chain(ref p, "branch7x7dbl_1", "branch7x7dbl_5", x, h, w, y + (long)offset * n);
        Pooling.Window3x3Same(x, c, h, w, max: false, p.Ws.PoolRows(h * w), p.Ws.Temp3);
        offset += Same(ref p, "branch_pool", p.Ws.Temp3, h, w, y + (long)offset * n);
        return offset;
    }

    /// <summary>InceptionD (Mixed_7a): 17x17 to 8x8.</summary>
    private int BlockD(ref Pass p, float* x, int c, ref int h, ref int w, float* y)
    {
        int outH = Pooling.OutputSize(h, 3, 2, 0), outW = Pooling.OutputSize(w, 3, 2, 0), n = outH * outW, offset = 0;
        offset += Chain(ref p, "branch3x3_1", "branch3x3_2", x, h, w, y);
        offset += Chain(ref p, "branch7x7x3_1", "branch7x7x3_4", x, h, w, y + (long)offset * n);
        Pooling.Max(x, c, h, w, 3, 2, 0, y + (long)offset * n);
        (h, w) = (outH, outW);
        return offset + c;
    }

    /// <summary>FIDInceptionE_1 (Mixed_7b, average pool branch) and FIDInceptionE_2 (Mixed_7c, max pool branch).</summary>
    private int BlockE(ref Pass p, float* x, int c, int h, int w, float* y, bool maxPoolBranch)
    {
        int n = h * w, offset = 0;
        InceptionWorkspace ws = p.Ws;
        offset += Same(ref p, "branch1x1", x, h, w, y);
        Same(ref p, "branch3x3_1", x, h, w, ws.Temp1);
        offset += Same(ref p, "branch3x3_2a", ws.Temp1, h, w, y + (long)offset * n);
        offset += Same(ref p, "branch3x3_2b", ws.Temp1, h, w, y + (long)offset * n);
        Same(ref p, "branch3x3dbl_1", x, h, w, ws.Temp1);
        Same(ref p, "branch3x3dbl_2", ws.Temp1, h, w, ws.Temp2);
        offset += Same(ref p, "branch3x3dbl_3a", ws.Temp2, h, w, y + (long)offset * n);
        offset += Same(ref p, "branch3x3dbl_3b", ws.Temp2, h, w, y + (long)offset * n);
        Pooling.Window3x3Same(x, c, h, w, max: maxPoolBranch, ws.PoolRows(h * w), ws.Temp3);
        offset += Same(ref p, "branch_pool", ws.Temp3, h, w, y + (long)offset * n);
        return offset;
    }

    /// <summary>
    /// Runs the layers from the next one (which must be <paramref name="first"/>) to <paramref name="last"/>, one after another
    /// through Temp1/Temp2; the last writes to <paramref name="y"/>. Returns the last layer's channels.
    /// </summary>
    private int Chain(ref Pass p, string first, string last, float* x, int h, int w, float* y)
    {
        Expect(p.Next, first);
        float* input = x;
        for (int i = 0; ; i++)
        {
            bool isLast = _convs[p.Next].Spec.Name.EndsWith(last, StringComparison.Ordinal);
            float* output = isLast ? y : i % 2 == 0 ? p.Ws.Temp1 : p.Ws.Temp2;
            FoldedConv conv = Run(ref p, input, ref h, ref w, output);
            if (isLast) return conv.Spec.OutChannels;
            input = output;
        }
    }

    /// <summary>The next layer, which must keep the spatial size; returns its output channels.</summary>
    private int Same(ref Pass p, string name, float* x, int h, int w, float* y)
    {
        Expect(p.Next, name);
        int outH = h, outW = w;
        FoldedConv conv = Run(ref p, x, ref outH, ref outW, y);
        if (outH != h || outW != w) throw new InvalidOperationException($"{conv.Spec.Name} changes the spatial size");
        return conv.Spec.OutChannels;
    }

    private void Conv(ref Pass p, string name, float* x, ref int h, ref int w, float* y)
    {
        Expect(p.Next, name);
        Run(ref p, x, ref h, ref w, y);
    }

    private FoldedConv Run(ref Pass p, float* x, ref int h, ref int w, float* y)
    {
        FoldedConv conv = _convs[p.Next++];
        conv.Forward(p.Ws, x, h, w, y);
        p.Flops += conv.FlopsPerImage(h, w);
        (h, w) = (conv.Spec.OutputHeight(h), conv.Spec.OutputWidth(w));
        return conv;
    }

    private void Expect(int index, string name)
    {
        string actual = _convs[index].Spec.Name;
        if (!actual.EndsWith(name, StringComparison.Ordinal) || (actual.Length > name.Length && actual[^(name.Length + 1)] != '.'))
            throw new InvalidOperationException($"forward pass expected layer '{name}' but the next layer is {actual}");
    }

    private static void MaxPool(float* x, int c, ref int h, ref int w, float* y)
    {
        Pooling.Max(x, c, h, w, 3, 2, 0, y);
        (h, w) = (Pooling.OutputSize(h, 3, 2, 0), Pooling.OutputSize(w, 3, 2, 0));
    }

    private static void Swap(ref float* a, ref float* b)
    {
        float* t = a;
        a = b;
        b = t;
    }
}
