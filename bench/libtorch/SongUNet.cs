// The CatchUp velocity network (SongUNet, SPEC section 5) in TorchSharp: a line-by-line port of
// tests/golden/songunet_ref.py, the module that bench/pytorch/bench_unet.py times, with the same ops in the same order
// (the resampling as grouped conv / conv_transpose with the [1,1] filter, bias as a separate add, attention as einsum),
// so that both PyTorch sides run the same graph. Only what the MNIST paper config needs: positional embedding,
// "standard" encoder/decoder, no extra heads, no class labels.
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace CatchUp.LibTorchBench;

/// <summary>How the 64->1 output convolution (dec.RxR_aux_conv) is computed.</summary>
public enum AuxConv
{
    /// <summary>One conv2d with 1 output channel, as the Python reference does (oneDNN's backward-data is wrong for it).</summary>
    Plain,
    /// <summary>Weight zero-padded to 16 output channels, conv2d, then channel 0 kept (the workaround; same values, 16x that conv's FLOPs).</summary>
    Pad16,
}

public sealed record UNetConfig(int ImgResolution, int InChannels, int OutChannels, int ModelChannels, int[] ChannelMult,
    int ChannelMultEmb, int NumBlocks, int[] AttnResolutions, double Dropout, bool DynamicSkip, double Phi)
{
    /// <summary>"mnist-paper": 2,155,201 parameters.</summary>
    public static readonly UNetConfig MnistPaper = new(28, 1, 1, 32, [2, 2, 2], 4, 2, [], 0.13, true, 0.75);

    /// <summary>forward_flops_per_sample of songunet_ref.py: 2 FLOPs per multiply-add of every conv, Linear and attention product.</summary>
    public long ForwardFlopsPerSample()
    {
        int R = ImgResolution, C = ModelChannels, NB = NumBlocks, E = C * ChannelMultEmb, Cn = C;
        long total = 2L * Cn * E + 2L * E * E;
        static long Conv(long cin, long cout, long k, long res) => 2 * cout * cin * k * k * res * res;
        long Block(long cin, long cout, long resIn, bool up = false, bool down = false, bool attention = false)
        {
            long r = up ? resIn * 2 : down ? resIn / 2 : resIn;
            long f = Conv(cin, cout, 3, r) + 2L * E * cout + Conv(cout, cout, 3, r);
            if (cin != cout || up || down) f += Conv(cin, cout, 1, r);
            if (attention)
            {
                long P = r * r;
                f += Conv(cout, 3 * cout, 1, r) + 2 * 2 * cout * P * P + Conv(cout, cout, 1, r);
            }
            return f;
        }
        var skips = new Stack<long>();
        long c = InChannels;
        for (int level = 0; level < ChannelMult.Length; level++)
        {
            int res = R >> level;
            if (level == 0) { total += Conv(c, C, 3, res); c = C; }
            else total += Block(c, c, res * 2, down: true);
            skips.Push(c);
            for (int i = 0; i < NB; i++)
            {
                total += Block(c, C * ChannelMult[level], res, attention: AttnResolutions.Contains(res));
                c = C * ChannelMult[level];
                skips.Push(c);
            }
        }
        for (int level = ChannelMult.Length - 1; level >= 0; level--)
        {
            int res = R >> level;
            if (level == ChannelMult.Length - 1) total += Block(c, c, res, attention: true) + Block(c, c, res);
            else total += Block(c, c, res / 2, up: true);
            for (int idx = 0; idx <= NB; idx++)
            {
                long cin = c + skips.Pop();
                total += Block(cin, C * ChannelMult[level], res, attention: idx == NB && AttnResolutions.Contains(res));
                c = C * ChannelMult[level];
            }
            if (level == 0) total += Conv(c, OutChannels, 3, res);
        }
        return total;
    }
}

/// <summary>Parameters in registration order (the order of PyTorch's model.parameters()), in one dtype.</summary>
public sealed class ParamStore(ScalarType dtype)
{
    public readonly ScalarType DType = dtype;
    public readonly List<(string Name, Parameter P)> All = [];

    public Parameter Add(string name, Tensor value)
    {
        var p = new Parameter(value.to_type(DType).detach(), requires_grad: true);
        All.Add((name, p));
        return p;
    }

    /// <summary>Xavier-uniform as weight_init: sqrt(6 / (fan_in + fan_out)) * U(-1, 1), times init_weight.</summary>
    public Parameter Init(string name, long[] shape, long fanIn, long fanOut, double initWeight)
    {
        using var u = torch.rand(shape) * 2 - 1;
        using var w = u * (Math.Sqrt(6.0 / (fanIn + fanOut)) * initWeight);
        return Add(name, w);
    }

