using CatchUp.Backends;
using CatchUp.Nn;
using CatchUp.Tensors;

namespace CatchUp.Models.Adm;

/// <summary>
/// The reference's ADM UNetModel (cm/unet.py of Catch-Up-Distillation-ImageNet-64x64), as create_model builds it:
/// emb = time_embed(timestep_embedding(t, C)) [+ label_emb(y)]; input_blocks push every output on a skip stack;
/// middle_block = ResBlock, AttentionBlock, ResBlock; each output block concatenates (h * pos(t), skip * neg(t)) with
/// the dynamic skip weights pos = 2 phi_t, neg = 2(1 - phi_t), phi_t = t(1 - 2 phi) + phi (1 and 1 without
/// prior_shakedrop); out = conv(silu(GroupNorm32(h))); generator_list.N heads (MetaGenerator) on the same features.
/// t is passed to timestep_embedding as given (the reference's flow calls model(x, t) with t in [0, 1]).
/// Parameter names are the reference's state_dict() names. Forward and backward are explicit.
/// </summary>
public sealed class AdmUNet : IVelocityNetwork
{
    private readonly IBackend _b;
    private readonly Linear _time0, _time1;
    private readonly LabelEmbedding? _label;
    private readonly Conv2d _inConv;
    private readonly List<AdmSequence> _input = new(), _output = new();
    private readonly AdmSequence _middle;
    private readonly GroupNorm _outNorm;
    private readonly Conv2d _outConv;
    private readonly ExtraHead[] _heads;
    private readonly Tensor?[] _skips, _dSkips, _concat, _dConcatH;
    private readonly Tensor[] _headOut;
    private float[] _embHost = [];
    private Tensor? _time0Output, _embIn, _embHidden, _emb, _embSilu, _pos, _neg, _dEmbSilu, _dEmb, _dHiddenPre;
    private bool _savedForBackward;

    public AdmUNet(AdmUNetConfig config, IBackend backend)
    {
        config.Validate("ADM config");
        Config = config;
        _b = backend;
        Parameters = new ParameterSet(backend);
        var ps = Parameters;
        int mc = config.NumChannels, ted = config.TimeEmbedDim, levels = config.ChannelMultipliers.Length;
        float dropout = (float)config.Dropout;
        bool ss = config.UseScaleShiftNorm;
        var attentionRates = config.AttentionDownsampleRates;

        _time0 = new Linear(ps, "time_embed.0", mc, ted, 1f);
        _time1 = new Linear(ps, "time_embed.2", ted, ted, 1f);
        if (config.ClassCond) _label = new LabelEmbedding(ps, "label_emb", config.NumClasses, ted);

        // Input blocks: input_blocks.0 is the stem convolution, then NB ResBlocks (+ attention) per level and a
        // down-sampling ResBlock between levels.
        int ch = config.ChannelsAt(0);
        _inConv = new Conv2d(ps, "input_blocks.0.0", config.InChannels, ch, 3, 1f);
        var skipChannels = new List<int> { ch };
        int ds = 1;
        for (int level = 0; level < levels; level++)
        {
            for (int i = 0; i < config.NumResBlocks; i++)
            {
                string name = $"input_blocks.{_input.Count + 1}";
                int cout = config.ChannelsAt(level);
                var layers = new List<IAdmLayer> { new ResBlock(ps, name + ".0", ch, cout, ted, dropout, ss) };
                ch = cout;
                if (attentionRates.Contains(ds)) layers.Add(new AttentionBlock(ps, name + ".1", ch, config.HeadsFor(ch, upsample: false)));
                _input.Add(new AdmSequence([.. layers]));
                skipChannels.Add(ch);
            }
            if (level != levels - 1)
            {
                string downName = $"input_blocks.{_input.Count + 1}.0";
                _input.Add(new AdmSequence([config.ResblockUpdown
                    ? new ResBlock(ps, downName, ch, ch, ted, dropout, ss, down: true)
                    : new AdmDownsample(ps, downName, ch)]));
                skipChannels.Add(ch);
                ds *= 2;
            }
        }

        _middle = new AdmSequence([
            new ResBlock(ps, "middle_block.0", ch, ch, ted, dropout, ss),
            new AttentionBlock(ps, "middle_block.1", ch, config.HeadsFor(ch, upsample: false)),
            new ResBlock(ps, "middle_block.2", ch, ch, ted, dropout, ss),
        ]);

        // Output blocks: NB+1 per level, each on concat(h, skip); the last of a level (but the first level) up-samples.
        int skipCursor = skipChannels.Count;
        for (int level = levels - 1; level >= 0; level--)
        {
            for (int i = 0; i <= config.NumResBlocks; i++)
            {
                string name = $"output_blocks.{_output.Count}";
                int cout = config.ChannelsAt(level);
                var layers = new List<IAdmLayer> { new ResBlock(ps, name + ".0", ch + skipChannels[--skipCursor], cout, ted, dropout, ss) };
                ch = cout;
                if (attentionRates.Contains(ds)) layers.Add(new AttentionBlock(ps, $"{name}.{layers.Count}", ch, config.HeadsFor(ch, upsample: true)));
                if (level > 0 && i == config.NumResBlocks)
                {
                    string upName = $"{name}.{layers.Count}";
                    layers.Add(config.ResblockUpdown ? new ResBlock(ps, upName, ch, ch, ted, dropout, ss, up: true) : new AdmUpsample(ps, upName, ch));
                    ds /= 2;
                }
                _output.Add(new AdmSequence([.. layers]));
            }
        }

        _outNorm = new GroupNorm(ps, "out.0", ch, 1e-5f, 32);
        _outConv = new Conv2d(ps, "out.2", config.ChannelsAt(0), config.OutChannels, 3, 0f); // zero_module
        FeatureChannels = ch;
        _heads = new ExtraHead[config.ExtraHeads];
        for (int j = 0; j < _heads.Length; j++)
            _heads[j] = new ExtraHead(ps, $"generator_list.{j}.block", ch, config.OutChannels, 1e-5f, 32, 0f);
        _headOut = new Tensor[_heads.Length];

        _skips = new Tensor?[skipChannels.Count];
        _dSkips = new Tensor?[skipChannels.Count];
        _concat = new Tensor?[_output.Count];
        _dConcatH = new Tensor?[_output.Count];
    }

