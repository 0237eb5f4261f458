using CatchUp.Backends;
using CatchUp.Nn;
using CatchUp.Tensors;

namespace CatchUp.Models;

/// <summary>What one forward pass of the velocity network produced. Tensors are network-owned and valid until the next pass.</summary>
public readonly record struct VelocityOutput(Tensor V, Tensor Features, IReadOnlyList<Tensor> Heads);

/// <summary>
/// SongUNet (DDPM++) velocity network with dynamic skip connections and optional extra heads, SPEC section 5.
/// The encoder pushes every output on a skip stack; the decoder concatenates (h * pos(t), skip * neg(t)) before each
/// of its NB+1 blocks per level. Forward and backward are explicit; each layer keeps what its backward needs.
/// </summary>
public sealed class SongUNet : IVelocityNetwork
{
    private readonly IBackend _b;
    private readonly Linear _map0, _map1;
    private readonly Linear? _mapLabel;
    private readonly OneHotLabels? _oneHot;
    private readonly Conv2d _encConv;
    private readonly List<UNetBlock> _encBlocks = new();
    private readonly List<(UNetBlock Block, int SkipIndex)> _dec = new();
    private readonly GroupNorm _auxNorm;
    private readonly Conv2d _auxConv;
    private readonly ExtraHead[] _heads;
    private readonly Tensor?[] _skips, _dSkips, _concat, _dConcatH;
    private readonly Tensor[] _headOut;
    private Tensor? _embIn, _mapOut0, _mapOut1, _embHidden, _emb, _pos, _neg, _dEmb, _dEmbPre, _dEmbHidden, _features;
    private bool _savedForBackward;

    public SongUNet(SongUNetConfig config, IBackend backend)
    {
        Config = config;
        _b = backend;
        Parameters = new ParameterSet(backend);
        var ps = Parameters;
        int c = config.ModelChannels, emb = config.EmbeddingChannels, noise = c * config.ChannelMultNoise;
        float dropout = (float)config.Dropout;

        if (config.LabelDim > 0)
        {
            // EDM: emb += map_label(one_hot(y) * sqrt(label_dim)), before map_layer0.
            _mapLabel = new Linear(ps, "map_label", config.LabelDim, noise, 1f);
            _oneHot = new OneHotLabels(backend, config.LabelDim, MathF.Sqrt(config.LabelDim));
        }
        _map0 = new Linear(ps, "map_layer0", noise, emb, 1f);
        _map1 = new Linear(ps, "map_layer1", emb, emb, 1f);

        // Encoder.
        var skipChannels = new List<int>();
        int cout = c;
        _encConv = null!;
        for (int level = 0; level < config.Levels; level++)
        {
            int res = config.ImgResolution >> level;
            if (level == 0)
            {
                cout = c;
                _encConv = new Conv2d(ps, $"enc.{res}x{res}_conv", config.InChannels, cout, 3, 1f);
            }
            else _encBlocks.Add(new UNetBlock(ps, $"enc.{res}x{res}_down", cout, cout, emb, dropout, down: true));
            skipChannels.Add(cout);
            for (int idx = 0; idx < config.NumBlocks; idx++)
            {
                int cin = cout;
                cout = c * config.ChannelMult[level];
                _encBlocks.Add(new UNetBlock(ps, $"enc.{res}x{res}_block{idx}", cin, cout, emb, dropout,
                    attention: config.AttnResolutions.Contains(res)));
                skipChannels.Add(cout);
            }
        }

        // Decoder.
        int skipCursor = skipChannels.Count;
        for (int level = config.Levels - 1; level >= 0; level--)
        {
            int res = config.ImgResolution >> level;
            if (level == config.Levels - 1)
            {
                _dec.Add((new UNetBlock(ps, $"dec.{res}x{res}_in0", cout, cout, emb, dropout, attention: true), -1));
                _dec.Add((new UNetBlock(ps, $"dec.{res}x{res}_in1", cout, cout, emb, dropout), -1));
            }
            else _dec.Add((new UNetBlock(ps, $"dec.{res}x{res}_up", cout, cout, emb, dropout, up: true), -1));
            for (int idx = 0; idx <= config.NumBlocks; idx++)
            {
                int skip = --skipCursor;
                int cin = cout + skipChannels[skip];
                cout = c * config.ChannelMult[level];
                _dec.Add((new UNetBlock(ps, $"dec.{res}x{res}_block{idx}", cin, cout, emb, dropout,
                    attention: idx == config.NumBlocks && config.AttnResolutions.Contains(res)), skip));
            }
        }
        int r0 = config.ImgResolution;
        _auxNorm = new GroupNorm(ps, $"dec.{r0}x{r0}_aux_norm", cout, 1e-6f);
        _auxConv = new Conv2d(ps, $"dec.{r0}x{r0}_aux_conv", cout, config.OutChannels, 3, 1e-5f);
        FeatureChannels = cout;

        _heads = new ExtraHead[config.ExtraHeads];
        for (int j = 0; j < _heads.Length; j++) _heads[j] = new ExtraHead(ps, j, cout, config.OutChannels);
        _headOut = new Tensor[_heads.Length];

        _skips = new Tensor?[skipChannels.Count];
        _dSkips = new Tensor?[skipChannels.Count];
        _concat = new Tensor?[_dec.Count];
        _dConcatH = new Tensor?[_dec.Count];
    }

    public SongUNetConfig Config { get; }
    public IVelocityModelConfig ModelConfig => Config;
    public ParameterSet Parameters { get; }
    public IBackend Backend => _b;
    public int FeatureChannels { get; }
    public int HeadCount => _heads.Length;

