"""PyTorch reference of the CatchUp velocity network (SPEC.md section 5).

A compact SongUNet (DDPM++ layout, as in NVlabs EDM ``training/networks.py``) with the
Catch-Up Distillation "dynamic skip connections" (``prior_shakedrop``) and the optional
extra output heads used by the Runge-Kutta 23 / 34 variants.

Parameter and buffer names match the reference implementation exactly, e.g.
``map_layer0.weight``, ``enc.28x28_conv.bias``, ``enc.14x14_down.skip.resample_filter``,
``dec.7x7_in0.qkv.weight``, ``dec.28x28_aux_conv.weight``, ``heads.0.block.2.weight``.

Only what the "standard" encoder/decoder with positional embedding and resample filter
[1, 1] needs is implemented (label/augment conditioning, Fourier embedding, "skip" and
"residual" encoder/decoder types and fused resampling are left out).

Differences from EDM that matter only numerically: the attention is computed in the
input dtype (EDM casts q, k to float32), and the positional-embedding frequencies are
computed in the input dtype, so that a float64 model gives float64-accurate references.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F


def weight_init(shape, fan_in, fan_out):
    """Xavier-uniform: sqrt(6 / (fan_in + fan_out)) * U(-1, 1)."""
    return np.sqrt(6 / (fan_in + fan_out)) * (torch.rand(*shape) * 2 - 1)


INIT = dict(init_weight=1.0)
INIT_ZERO = dict(init_weight=1e-5)
INIT_ATTN = dict(init_weight=np.sqrt(0.2))


def silu(x):
    return F.silu(x)


class Linear(torch.nn.Module):
    """y = x W^T + b, W is [out, in]."""

    def __init__(self, in_features, out_features, bias=True, init_weight=1.0):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = torch.nn.Parameter(
            weight_init([out_features, in_features], in_features, out_features) * init_weight)
        self.bias = torch.nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x):
        x = x @ self.weight.to(x.dtype).t()
        if self.bias is not None:
            x = x + self.bias.to(x.dtype)
        return x


class Conv2d(torch.nn.Module):
    """Optional 2x resampling (filter [1,1]: nearest up / 2x2 average down), then a
    k x k convolution with padding k // 2, then bias. kernel == 0: resample only.

    Resampling convs carry the buffer ``resample_filter`` = outer([1,1],[1,1]) / 4,
    shape [1, 1, 2, 2], value 0.25 (exactly as EDM)."""

    def __init__(self, in_channels, out_channels, kernel, bias=True, up=False, down=False,
                 resample_filter=(1, 1), init_weight=1.0):
        assert not (up and down)
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel = kernel
        self.up = up
        self.down = down
        fan_in, fan_out = in_channels * kernel * kernel, out_channels * kernel * kernel
        self.weight = torch.nn.Parameter(
            weight_init([out_channels, in_channels, kernel, kernel], fan_in, fan_out) * init_weight) if kernel else None
        self.bias = torch.nn.Parameter(torch.zeros(out_channels)) if kernel and bias else None
        f = torch.as_tensor(resample_filter, dtype=torch.float32)
        f = f.ger(f).unsqueeze(0).unsqueeze(1) / f.sum().square()
        self.register_buffer('resample_filter', f if up or down else None)

    def forward(self, x):
        w = self.weight.to(x.dtype) if self.weight is not None else None
        b = self.bias.to(x.dtype) if self.bias is not None else None
        f = self.resample_filter.to(x.dtype) if self.resample_filter is not None else None
        w_pad = w.shape[-1] // 2 if w is not None else 0
        f_pad = (f.shape[-1] - 1) // 2 if f is not None else 0
        if self.up:   # with filter [1,1]: nearest-neighbour 2x upsampling
            x = F.conv_transpose2d(x, f.mul(4).tile([self.in_channels, 1, 1, 1]),
                                   groups=self.in_channels, stride=2, padding=f_pad)
        if self.down:  # with filter [1,1]: 2x2 average pooling, stride 2
            x = F.conv2d(x, f.tile([self.in_channels, 1, 1, 1]),
                         groups=self.in_channels, stride=2, padding=f_pad)
        if w is not None:
            x = F.conv2d(x, w, padding=w_pad)
        if b is not None:
            x = x + b.reshape(1, -1, 1, 1)
        return x


class GroupNorm(torch.nn.Module):
    """groups = max(min(32, C // 4), 1); affine weight (ones) and bias (zeros)."""

    def __init__(self, num_channels, num_groups=32, min_channels_per_group=4, eps=1e-5):
        super().__init__()
        self.num_groups = max(min(num_groups, num_channels // min_channels_per_group), 1)
        self.eps = eps
        self.weight = torch.nn.Parameter(torch.ones(num_channels))
        self.bias = torch.nn.Parameter(torch.zeros(num_channels))

    def forward(self, x):
        return F.group_norm(x, num_groups=self.num_groups, weight=self.weight.to(x.dtype),
                            bias=self.bias.to(x.dtype), eps=self.eps)


class UNetBlock(torch.nn.Module):
    """DDPM++ residual block (EDM UNetBlock with adaptive_scale=False, resample_proj=True,
    num_heads=1, skip_scale=sqrt(0.5), eps=1e-6)."""

    def __init__(self, in_channels, out_channels, emb_channels, up=False, down=False,
                 attention=False, dropout=0.0, skip_scale=np.sqrt(0.5), eps=1e-6,
                 resample_filter=(1, 1)):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.emb_channels = emb_channels
        self.attention = attention
        self.dropout = dropout
        self.skip_scale = skip_scale

        self.norm0 = GroupNorm(in_channels, eps=eps)
        self.conv0 = Conv2d(in_channels, out_channels, kernel=3, up=up, down=down,
                            resample_filter=resample_filter, **INIT)
        self.affine = Linear(emb_channels, out_channels, **INIT)
        self.norm1 = GroupNorm(out_channels, eps=eps)
        self.conv1 = Conv2d(out_channels, out_channels, kernel=3, **INIT_ZERO)

        self.skip = None
        if out_channels != in_channels or up or down:
            # resample_proj=True: always a 1x1 conv, carrying the up/down.
            self.skip = Conv2d(in_channels, out_channels, kernel=1, up=up, down=down,
                               resample_filter=resample_filter, **INIT)

        if attention:
            self.norm2 = GroupNorm(out_channels, eps=eps)
            self.qkv = Conv2d(out_channels, out_channels * 3, kernel=1, **INIT_ATTN)
            self.proj = Conv2d(out_channels, out_channels, kernel=1, **INIT_ZERO)

    def forward(self, x, emb):
        orig = x
        x = self.conv0(silu(self.norm0(x)))
        params = self.affine(emb).unsqueeze(2).unsqueeze(3).to(x.dtype)
        x = silu(self.norm1(x + params))
        x = self.conv1(F.dropout(x, p=self.dropout, training=self.training))
        x = x + (self.skip(orig) if self.skip is not None else orig)
        x = x * self.skip_scale

        if self.attention:
            n, c, h, w = x.shape
            # One head; channel 3c+0 = q_c, 3c+1 = k_c, 3c+2 = v_c.
            q, k, v = self.qkv(self.norm2(x)).reshape(n, c, 3, h * w).unbind(2)
            wts = torch.einsum('ncq,nck->nqk', q, k / math.sqrt(c)).softmax(dim=2)
            a = torch.einsum('nqk,nck->ncq', wts, v)
            x = self.proj(a.reshape(n, c, h, w)) + x
            x = x * self.skip_scale
        return x


class PositionalEmbedding(torch.nn.Module):
    """freqs_i = (1/max_positions)^(i / (C/2 - 1)) (endpoint=True); output [sin, cos]."""

    def __init__(self, num_channels, max_positions=10000, endpoint=True):
        super().__init__()
        self.num_channels = num_channels
        self.max_positions = max_positions
        self.endpoint = endpoint

    def forward(self, x):
        freqs = torch.arange(start=0, end=self.num_channels // 2, dtype=x.dtype, device=x.device)
        freqs = freqs / (self.num_channels // 2 - (1 if self.endpoint else 0))
        freqs = (1 / self.max_positions) ** freqs
        x = x.ger(freqs)
        # EDM computes [cos, sin] and then SongUNet flips the halves: sin half first.
        return torch.cat([x.sin(), x.cos()], dim=1)


class Head(torch.nn.Module):
    """Extra output head j (j = 2, 3): GroupNorm -> SiLU -> Conv3x3 (init_zero).
    Keys: heads.{j-2}.block.0.weight|bias, heads.{j-2}.block.2.weight|bias."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.block = torch.nn.Sequential(
            GroupNorm(in_channels, eps=1e-6),
            torch.nn.SiLU(),
            Conv2d(in_channels, out_channels, kernel=3, **INIT_ZERO),
        )

    def forward(self, features):
        return self.block(features)


class SongUNet(torch.nn.Module):
    def __init__(self, img_resolution, in_channels, out_channels, model_channels=128,
                 channel_mult=(1, 2, 2, 2), channel_mult_emb=4, num_blocks=4,
                 attn_resolutions=(16,), dropout=0.10, embedding_type='positional',
                 channel_mult_noise=1, encoder_type='standard', decoder_type='standard',
                 resample_filter=(1, 1), prior_shakedrop=False, phi=0.75, extra_heads=0,
                 dynamic_skip=None, **unused):
        assert embedding_type == 'positional'
        assert encoder_type == 'standard' and decoder_type == 'standard'
        assert list(resample_filter) == [1, 1]
        super().__init__()
        if dynamic_skip is not None:  # alias
            prior_shakedrop = dynamic_skip
        self.img_resolution = img_resolution
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.prior_shakedrop = bool(prior_shakedrop)
        self.phi = float(phi)
        emb_channels = model_channels * channel_mult_emb
        noise_channels = model_channels * channel_mult_noise
        bk = dict(emb_channels=emb_channels, dropout=dropout, resample_filter=resample_filter)

        # Mapping.
        self.map_noise = PositionalEmbedding(noise_channels, endpoint=True)
        self.map_layer0 = Linear(noise_channels, emb_channels, **INIT)
        self.map_layer1 = Linear(emb_channels, emb_channels, **INIT)

        # Encoder.
        self.enc = torch.nn.ModuleDict()
        cout = in_channels
        for level, mult in enumerate(channel_mult):
            res = img_resolution >> level
            if level == 0:
                cin, cout = cout, model_channels
                self.enc[f'{res}x{res}_conv'] = Conv2d(cin, cout, kernel=3, **INIT)
            else:
                self.enc[f'{res}x{res}_down'] = UNetBlock(cout, cout, down=True, **bk)
            for idx in range(num_blocks):
                cin, cout = cout, model_channels * mult
                self.enc[f'{res}x{res}_block{idx}'] = UNetBlock(
                    cin, cout, attention=(res in attn_resolutions), **bk)
        skips = [blk.out_channels for blk in self.enc.values()]

        # Decoder.
        self.dec = torch.nn.ModuleDict()
        for level, mult in reversed(list(enumerate(channel_mult))):
            res = img_resolution >> level
            if level == len(channel_mult) - 1:
                self.dec[f'{res}x{res}_in0'] = UNetBlock(cout, cout, attention=True, **bk)
                self.dec[f'{res}x{res}_in1'] = UNetBlock(cout, cout, **bk)
            else:
                self.dec[f'{res}x{res}_up'] = UNetBlock(cout, cout, up=True, **bk)
            for idx in range(num_blocks + 1):
                cin, cout = cout + skips.pop(), model_channels * mult
                self.dec[f'{res}x{res}_block{idx}'] = UNetBlock(
                    cin, cout, attention=(idx == num_blocks and res in attn_resolutions), **bk)
            if level == 0:
                self.dec[f'{res}x{res}_aux_norm'] = GroupNorm(cout, eps=1e-6)
                self.dec[f'{res}x{res}_aux_conv'] = Conv2d(cout, out_channels, kernel=3, **INIT_ZERO)
        self.feature_channels = cout

        # Extra heads (RK23: 1, RK34: 2), fed with `features`.
        self.heads = torch.nn.ModuleList([Head(cout, out_channels) for _ in range(extra_heads)])

    def skip_weights(self, t):
        """Dynamic skip (Eq. 6): phi_t = t(1-2phi)+phi; pos = 2 phi_t, neg = 2(1-phi_t)."""
        if not self.prior_shakedrop:
            return 1.0, 1.0
        phi_t = (t * (1 - 2 * self.phi) + self.phi).reshape(-1, 1, 1, 1)
        return 2 * phi_t, 2 * (1 - phi_t)

    def forward(self, x, t):
        """x: [N, in, R, R]; t: [N] (the noise label is t itself). Returns (v, features)."""
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        if t.ndim == 0:
            t = t.expand(x.shape[0])
        emb = self.map_noise(t)
        emb = silu(self.map_layer0(emb))
        emb = silu(self.map_layer1(emb))

        # Encoder.
        skips = []
        for block in self.enc.values():
            x = block(x, emb) if isinstance(block, UNetBlock) else block(x)
            skips.append(x)

        # Decoder.
        pos, neg = self.skip_weights(t)
        features = out = None
        for name, block in self.dec.items():
            if name.endswith('aux_norm'):
                features = x
                out = block(x)
            elif name.endswith('aux_conv'):
                out = block(silu(out))
            else:
                if x.shape[1] != block.in_channels:
                    x = torch.cat([x * pos, skips.pop() * neg], dim=1)
                x = block(x, emb)
        return out, features


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def forward_flops_per_sample(cfg):
    """Analytic multiply-add FLOPs (2 per MAC) of one forward pass for one sample.

    Counted: every convolution 2*Cout*Cin*k*k*Hout*Wout (Hout/Wout = the conv's output size,
    i.e. after the up/down resampling that precedes it; 1x1 skip/qkv/proj convs included),
    every Linear 2*in*out (map_layer0, map_layer1, each block's affine), and attention
    2*2*C*P*P (q^T k and w v, P = H*W). Not counted: norms, activations, resampling,
    softmax, elementwise ops, extra heads."""
    R = cfg['img_resolution']
    C = cfg['model_channels']
    mult = cfg['channel_mult']
    NB = cfg['num_blocks']
    attn = cfg.get('attn_resolutions', [])
    E = C * cfg.get('channel_mult_emb', 4)
    Cn = C * cfg.get('channel_mult_noise', 1)
    total = 2 * Cn * E + 2 * E * E

    def conv(cin, cout, k, res):
        return 2 * cout * cin * k * k * res * res

    def block(cin, cout, res_in, up=False, down=False, attention=False):
        r = res_in * 2 if up else res_in // 2 if down else res_in
        f = conv(cin, cout, 3, r) + 2 * E * cout + conv(cout, cout, 3, r)
        if cin != cout or up or down:
            f += conv(cin, cout, 1, r)
        if attention:
            P = r * r
            f += conv(cout, 3 * cout, 1, r) + 2 * 2 * cout * P * P + conv(cout, cout, 1, r)
        return f

    skips = []
    cout = cfg['in_channels']
    for level, m in enumerate(mult):
        res = R >> level
        if level == 0:
            total += conv(cout, C, 3, res)
            cout = C
        else:
            total += block(cout, cout, res * 2, down=True)
        skips.append(cout)
        for _ in range(NB):
            total += block(cout, C * m, res, attention=res in attn)
            cout = C * m
            skips.append(cout)
    for level, m in reversed(list(enumerate(mult))):
        res = R >> level
        if level == len(mult) - 1:
            total += block(cout, cout, res, attention=True) + block(cout, cout, res)
        else:
            total += block(cout, cout, res // 2, up=True)
        for idx in range(NB + 1):
            cin = cout + skips.pop()
            total += block(cin, C * m, res, attention=(idx == NB and res in attn))
            cout = C * m
        if level == 0:
            total += conv(cout, cfg['out_channels'], 3, res)
    return total