    public AdmUNetConfig Config { get; }
    public IVelocityModelConfig ModelConfig => Config;
    public ParameterSet Parameters { get; }
    public IBackend Backend => _b;
    public int FeatureChannels { get; }
    public int HeadCount => _heads.Length;

    /// <summary>
    /// Runs the network on x [N,C,H,W] at times t [N] (on the device; also read on the host for the sinusoidal
    /// embedding) with class labels <paramref name="labels"/> (required exactly when the model is class-conditional).
    /// </summary>
    public VelocityOutput Forward(Tensor x, Tensor t, int[]? labels, ForwardMode mode, bool computeHeads = true)
    {
        var cfg = Config;
        if (x.Rank != 4 || x.C != cfg.InChannels || x.H != cfg.ImageSize || x.W != cfg.ImageSize)
            throw new ArgumentException($"input {x.ShapeString} does not match the model's [N, {cfg.InChannels}, {cfg.ImageSize}, {cfg.ImageSize}]");
        if (t.Length != x.N) throw new ArgumentException($"t has {t.Length} entries for a batch of {x.N}");
        OneHotLabels.CheckPresence(labels, cfg.ClassCount, x.N);
        int n = x.N;
        _savedForBackward = mode.SaveForBackward;

        // emb = time_embed.2(silu(time_embed.0(timestep_embedding(t)))) [+ label_emb(y)]; every ResBlock uses silu(emb).
        var embIn = _b.Ensure(ref _embIn, n, cfg.NumChannels);
        TimestepEmbedding(t, embIn);
        var hidden = _b.Ensure(ref _embHidden, n, cfg.TimeEmbedDim);
        _time0Output = _time0.Forward(embIn);
        _b.Silu(_time0Output, hidden);
        var emb = _b.Ensure(ref _emb, n, cfg.TimeEmbedDim);
        _b.Copy(_time1.Forward(hidden), emb);
        if (_label is not null) _b.Axpby(1f, _label.Forward(labels!), 1f, emb);
        var embSilu = _b.Ensure(ref _embSilu, emb.Shape);
        _b.Silu(emb, embSilu);

        var (pos, neg) = NetworkParts.SkipWeights(_b, t, cfg.PriorShakedrop, cfg.Phi, ref _pos, ref _neg);

        var h = _skips[0] = _inConv.Forward(x);
        for (int i = 0; i < _input.Count; i++) _skips[i + 1] = h = _input[i].Forward(h, embSilu, mode);
        h = _middle.Forward(h, embSilu, mode);
        for (int i = 0; i < _output.Count; i++)
        {
            var s = _skips[_skips.Length - 1 - i]!;
            var cat = _b.Ensure(ref _concat[i], n, h.C + s.C, h.H, h.W);
            _b.ConcatScaled(h, s, pos, neg, cat);
            h = _output[i].Forward(cat, embSilu, mode);
        }
        return NetworkParts.Outputs(_outNorm, _outConv, _heads, _headOut, h, computeHeads);
    }