    public Parameter Get(string name) => All.First(e => e.Name == name).P;
}

internal static class Init
{
    public const double One = 1.0, Zero = 1e-5;
    public static readonly double Attn = Math.Sqrt(0.2);
}

public sealed class Linear
{
    readonly Parameter _w, _b;

    public Linear(ParamStore ps, string name, int inF, int outF, double initWeight)
    {
        _w = ps.Init(name + ".weight", [outF, inF], inF, outF, initWeight);
        _b = ps.Add(name + ".bias", torch.zeros(outF));
    }

    public Tensor Forward(Tensor x) => x.matmul(_w.t()) + _b;
}

/// <summary>Optional 2x resampling with filter [1,1] (nearest up / 2x2 average down), then k x k conv (padding k/2), then bias.</summary>
public sealed class Conv2d
{
    readonly int _cin;
    readonly bool _up, _down;
    readonly Parameter? _w, _b;
    readonly Tensor? _upFilter, _downFilter;   // the resample_filter buffers, tiled per channel (constants)
    public AuxConv Mode = AuxConv.Plain;

    public Conv2d(ParamStore ps, string name, int cin, int cout, int kernel, double initWeight, bool up = false, bool down = false)
    {
        (_cin, _up, _down) = (cin, up, down);
        if (kernel > 0)
        {
            _w = ps.Init(name + ".weight", [cout, cin, kernel, kernel], cin * kernel * kernel, cout * kernel * kernel, initWeight);
            _b = ps.Add(name + ".bias", torch.zeros(cout));
        }
        // f = outer([1,1],[1,1]) / 4 = 0.25 (1x1x2x2); up uses f*4 tiled, down f tiled (as EDM / songunet_ref.py).
        if (up) _upFilter = torch.full([cin, 1, 2, 2], 1.0, dtype: ps.DType);
        if (down) _downFilter = torch.full([cin, 1, 2, 2], 0.25, dtype: ps.DType);
    }

    /// <summary>k x k convolution, stride 1, padding k/2, no bias. Pad16: output channels zero-padded to a multiple of 16
    /// (the weight is padded inside the graph, so its gradient is the gradient of the first rows), then sliced back.</summary>
    public static Tensor Conv(Tensor x, Tensor w, AuxConv mode)
    {
        long cout = w.shape[0], pad = w.shape[3] / 2;
        if (mode == AuxConv.Pad16 && cout % 16 != 0)
        {
            long padded = (cout + 15) / 16 * 16;
            var w16 = F.pad(w, [0, 0, 0, 0, 0, 0, 0, padded - cout]);   // zero weights for output channels cout..padded-1
            return F.conv2d(x, w16, padding: [pad, pad]).narrow(1, 0, cout);
        }
        return F.conv2d(x, w, padding: [pad, pad]);
    }

    public Tensor Forward(Tensor x)
    {
        if (_up) x = F.conv_transpose2d(x, _upFilter!, strides: [2, 2], padding: [0, 0], groups: _cin);
        if (_down) x = F.conv2d(x, _downFilter!, strides: [2, 2], padding: [0, 0], groups: _cin);
        if (_w is not null)
        {
            x = Conv(x, _w, Mode);
        }
        if (_b is not null) x = x + _b.reshape(1, -1, 1, 1);
        return x;
    }
}

/// <summary>groups = max(min(32, C / 4), 1); affine weight ones, bias zeros.</summary>
public sealed class GroupNorm
{
    readonly int _groups;
    readonly double _eps;
    readonly Parameter _w, _b;

    public GroupNorm(ParamStore ps, string name, int channels, double eps)
    {
        _groups = Math.Max(Math.Min(32, channels / 4), 1);
        _eps = eps;
        _w = ps.Add(name + ".weight", torch.ones(channels));
        _b = ps.Add(name + ".bias", torch.zeros(channels));
    }

    public Tensor Forward(Tensor x) => F.group_norm(x, _groups, _w, _b, _eps);
}

/// <summary>DDPM++ residual block (EDM UNetBlock: adaptive_scale=False, resample_proj=True, one head, skip_scale sqrt(0.5), eps 1e-6).</summary>
public sealed class UNetBlock
{
    public readonly int InChannels, OutChannels;
    readonly bool _attention;
    readonly double _dropout, _skipScale = Math.Sqrt(0.5);
    readonly GroupNorm _norm0, _norm1;
    readonly GroupNorm? _norm2;
    readonly Conv2d _conv0, _conv1;
    readonly Conv2d? _skip, _qkv, _proj;
    readonly Linear _affine;

