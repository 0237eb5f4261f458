"""Generate the SongUNet golden files for the C# tests.

Run from anywhere:  /usr/bin/python3 tests/golden/make_golden.py
Writes next to this script:
  songunet_small.json, songunet_small_weights.safetensors, songunet_small_io.safetensors
  songunet_encoder.json, songunet_encoder_weights.safetensors, songunet_encoder_io.safetensors

Reference values are computed in float64 and stored as F32. Deterministic: re-running
produces identical bytes. Safetensors files are written by hand (no safetensors package).
"""

import json
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from songunet_ref import GroupNorm, SongUNet, count_params  # noqa: E402


# ----------------------------------------------------------------------------- safetensors

def write_safetensors(path, tensors, metadata=None):
    """tensors: {name: torch.Tensor}; stored as F32 (int64 tensors as I64), contiguous, little-endian, sorted by name."""
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach()
        is_int = t.dtype == torch.int64
        a = t.contiguous().cpu().numpy().astype('<i8' if is_int else '<f4', copy=False)
        b = a.tobytes(order='C')
        header[name] = {'dtype': 'I64' if is_int else 'F32', 'shape': list(a.shape), 'data_offsets': [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    if metadata:
        header['__metadata__'] = {str(k): str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(',', ':'), sort_keys=False).encode('utf-8')
    h += b' ' * ((-len(h)) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    return os.path.getsize(path)


def read_safetensors(path):
    """Minimal reader (used to self-check the writer)."""
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n).decode('utf-8'))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        b, e = info['data_offsets']
        out[name] = torch.from_numpy(np.frombuffer(data[b:e], dtype='<f4').reshape(info['shape']).copy())
    return out


# ----------------------------------------------------------------------------- helpers

REF_KEYS = ['img_resolution', 'in_channels', 'out_channels', 'model_channels', 'channel_mult',
            'channel_mult_emb', 'num_blocks', 'attn_resolutions', 'dropout', 'embedding_type',
            'channel_mult_noise', 'encoder_type', 'decoder_type', 'resample_filter',
            'prior_shakedrop', 'phi', 'extra_heads']


def full_config(**kw):
    cfg = dict(channel_mult_emb=4, dropout=0.0, embedding_type='positional', channel_mult_noise=1,
               encoder_type='standard', decoder_type='standard', resample_filter=[1, 1],
               prior_shakedrop=False, phi=0.75, extra_heads=0)
    cfg.update(kw)
    return {k: cfg[k] for k in REF_KEYS}


def randomize_(model, gen):
    """Overwrite every parameter: randn * 0.2 (GroupNorm weights: 1 + randn * 0.2)."""
    gn_weights = {id(m.weight) for m in model.modules() if isinstance(m, GroupNorm)}
    with torch.no_grad():
        for _, p in model.named_parameters():
            r = torch.randn(p.shape, generator=gen, dtype=torch.float64) * 0.2
            p.copy_(r + 1 if id(p) in gn_weights else r)


def build(cfg, gen):
    torch.manual_seed(0)
    model = SongUNet(**cfg)
    randomize_(model, gen)
    # Round weights to float32 first so that the float64 reference uses exactly the stored weights.
    model.float()
    return model.double().eval()


def write_json(path, obj):
    with open(path, 'w') as f:
        json.dump(obj, f, indent=2)
        f.write('\n')


def summarize(name, paths):
    for p in paths:
        print(f'  {os.path.basename(p)}: {os.path.getsize(p)} bytes')


def r32(t):
    """Round an input to float32 and back, so stored inputs reproduce the reference exactly."""
    return t.float().double()


# ----------------------------------------------------------------------------- goldens

def make_small():
    cfg = full_config(img_resolution=8, in_channels=2, out_channels=2, model_channels=8,
                      channel_mult=[1, 2, 2], channel_mult_emb=4, num_blocks=1,
                      attn_resolutions=[4], dropout=0.0, prior_shakedrop=True, phi=0.75,
                      extra_heads=2)
    gen = torch.Generator().manual_seed(0)
    model = build(cfg, gen)

    x = r32(torch.randn(3, 2, 8, 8, generator=gen, dtype=torch.float64))
    t = r32(torch.tensor([0.9, 0.35, 0.02], dtype=torch.float64))
    x.requires_grad_(True)
    v, features = model(x, t)
    head2 = model.heads[0](features)
    head3 = model.heads[1](features)
    target_v = r32(torch.randn(v.shape, generator=gen, dtype=torch.float64))
    target2 = r32(torch.randn(head2.shape, generator=gen, dtype=torch.float64))
    target3 = r32(torch.randn(head3.shape, generator=gen, dtype=torch.float64))
    target_f = r32(torch.randn(features.shape, generator=gen, dtype=torch.float64))
    loss = (((v - target_v) ** 2).mean() + ((head2 - target2) ** 2).mean()
            + ((head3 - target3) ** 2).mean() + (features * target_f).mean())
    names = [n for n, _ in model.named_parameters()]
    grads = torch.autograd.grad(loss, [x] + [p for _, p in model.named_parameters()])

    io = dict(x=x, t=t, target_v=target_v, target2=target2, target3=target3, target_f=target_f,
              v=v, features=features, head2=head2, head3=head3, grad_x=grads[0],
              loss=loss.reshape(1))
    io.update({f'grad.{n}': g for n, g in zip(names, grads[1:])})

    p_json = os.path.join(HERE, 'songunet_small.json')
    p_w = os.path.join(HERE, 'songunet_small_weights.safetensors')
    p_io = os.path.join(HERE, 'songunet_small_io.safetensors')
    write_json(p_json, cfg)
    meta = {'config': json.dumps(cfg, separators=(',', ':')),
            'loss': 'mean((v-target_v)^2)+mean((head2-target2)^2)+mean((head3-target3)^2)+mean(features*target_f)'}
    write_safetensors(p_w, model.state_dict(), {'config': meta['config']})
    write_safetensors(p_io, io, meta)
    check_roundtrip(p_w, model.state_dict())
    print(f'small: params={count_params(model)}  v[0,0,0,:3]={v[0, 0, 0, :3].tolist()}  loss={loss.item():.9g}')
    print(f'  |v|max={v.abs().max().item():.4g} |features|max={features.abs().max().item():.4g} '
          f'|head2|max={head2.abs().max().item():.4g} |grad_x|max={grads[0].abs().max().item():.4g}')
    summarize('small', [p_json, p_w, p_io])


def make_encoder():
    cfg = full_config(img_resolution=8, in_channels=2, out_channels=4, model_channels=8,
                      channel_mult=[1, 2], channel_mult_emb=4, num_blocks=1,
                      attn_resolutions=[], dropout=0.0, prior_shakedrop=False, phi=0.75,
                      extra_heads=0)
    gen = torch.Generator().manual_seed(1)
    model = build(cfg, gen)

    x = r32(torch.randn(3, 2, 8, 8, generator=gen, dtype=torch.float64))
    t = torch.ones(3, dtype=torch.float64)
    x.requires_grad_(True)
    v, _ = model(x, t)
    target_v = r32(torch.randn(v.shape, generator=gen, dtype=torch.float64))
    loss = ((v - target_v) ** 2).mean()
    names = [n for n, _ in model.named_parameters()]
    grads = torch.autograd.grad(loss, [x] + [p for _, p in model.named_parameters()])
    io = dict(x=x, t=t, target_v=target_v, v=v, grad_x=grads[0], loss=loss.reshape(1))
    io.update({f'grad.{n}': g for n, g in zip(names, grads[1:])})

    p_json = os.path.join(HERE, 'songunet_encoder.json')
    p_w = os.path.join(HERE, 'songunet_encoder_weights.safetensors')
    p_io = os.path.join(HERE, 'songunet_encoder_io.safetensors')
    write_json(p_json, cfg)
    cfg_s = json.dumps(cfg, separators=(',', ':'))
    write_safetensors(p_w, model.state_dict(), {'config': cfg_s})
    write_safetensors(p_io, io, {'config': cfg_s, 'loss': 'mean((v-target_v)^2)'})
    check_roundtrip(p_w, model.state_dict())
    print(f'encoder: params={count_params(model)}  v[0,0,0,:3]={v[0, 0, 0, :3].tolist()}  loss={loss.item():.9g}')
    summarize('encoder', [p_json, p_w, p_io])


def check_roundtrip(path, sd):
    back = read_safetensors(path)
    assert sorted(back) == sorted(sd), 'key mismatch'
    for k, v in sd.items():
        assert torch.equal(back[k], v.float()), k


def paper_param_counts():
    mnist = dict(img_resolution=28, in_channels=1, out_channels=1, model_channels=32,
                 channel_mult=[2, 2, 2], num_blocks=2, attn_resolutions=[], dropout=0.13,
                 prior_shakedrop=True, phi=0.75)
    cifar = dict(img_resolution=32, in_channels=3, out_channels=3, model_channels=128,
                 channel_mult=[2, 2, 2], num_blocks=4, attn_resolutions=[16], dropout=0.13,
                 prior_shakedrop=True, phi=0.75)
    torch.manual_seed(0)
    n_m = count_params(SongUNet(**mnist))
    n_c = count_params(SongUNet(**cifar))
    print(f'sanity: MNIST paper config params = {n_m} ({n_m / 1e6:.2f}M, SPEC 2.16M); '
          f'CIFAR-10 paper config params = {n_c} ({n_c / 1e6:.1f}M, SPEC 55.7M)')


if __name__ == '__main__':
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    make_small()
    make_encoder()
    paper_param_counts()