    /// <summary>
    /// Backpropagates dL/dv, dL/dhead_j (entries may be null) and dL/dfeatures (optional) through the last forward pass
    /// (run with SaveForBackward). Parameter gradients are accumulated. Returns dL/dx when <paramref name="needInputGrad"/>.
    /// </summary>
    public Tensor? Backward(Tensor dv, IReadOnlyList<Tensor?>? dHeads = null, Tensor? dFeatures = null, bool needInputGrad = false)
    {
        if (!_savedForBackward) throw new InvalidOperationException("Backward needs a forward pass run with SaveForBackward");
        var dEmbSilu = _b.Ensure(ref _dEmbSilu, _emb!.Shape);
        _b.Fill(dEmbSilu, 0f);

        var dh = NetworkParts.OutputsBackward(_b, _outNorm, _outConv, _heads, dv, dHeads, dFeatures);

        var pos = Config.PriorShakedrop ? _pos : null;
        var neg = Config.PriorShakedrop ? _neg : null;
        for (int i = _output.Count - 1; i >= 0; i--)
        {
            int skip = _skips.Length - 1 - i;
            var dCat = _output[i].Backward(dh, dEmbSilu);
            dh = NetworkParts.ConcatBackward(_b, dCat, _skips[skip]!, pos, neg, ref _dConcatH[i], ref _dSkips[skip]);
        }
        dh = _middle.Backward(dh, dEmbSilu);
        // Each input block's output feeds the next block (or the middle) and one output block's skip.
        for (int i = _input.Count; i >= 1; i--)
        {
            _b.Axpby(1f, _dSkips[i]!, 1f, dh);
            dh = _input[i - 1].Backward(dh, dEmbSilu);
        }
        _b.Axpby(1f, _dSkips[0]!, 1f, dh);
        var dx = _inConv.Backward(dh, needInputGrad);

        var dEmb = _b.Ensure(ref _dEmb, dEmbSilu.Shape);
        _b.SiluBackward(_emb, dEmbSilu, dEmb);
        _label?.Backward(dEmb);
        var dHidden = _time1.Backward(dEmb)!;
        var dHiddenPre = _b.Ensure(ref _dHiddenPre, dHidden.Shape);
        _b.SiluBackward(_time0Output!, dHidden, dHiddenPre);
        _time0.Backward(dHiddenPre, needInputGrad: false);
        return dx;
    }

    /// <summary>
    /// The reference's timestep_embedding(t, C): [cos(t f_i), sin(t f_i)] with f_i = exp(-ln(10000) i / half),
    /// i &lt; half = C/2 (a zero column when C is odd). Computed on the host in double from t (one small download) and
    /// uploaded: it has no parameters and t needs no gradient, so no backend op is spent on it.
    /// </summary>
    private void TimestepEmbedding(Tensor t, Tensor y)
    {
        int n = t.Length, dim = y.SampleSize, half = dim / 2;
        if (_embHost.Length != n * dim + n) _embHost = new float[n * dim + n];
        var times = _embHost.AsSpan(n * dim, n);
        _b.Download(t, times);
        var rows = _embHost.AsSpan(0, n * dim);
        rows.Clear();
        for (int s = 0; s < n; s++)
            for (int i = 0; i < half; i++)
            {
                double a = times[s] * Math.Exp(-Math.Log(10000.0) * i / half);
                rows[s * dim + i] = (float)Math.Cos(a);
                rows[s * dim + half + i] = (float)Math.Sin(a);
            }
        _b.Upload(rows, y);
    }

    public void Dispose() => Parameters.Dispose();
}