    public UNetBlock(ParamStore ps, string name, int cin, int cout, int emb, double dropout, bool up = false, bool down = false, bool attention = false)
    {
        (InChannels, OutChannels, _attention, _dropout) = (cin, cout, attention, dropout);
        const double eps = 1e-6;
        _norm0 = new GroupNorm(ps, name + ".norm0", cin, eps);
        _conv0 = new Conv2d(ps, name + ".conv0", cin, cout, 3, Init.One, up, down);
        _affine = new Linear(ps, name + ".affine", emb, cout, Init.One);
        _norm1 = new GroupNorm(ps, name + ".norm1", cout, eps);
        _conv1 = new Conv2d(ps, name + ".conv1", cout, cout, 3, Init.Zero);
        if (cout != cin || up || down) _skip = new Conv2d(ps, name + ".skip", cin, cout, 1, Init.One, up, down);
        if (attention)
        {
            _norm2 = new GroupNorm(ps, name + ".norm2", cout, eps);
            _qkv = new Conv2d(ps, name + ".qkv", cout, cout * 3, 1, Init.Attn);
            _proj = new Conv2d(ps, name + ".proj", cout, cout, 1, Init.Zero);
        }
    }

    public Tensor Forward(Tensor x, Tensor emb, bool training)
    {
        var orig = x;
        x = _conv0.Forward(F.silu(_norm0.Forward(x)));
        var p = _affine.Forward(emb).unsqueeze(2).unsqueeze(3);
        x = F.silu(_norm1.Forward(x + p));
        x = _conv1.Forward(F.dropout(x, _dropout, training));
        x = x + (_skip is not null ? _skip.Forward(orig) : orig);
        x = x * _skipScale;
        if (_attention)
        {
            long n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
            var qkv = _qkv!.Forward(_norm2!.Forward(x)).reshape(n, c, 3, h * w).unbind(2);
            var wts = torch.einsum("ncq,nck->nqk", qkv[0], qkv[1] / Math.Sqrt(c)).softmax(2);
            var a = torch.einsum("nqk,nck->ncq", wts, qkv[2]);
            x = _proj!.Forward(a.reshape(n, c, h, w)) + x;
            x = x * _skipScale;
        }
        return x;
    }
}

/// <summary>SongUNet with dynamic skip connections; Forward returns v (features are not needed by the bench).</summary>
public sealed class SongUNet
{
    public readonly UNetConfig Cfg;
    public readonly ParamStore Params;
    readonly Linear _map0, _map1;
    readonly List<(string Name, object Block)> _enc = [], _dec = [];
    readonly Conv2d _auxConv;
    public bool Training = true;

