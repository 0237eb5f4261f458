"""Generate the ADM UNetModel golden files for the C# tests from our float64 port (adm_ref.py).

Run from anywhere:  /usr/bin/python3 tests/golden/make_adm_golden.py
Writes next to this script, per variant V in (adm_cond, adm_heads):
  V.json (the config: "unet_type": "adm" + create_model keyword arguments), V_weights.safetensors (random weights
  under the reference's state_dict() names), V_io.safetensors (inputs, outputs, loss and every gradient).
Deterministic: re-running produces identical bytes.
"""

import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from adm_ref import UNetModel  # noqa: E402
from make_golden import r32, write_json, write_safetensors  # noqa: E402

VARIANTS = {
    # Conditional, scale-shift norm, ResBlock up/down, dynamic skip, predstep 3 (two generator heads), heads from
    # num_head_channels (2 heads of 16 at 32 channels, 4 at 64), attention at 16x16 and 8x8.
    'adm_cond': dict(unet_type='adm', image_size=16, num_channels=32, num_res_blocks=1, channel_mult='1,2',
                     learn_sigma=False, class_cond=True, num_classes=10, attention_resolutions='16,8',
                     num_heads=4, num_head_channels=16, num_heads_upsample=-1, use_scale_shift_norm=True,
                     dropout=0.1, resblock_updown=True, use_fp16=False, use_new_attention_order=False,
                     prior_shakedrop=True, phi=0.75, predstep=3),
    # Unconditional, plain (additive) embedding, heads from num_heads (2; 4 in the decoder via num_heads_upsample),
    # use_new_attention_order true, no dynamic skip, predstep 2, two input channels, and the convolution resampling
    # of resblock_updown false (Downsample: 3x3 stride 2; Upsample: nearest + 3x3).
    'adm_heads': dict(unet_type='adm', image_size=8, num_channels=32, num_res_blocks=1, channel_mult='1,1',
                      class_cond=False, attention_resolutions='8,4', num_heads=2, num_head_channels=-1,
                      num_heads_upsample=4, use_scale_shift_norm=False, dropout=0.0, resblock_updown=False,
                      use_new_attention_order=True, prior_shakedrop=False, predstep=2, in_channels=2),
}


def randomize_(model, gen):
    """Every parameter to randn * 0.2 (GroupNorm weights 1 + randn * 0.2; the embedding randn * 0.5)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=gen, dtype=torch.float64)
            if name.startswith('label_emb'):
                p.copy_(r * 0.5)
            elif p.dim() == 1 and name.endswith('.weight'):
                p.copy_(1 + 0.2 * r)
            else:
                p.copy_(0.2 * r)


def make(name, cfg):
    gen = torch.Generator().manual_seed(sum(map(ord, name)))
    kwargs = {k: v for k, v in cfg.items() if k != 'unet_type'}
    model = UNetModel(**kwargs)
    randomize_(model, gen)
    model = model.float().double().eval()  # weights exactly representable in float32; eval: no dropout
    b, c, s = 3, cfg.get('in_channels', 3), cfg['image_size']
    x = r32(torch.randn(b, c, s, s, generator=gen, dtype=torch.float64)).requires_grad_(True)
    t = r32(torch.tensor([0.93, 0.41, 0.03], dtype=torch.float64))
    y = torch.tensor([7, 0, 3], dtype=torch.int64) if cfg['class_cond'] else None
    v, features, heads = model(x, t, y)
    target_v = r32(torch.randn(v.shape, generator=gen, dtype=torch.float64))
    target_f = r32(torch.randn(features.shape, generator=gen, dtype=torch.float64))
    targets = [r32(torch.randn(h.shape, generator=gen, dtype=torch.float64)) for h in heads]
    loss = ((v - target_v) ** 2).mean() + (features * target_f).mean()
    for h, tg in zip(heads, targets):
        loss = loss + ((h - tg) ** 2).mean()
    names = [n for n, _ in model.named_parameters()]
    grads = torch.autograd.grad(loss, [x] + [p for _, p in model.named_parameters()])

    io = dict(x=x, t=t, v=v, features=features, target_v=target_v, target_f=target_f, grad_x=grads[0],
              loss=loss.reshape(1))
    if y is not None:
        io['y'] = y
    for j, (h, tg) in enumerate(zip(heads, targets)):
        io[f'head{j + 2}'] = h
        io[f'target{j + 2}'] = tg
    io.update({f'grad.{n}': g for n, g in zip(names, grads[1:])})

    paths = [os.path.join(HERE, f'{name}{suffix}') for suffix in ('.json', '_weights.safetensors', '_io.safetensors')]
    write_json(paths[0], cfg)
    write_safetensors(paths[1], dict(model.state_dict()), {'config': json.dumps(cfg, separators=(',', ':'))})
    write_safetensors(paths[2], io, {'loss': 'mean((v-target_v)^2)+mean(features*target_f)+sum_j mean((head_j-target_j)^2)'})
    n_params = sum(p.numel() for p in model.parameters())
    print(f'{name}: {n_params} parameters, {len(names)} tensors; ' +
          ', '.join(f'{os.path.basename(p)} {os.path.getsize(p)} B' for p in paths))


def paper_param_count():
    cfg = dict(image_size=64, num_channels=192, num_res_blocks=3, attention_resolutions='32,16,8', num_head_channels=64,
               class_cond=True, use_scale_shift_norm=True, resblock_updown=True, dropout=0.1)
    n = sum(p.numel() for p in UNetModel(**cfg).parameters())
    print(f'ImageNet 64x64 paper config: {n} parameters ({n / 1e6:.1f}M)')


if __name__ == '__main__':
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    for variant, config in VARIANTS.items():
        make(variant, config)
    paper_param_count()
