"""Golden files for `catchup import` of the ADM reference's checkpoints, written by PyTorch's own torch.save.

Run from anywhere:  /usr/bin/python3 tests/golden/make_adm_pt_golden.py      (Debian's python3-torch)
Writes tests/golden/adm_pt/:
  adm_pt.json                          the config ("unet_type": "adm" + create_model keyword arguments)
  model000042.pt                       torch.save of a DistributedDataParallel model's state_dict() ('module.' keys),
                                       after .half() on two convolutions (input_blocks.0.0, out.2), as the reference's
                                       convert_to_fp16 does to the convolutions of a use_fp16 model
  ema_0.9999432189950708_000042.pt     torch.save(state_dict) of other float32 weights, under the file name
                                       cm/train_util.py gives the EMA of the paper's third rate at step 42
  expected.json                        per file and key (without 'module.'): [shape, dtype, sum, sum of (i + 1) * v_i]
                                       over the row-major elements v_i, in float64, from torch
The network is our port of the reference UNetModel (adm_ref.py). To keep the files small, every float32 parameter is a
view into one shared storage: torch.save writes a storage once, however many tensors view it. Deterministic.
"""

import collections
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from adm_ref import UNetModel  # noqa: E402

OUT = os.path.join(HERE, 'adm_pt')
CONFIG = dict(unet_type='adm', image_size=8, in_channels=1, num_channels=32, num_res_blocks=1, channel_mult='1',
              attention_resolutions='8', num_head_channels=16, class_cond=True, num_classes=10,
              use_scale_shift_norm=True, resblock_updown=True, dropout=0.0, prior_shakedrop=True, phi=0.75, predstep=2)
HALF = ('input_blocks.0.0', 'out.2')
STORAGE = 18500  # >= the largest parameter (64 -> 32 channels, 3x3: 18432 elements)


def shared_views(model, scale, gen):
    """Every parameter becomes a view into one float32 storage of randn * scale, at an offset of its own (the values
    need not make a sensible network: the test compares tensors, it does not run one)."""
    base = torch.randn(STORAGE, generator=gen, dtype=torch.float32) * scale
    for i, p in enumerate(model.parameters()):
        n = p.numel()
        offset = (i * 211) % (STORAGE - n + 1)
        p.data = base[offset:offset + n].view(p.shape)


def summary(sd):
    """Per tensor: shape, dtype, and in float64 the sum and the index-weighted sum (which a permutation changes)."""
    def one(v):
        flat = v.reshape(-1).double()
        weights = torch.arange(1, flat.numel() + 1, dtype=torch.float64)
        return [list(v.shape), str(v.dtype).replace('torch.', ''), flat.sum().item(), (flat * weights).sum().item()]
    return {k: one(v) for k, v in sd.items()}


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(42)
    kw = {k: v for k, v in CONFIG.items() if k != 'unet_type'}

    model = UNetModel(**kw)
    shared_views(model, 0.1, gen)
    for prefix in HALF:
        conv = model.get_submodule(prefix)
        conv.weight.data = conv.weight.data.half()
        conv.bias.data = conv.bias.data.half()
    ddp = collections.OrderedDict(('module.' + k, v) for k, v in model.state_dict().items())
    torch.save(ddp, os.path.join(OUT, 'model000042.pt'))

    ema = UNetModel(**kw)
    shared_views(ema, 0.05, gen)
    ema_name = 'ema_0.9999432189950708_000042.pt'
    torch.save(ema.state_dict(), os.path.join(OUT, ema_name))

    with open(os.path.join(OUT, 'adm_pt.json'), 'w') as f:
        json.dump(CONFIG, f, indent=2)
        f.write('\n')
    expected = {'model000042.pt': summary(model.state_dict()), ema_name: summary(ema.state_dict())}
    with open(os.path.join(OUT, 'expected.json'), 'w') as f:
        json.dump(expected, f, sort_keys=True, separators=(',', ':'))
        f.write('\n')
    for name in sorted(os.listdir(OUT)):
        print('%-36s %7d bytes' % (name, os.path.getsize(os.path.join(OUT, name))))


if __name__ == '__main__':
    main()
