"""Golden features for the C# FID Inception-v3 (src/CatchUp.Managed/Evaluation/Inception).

Run from anywhere:  /usr/bin/python3 tests/golden/inception/make_inception_golden.py
Needs Debian's python3-torch and python3-torchvision (apt-get install -y python3-torch python3-torchvision).
Writes inception_golden.safetensors next to this script. With --write-weights PATH it also writes the hash-generated
weights (about 95 MB) in the layout of a converted pytorch-fid checkpoint, for trying `catchup inception-features`.

The network is pytorch-fid's FID Inception-v3 rebuilt here: torchvision's Inception3 (1008 classes, no aux head) with
the Mixed_5b-5d / 6b-6e / 7b / 7c blocks replaced by FID variants whose forward passes follow pytorch-fid's
FIDInceptionA / FIDInceptionC / FIDInceptionE_1 / FIDInceptionE_2 (average pools without padded zeros, max pool in the
last block's pool branch). The real weights are not needed: every tensor is filled by a counter-based hash that the C#
test reproduces bit for bit (see deterministic_tensor), so only the inputs and the 2048-d outputs are committed.
Reference features are computed in float64 and stored as F32.
"""

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.models.inception import Inception3, InceptionA, InceptionC, InceptionE

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from make_golden import write_safetensors  # noqa: E402  (tests/golden/make_golden.py: F32, sorted, padded header)

MASK = 0xFFFFFFFF


# ----------------------------------------------------------------------------- deterministic weights

def lowbias32(x):
    """Chris Wellons' 32-bit integer hash on a uint32 numpy array (multiplications wrap mod 2^32)."""
    x = x ^ (x >> np.uint32(16))
    x = x * np.uint32(0x7FEB352D)
    x = x ^ (x >> np.uint32(15))
    x = x * np.uint32(0x846CA68B)
    x = x ^ (x >> np.uint32(16))
    return x


def tensor_key(index):
    return int(lowbias32(np.array([(index * 0x9E3779B9) & MASK], dtype=np.uint32))[0])


def value_range(name, shape):
    """(offset, amplitude): values are offset + amplitude * s with s uniform in [-1, 1)."""
    if name.endswith('.conv.weight'):
        fan = int(np.prod(shape[1:]))
        return 0.0, math.sqrt(6.0 / fan)
    if name.endswith('.bn.weight'):
        return 1.0, 0.2
    if name.endswith('.bn.running_var'):
        return 1.0, 0.5
    if name.endswith('.bn.bias') or name.endswith('.bn.running_mean'):
        return 0.0, 0.2
    if name.startswith('fc.'):
        return 0.0, 0.01
    raise ValueError(name)


def deterministic_tensor(index, name, shape):
    """Element i of tensor number `index` (in ordinal name order): s = (h >> 8) * 2^-23 - 1 with
    h = lowbias32(i ^ lowbias32(index * 0x9E3779B9 mod 2^32)); value = float32(offset + amplitude * s), all in float64."""
    n = int(np.prod(shape))
    h = lowbias32(np.arange(n, dtype=np.uint32) ^ np.uint32(tensor_key(index)))
    s = (h >> np.uint32(8)).astype(np.float64) * 2.0 ** -23 - 1.0
    offset, amplitude = value_range(name, shape)
    return torch.from_numpy((offset + amplitude * s).astype(np.float32).reshape(shape))


# ----------------------------------------------------------------------------- FID Inception-v3

class FidA(InceptionA):
    def forward(self, x):
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False))
        return torch.cat([b1, b5, b3, bp], 1)


class FidC(InceptionC):
    def forward(self, x):
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            d = layer(d)
        bp = self.branch_pool(F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False))
        return torch.cat([b1, b7, d, bp], 1)


class FidE(InceptionE):
    def __init__(self, in_channels, max_pool):
        super().__init__(in_channels)
        self.max_pool = max_pool

    def forward(self, x):
        b1 = self.branch1x1(x)
        t = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(t), self.branch3x3_2b(t)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        if self.max_pool:
            pooled = F.max_pool2d(x, 3, stride=1, padding=1)
        else:
            pooled = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
        return torch.cat([b1, b3, bd, self.branch_pool(pooled)], 1)