    public SongUNet(UNetConfig cfg, ScalarType dtype = ScalarType.Float32)
    {
        Cfg = cfg;
        Params = new ParamStore(dtype);
        var ps = Params;
        int emb = cfg.ModelChannels * cfg.ChannelMultEmb, noise = cfg.ModelChannels;
        _map0 = new Linear(ps, "map_layer0", noise, emb, Init.One);
        _map1 = new Linear(ps, "map_layer1", emb, emb, Init.One);

        int cout = cfg.InChannels;
        for (int level = 0; level < cfg.ChannelMult.Length; level++)
        {
            int res = cfg.ImgResolution >> level;
            if (level == 0)
            {
                int cin = cout; cout = cfg.ModelChannels;
                _enc.Add(($"{res}x{res}_conv", new Conv2d(ps, $"enc.{res}x{res}_conv", cin, cout, 3, Init.One)));
            }
            else
                _enc.Add(($"{res}x{res}_down", new UNetBlock(ps, $"enc.{res}x{res}_down", cout, cout, emb, cfg.Dropout, down: true)));
            for (int idx = 0; idx < cfg.NumBlocks; idx++)
            {
                int cin = cout; cout = cfg.ModelChannels * cfg.ChannelMult[level];
                _enc.Add(($"{res}x{res}_block{idx}", new UNetBlock(ps, $"enc.{res}x{res}_block{idx}", cin, cout, emb, cfg.Dropout,
                    attention: cfg.AttnResolutions.Contains(res))));
            }
        }
        var skips = new Stack<int>(_enc.Select(e => e.Block is UNetBlock b ? b.OutChannels : cfg.ModelChannels));

        Conv2d? aux = null;
        for (int level = cfg.ChannelMult.Length - 1; level >= 0; level--)
        {
            int res = cfg.ImgResolution >> level;
            if (level == cfg.ChannelMult.Length - 1)
            {
                _dec.Add(($"{res}x{res}_in0", new UNetBlock(ps, $"dec.{res}x{res}_in0", cout, cout, emb, cfg.Dropout, attention: true)));
                _dec.Add(($"{res}x{res}_in1", new UNetBlock(ps, $"dec.{res}x{res}_in1", cout, cout, emb, cfg.Dropout)));
            }
            else
                _dec.Add(($"{res}x{res}_up", new UNetBlock(ps, $"dec.{res}x{res}_up", cout, cout, emb, cfg.Dropout, up: true)));
            for (int idx = 0; idx <= cfg.NumBlocks; idx++)
            {
                int cin = cout + skips.Pop(); cout = cfg.ModelChannels * cfg.ChannelMult[level];
                _dec.Add(($"{res}x{res}_block{idx}", new UNetBlock(ps, $"dec.{res}x{res}_block{idx}", cin, cout, emb, cfg.Dropout,
                    attention: idx == cfg.NumBlocks && cfg.AttnResolutions.Contains(res))));
            }
            if (level == 0)
            {
                _dec.Add(($"{res}x{res}_aux_norm", new GroupNorm(ps, $"dec.{res}x{res}_aux_norm", cout, 1e-6)));
                aux = new Conv2d(ps, $"dec.{res}x{res}_aux_conv", cout, cfg.OutChannels, 3, Init.Zero);
                _dec.Add(($"{res}x{res}_aux_conv", aux));
            }
        }
        _auxConv = aux!;
    }

    public AuxConv AuxConvMode { get => _auxConv.Mode; set => _auxConv.Mode = value; }

    public IEnumerable<Parameter> Parameters() => Params.All.Select(e => e.P);

    public long CountParams() => Params.All.Sum(e => e.P.numel());

    /// <summary>Copies the parameter values of <paramref name="src"/> (same config, any dtype).</summary>
    public void LoadFrom(SongUNet src)
    {
        using var _ = torch.no_grad();
        foreach (var ((n, p), (m, q)) in Params.All.Zip(src.Params.All))
        {
            if (n != m) throw new InvalidOperationException($"parameter order differs: {n} vs {m}");
            p.copy_(q);
        }
    }

    static Tensor PositionalEmbedding(Tensor t, int channels)
    {
        // freqs_i = (1/10000)^(i / (C/2 - 1)); [sin, cos] of t x freqs.
        var freqs = torch.arange(0, channels / 2, dtype: t.dtype) / (channels / 2 - 1);
        freqs = torch.pow(1.0 / 10000, freqs);
        var x = t.outer(freqs);
        return torch.cat([x.sin(), x.cos()], 1);
    }

    /// <summary>x: [N, in, R, R]; t: [N]. Returns v: [N, out, R, R].</summary>
    public Tensor Forward(Tensor x, Tensor t)
    {
        var emb = PositionalEmbedding(t, Cfg.ModelChannels);
        emb = F.silu(_map0.Forward(emb));
        emb = F.silu(_map1.Forward(emb));

        var skips = new Stack<Tensor>();
        foreach (var (_, block) in _enc)
        {
            x = block is UNetBlock b ? b.Forward(x, emb, Training) : ((Conv2d)block).Forward(x);
            skips.Push(x);
        }

        Tensor pos, neg;
        if (Cfg.DynamicSkip)
        {
            var phiT = (t * (1 - 2 * Cfg.Phi) + Cfg.Phi).reshape(-1, 1, 1, 1);
            pos = 2 * phiT;
            neg = 2 * (1 - phiT);
        }
        else
        {
            pos = torch.ones(1, dtype: x.dtype);
            neg = torch.ones(1, dtype: x.dtype);
        }
        Tensor? outp = null;
        foreach (var (name, block) in _dec)
        {
            if (name.EndsWith("aux_norm")) outp = ((GroupNorm)block).Forward(x);
            else if (name.EndsWith("aux_conv")) outp = ((Conv2d)block).Forward(F.silu(outp!));
            else
            {
                var b = (UNetBlock)block;
                if (x.shape[1] != b.InChannels) x = torch.cat([x * pos, skips.Pop() * neg], 1);
                x = b.Forward(x, emb, Training);
            }
        }
        return outp!;
    }
}
