"""Our own float64 PyTorch port of the ADM UNetModel of Catch-Up-Distillation-ImageNet-64x64 (cm/unet.py, cm/nn.py,
create_model in cm/script_util.py), for the C# golden files. Written from the reference's structure, not copied;
no flash_attn / mpi4py: attention is the reference's default flash layout, qkv split as (three h d), computed exactly.

Module names (and so state_dict() keys) are the reference's: time_embed.{0,2}, label_emb, input_blocks.i.j,
middle_block.{0,1,2}, output_blocks.i.j, out.{0,2}, generator_list.i.block.{0,2}; ResBlock: in_layers.{0,2},
emb_layers.1, out_layers.{0,3}, skip_connection; AttentionBlock: norm, qkv, proj_out; Upsample: conv;
Downsample: op (3x3, stride 2).
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def gn32(channels):
    return nn.GroupNorm(32, channels, eps=1e-5)


def timestep_embedding(t, dim, max_period=10000):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=t.dtype) / half)
    args = t[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb


class ResBlock(nn.Module):
    def __init__(self, channels, emb_channels, dropout, out_channels=None, scale_shift=False, up=False, down=False):
        super().__init__()
        out_channels = out_channels or channels
        self.scale_shift = scale_shift
        self.up, self.down = up, down
        self.in_layers = nn.Sequential(gn32(channels), nn.SiLU(), nn.Conv2d(channels, out_channels, 3, padding=1))
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb_channels, (2 if scale_shift else 1) * out_channels))
        self.out_layers = nn.Sequential(gn32(out_channels), nn.SiLU(), nn.Dropout(dropout),
                                        nn.Conv2d(out_channels, out_channels, 3, padding=1))
        self.skip_connection = (nn.Identity() if out_channels == channels
                                else nn.Conv2d(channels, out_channels, 1))

    def resample(self, x):
        if self.up:
            return F.interpolate(x, scale_factor=2, mode='nearest')
        if self.down:
            return F.avg_pool2d(x, 2, 2)
        return x

    def forward(self, x, emb):
        h = self.in_layers[1](self.in_layers[0](x))
        h = self.in_layers[2](self.resample(h))
        x = self.resample(x)
        e = self.emb_layers(emb)[:, :, None, None]
        if self.scale_shift:
            scale, shift = e.chunk(2, dim=1)
            h = self.out_layers[0](h) * (1 + scale) + shift
            h = self.out_layers[3](self.out_layers[2](self.out_layers[1](h)))
        else:
            h = self.out_layers(h + e)
        return self.skip_connection(x) + h


class AttentionBlock(nn.Module):
    """Flash layout: qkv channels (three h d); softmax(q k^T / sqrt(d)) v; output channels (h d)."""

    def __init__(self, channels, num_heads=1, num_head_channels=-1):
        super().__init__()
        self.heads = num_heads if num_head_channels == -1 else channels // num_head_channels
        self.norm = gn32(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x):
        b, c, hh, ww = x.shape
        d = c // self.heads
        qkv = self.qkv(self.norm(x)).reshape(b, 3, self.heads, d, hh * ww)
        q, k, v = qkv[:, 0], qkv[:, 1], qkv[:, 2]                       # [b, heads, d, s]
        w = torch.softmax(torch.einsum('bhdt,bhds->bhts', q, k) / math.sqrt(d), dim=-1)
        a = torch.einsum('bhts,bhds->bhdt', w, v).reshape(b, c, hh, ww)
        return x + self.proj_out(a)


class Upsample(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2, mode='nearest'))


class Downsample(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.op = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x):
        return self.op(x)


class Seq(nn.ModuleList):
    def forward(self, x, emb):
        for m in self:
            x = m(x, emb) if isinstance(m, ResBlock) else m(x)
        return x


class MetaGenerator(nn.Module):
    def __init__(self, in_channel, out_channel):
        super().__init__()
        self.block = nn.Sequential(gn32(in_channel), nn.SiLU(), nn.Conv2d(in_channel, out_channel, 3, padding=1))

    def forward(self, x):
        return self.block(x)


DEFAULT_MULT = {512: (0.5, 1, 1, 2, 2, 4, 4), 256: (1, 1, 2, 2, 4, 4), 128: (1, 1, 2, 3, 4), 64: (1, 2, 3, 4),
                32: (1, 2, 3, 4)}


class UNetModel(nn.Module):
    """create_model(...) keyword arguments, plus in_channels and num_classes."""

    def __init__(self, image_size, num_channels, num_res_blocks, channel_mult='', learn_sigma=False, class_cond=False,
                 use_checkpoint=False, attention_resolutions='16', num_heads=1, num_head_channels=-1,
                 num_heads_upsample=-1, use_scale_shift_norm=False, dropout=0.0, resblock_updown=False,
                 use_fp16=False, use_new_attention_order=False, predstep=1, prior_shakedrop=False, phi=0.75,
                 in_channels=3, num_classes=1000):
        super().__init__()
        assert not learn_sigma
        mult = DEFAULT_MULT[image_size] if channel_mult == '' else tuple(int(m) for m in channel_mult.split(','))
        rates = [image_size // int(r) for r in attention_resolutions.split(',')]
        heads_up = num_heads if num_heads_upsample == -1 else num_heads_upsample
        mc, ted, out_ch = num_channels, 4 * num_channels, in_channels
        self.model_channels, self.prior_shakedrop, self.phi = mc, prior_shakedrop, phi
        self.class_cond = class_cond
        self.time_embed = nn.Sequential(nn.Linear(mc, ted), nn.SiLU(), nn.Linear(ted, ted))
        if class_cond:
            self.label_emb = nn.Embedding(num_classes, ted)

        def res(cin, cout, **kw):
            return ResBlock(cin, ted, dropout, cout, use_scale_shift_norm, **kw)

        def attn(ch, heads):
            return AttentionBlock(ch, heads, num_head_channels)

        ch = int(mult[0] * mc)
        self.input_blocks = nn.ModuleList([Seq([nn.Conv2d(in_channels, ch, 3, padding=1)])])
        skips, ds = [ch], 1
        for level, m in enumerate(mult):
            for _ in range(num_res_blocks):
                layers = [res(ch, int(m * mc))]
                ch = int(m * mc)
                if ds in rates:
                    layers.append(attn(ch, num_heads))
                self.input_blocks.append(Seq(layers))
                skips.append(ch)
            if level != len(mult) - 1:
                self.input_blocks.append(Seq([res(ch, ch, down=True) if resblock_updown else Downsample(ch)]))
                skips.append(ch)
                ds *= 2
        self.middle_block = Seq([res(ch, ch), attn(ch, num_heads), res(ch, ch)])
        self.output_blocks = nn.ModuleList()
        for level, m in list(enumerate(mult))[::-1]:
            for i in range(num_res_blocks + 1):
                layers = [res(ch + skips.pop(), int(m * mc))]
                ch = int(m * mc)
                if ds in rates:
                    layers.append(attn(ch, heads_up))
                if level and i == num_res_blocks:
                    layers.append(res(ch, ch, up=True) if resblock_updown else Upsample(ch))
                    ds //= 2
                self.output_blocks.append(Seq(layers))
        self.out = nn.Sequential(gn32(ch), nn.SiLU(), nn.Conv2d(int(mult[0] * mc), out_ch, 3, padding=1))
        self.generator_list = nn.ModuleList([MetaGenerator(ch, out_ch) for _ in range(predstep - 1)])

    def forward(self, x, t, y=None):
        """Returns (out, features, [generator outputs])."""
        assert (y is not None) == self.class_cond
        emb = self.time_embed(timestep_embedding(t, self.model_channels))
        if y is not None:
            emb = emb + self.label_emb(y)
        if self.prior_shakedrop:
            phi_t = t * (1 - 2 * self.phi) + self.phi
            pos, neg = (2 * phi_t).view(-1, 1, 1, 1), (2 * (1 - phi_t)).view(-1, 1, 1, 1)
        else:
            pos = neg = torch.ones_like(t).view(-1, 1, 1, 1)
        hs, h = [], x
        for block in self.input_blocks:
            h = block(h, emb)
            hs.append(h)
        h = self.middle_block(h, emb)
        for block in self.output_blocks:
            h = block(torch.cat([h * pos, hs.pop() * neg], dim=1), emb)
        return self.out(h), h, [g(h) for g in self.generator_list]