def fid_inception():
    net = Inception3(num_classes=1008, aux_logits=False, init_weights=False)
    net.Mixed_5b = FidA(192, pool_features=32)
    net.Mixed_5c = FidA(256, pool_features=64)
    net.Mixed_5d = FidA(288, pool_features=64)
    net.Mixed_6b = FidC(768, channels_7x7=128)
    net.Mixed_6c = FidC(768, channels_7x7=160)
    net.Mixed_6d = FidC(768, channels_7x7=160)
    net.Mixed_6e = FidC(768, channels_7x7=192)
    net.Mixed_7b = FidE(1280, max_pool=False)
    net.Mixed_7c = FidE(2048, max_pool=True)
    return net


def pool3(net, images):
    """pytorch-fid's InceptionV3 forward up to block 3 for images in [-1, 1] (1 channel is replicated to RGB)."""
    x = (images.clamp(-1, 1) + 1) / 2
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    x = F.interpolate(x, size=(299, 299), mode='bilinear', align_corners=False)
    x = 2 * x - 1
    x = net.Conv2d_2b_3x3(net.Conv2d_2a_3x3(net.Conv2d_1a_3x3(x)))
    x = F.max_pool2d(x, 3, stride=2)
    x = net.Conv2d_4a_3x3(net.Conv2d_3b_1x1(x))
    x = F.max_pool2d(x, 3, stride=2)
    for name in ('Mixed_5b', 'Mixed_5c', 'Mixed_5d', 'Mixed_6a', 'Mixed_6b', 'Mixed_6c', 'Mixed_6d', 'Mixed_6e',
                 'Mixed_7a', 'Mixed_7b', 'Mixed_7c'):
        x = getattr(net, name)(x)
    return F.adaptive_avg_pool2d(x, (1, 1)).flatten(1)


def main():
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    net = fid_inception()
    state = net.state_dict()
    names = sorted(k for k in state if not k.endswith('num_batches_tracked'))
    weights = {name: deterministic_tensor(i, name, tuple(state[name].shape)) for i, name in enumerate(names)}
    net.load_state_dict(weights, strict=False)
    missing = [k for k in state if k not in weights and not k.endswith('num_batches_tracked')]
    assert not missing, missing
    net = net.double().eval()

    g = torch.Generator().manual_seed(20261122)
    gray = torch.rand(2, 1, 28, 28, generator=g) * 2 - 1
    rgb = torch.rand(1, 3, 32, 32, generator=g) * 2 - 1
    with torch.no_grad():
        gray_features = pool3(net, gray.double())
        rgb_features = pool3(net, rgb.double())

    metadata = {
        'tensors': json.dumps([[n, list(state[n].shape)] for n in names], separators=(',', ':')),
        'weights': 'deterministic_tensor in make_inception_golden.py',
        'reference': f'torch {torch.__version__} float64, torchvision Inception3 with FID blocks',
    }
    out = os.path.join(HERE, 'inception_golden.safetensors')
    write_safetensors(out, {'gray_images': gray, 'gray_features': gray_features,
                            'rgb_images': rgb, 'rgb_features': rgb_features}, metadata)
    print(f'{len(names)} weight tensors, {sum(int(np.prod(state[n].shape)) for n in names)} values')
    print('gray features: mean %.6f std %.6f; rgb: mean %.6f std %.6f' % (
        gray_features.mean(), gray_features.std(), rgb_features.mean(), rgb_features.std()))
    print('first weights:', names[0], weights[names[0]].flatten()[:4].tolist())
    print('wrote', out, os.path.getsize(out), 'bytes')
    if len(sys.argv) == 3 and sys.argv[1] == '--write-weights':
        write_safetensors(sys.argv[2], weights, {'weights': 'deterministic_tensor in make_inception_golden.py'})
        print('wrote', sys.argv[2])


if __name__ == '__main__':
    main()