    /// <summary>Runs an unconditional network on x [N,C,H,W] at times t [N]. Heads run when <paramref name="computeHeads"/>.</summary>
    public VelocityOutput Forward(Tensor x, Tensor t, ForwardMode mode, bool computeHeads = true) => Forward(x, t, null, mode, computeHeads);

    /// <summary>Runs the network on x [N,C,H,W] at times t [N] with class labels y [N] (exactly when label_dim &gt; 0).</summary>
    public VelocityOutput Forward(Tensor x, Tensor t, int[]? labels, ForwardMode mode, bool computeHeads = true)
    {
        var cfg = Config;
        if (x.Rank != 4 || x.C != cfg.InChannels || x.H != cfg.ImgResolution || x.W != cfg.ImgResolution)
            throw new ArgumentException($"input {x.ShapeString} does not match the model's [N, {cfg.InChannels}, {cfg.ImgResolution}, {cfg.ImgResolution}]");
        if (t.Length != x.N) throw new ArgumentException($"t has {t.Length} entries for a batch of {x.N}");
        OneHotLabels.CheckPresence(labels, cfg.LabelDim, x.N);
        int n = x.N;
        _savedForBackward = mode.SaveForBackward;

        // Noise embedding: silu(map1(silu(map0([sin, cos] [+ map_label(y)])))).
        var embIn = _b.Ensure(ref _embIn, n, cfg.ModelChannels * cfg.ChannelMultNoise);
        _b.PositionalEmbedding(t, embIn);
        if (_mapLabel is not null) _b.Axpby(1f, _mapLabel.Forward(_oneHot!.Encode(labels!)), 1f, embIn);
        var hidden = _b.Ensure(ref _embHidden, n, cfg.EmbeddingChannels);
        _mapOut0 = _map0.Forward(embIn);
        _b.Silu(_mapOut0, hidden);
        var emb = _b.Ensure(ref _emb, n, cfg.EmbeddingChannels);
        _mapOut1 = _map1.Forward(hidden);
        _b.Silu(_mapOut1, emb);

        // Dynamic skip weights: phi_t = t(1-2phi)+phi, pos = 2 phi_t, neg = 2 - pos.
        var (pos, neg) = NetworkParts.SkipWeights(_b, t, cfg.PriorShakedrop, cfg.Phi, ref _pos, ref _neg);

        var h = _encConv.Forward(x);
        _skips[0] = h;
        for (int i = 0; i < _encBlocks.Count; i++) _skips[i + 1] = h = _encBlocks[i].Forward(h, emb, mode);

        for (int i = 0; i < _dec.Count; i++)
        {
            var (block, skip) = _dec[i];
            if (skip >= 0)
            {
                var s = _skips[skip]!;
                var cat = _b.Ensure(ref _concat[i], n, h.C + s.C, h.H, h.W);
                _b.ConcatScaled(h, s, pos, neg, cat);
                h = cat;
            }
            h = block.Forward(h, emb, mode);
        }
        _features = h;
        return NetworkParts.Outputs(_auxNorm, _auxConv, _heads, _headOut, h, computeHeads);
    }

    /// <summary>
    /// Backpropagates dL/dv (required), dL/dhead_j (entries may be null) and dL/dfeatures (optional) through the
    /// last forward pass, which must have run with <see cref="ForwardMode.SaveForBackward"/>. Parameter gradients are
    /// accumulated. Returns dL/dx (network-owned) when <paramref name="needInputGrad"/>, else null.
    /// </summary>
    public Tensor? Backward(Tensor dv, IReadOnlyList<Tensor?>? dHeads = null, Tensor? dFeatures = null, bool needInputGrad = false)
    {
        if (!_savedForBackward) throw new InvalidOperationException("Backward needs a forward pass run with SaveForBackward");
        var dEmb = _b.Ensure(ref _dEmb, _emb!.Shape);
        _b.Fill(dEmb, 0f);

        var dh = NetworkParts.OutputsBackward(_b, _auxNorm, _auxConv, _heads, dv, dHeads, dFeatures);

        var pos = Config.PriorShakedrop ? _pos : null;
        var neg = Config.PriorShakedrop ? _neg : null;
        for (int i = _dec.Count - 1; i >= 0; i--)
        {
            var (block, skip) = _dec[i];
            var dIn = block.Backward(dh, dEmb);
            if (skip >= 0)
            {
                dh = NetworkParts.ConcatBackward(_b, dIn, _skips[skip]!, pos, neg, ref _dConcatH[i], ref _dSkips[skip]);
            }
            else dh = dIn;
        }

        // Encoder: each output's gradient = from the next encoder layer + from the decoder's use of it as a skip.
        for (int i = _encBlocks.Count; i >= 1; i--)
        {
            _b.Axpby(1f, _dSkips[i]!, 1f, dh);
            dh = _encBlocks[i - 1].Backward(dh, dEmb);
        }
        _b.Axpby(1f, _dSkips[0]!, 1f, dh);
        var dx = _encConv.Backward(dh, needInputGrad);

        // Embedding MLP.
        var dPre = _b.Ensure(ref _dEmbPre, dEmb.Shape);
        _b.SiluBackward(_mapOut1!, dEmb, dPre);
        var dHidden = _map1.Backward(dPre)!;
        var dHiddenPre = _b.Ensure(ref _dEmbHidden, dHidden.Shape);
        _b.SiluBackward(_mapOut0!, dHidden, dHiddenPre);
        var dEmbIn = _map0.Backward(dHiddenPre, needInputGrad: _mapLabel is not null);
        _mapLabel?.Backward(dEmbIn!, needInputGrad: false);
        return dx;
    }

    public void Dispose() => Parameters.Dispose();
}
