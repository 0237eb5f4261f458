"""Generate the .pth migration fixtures for the C# tests (catchup import / export / the restricted unpickler).

Run:  /usr/bin/python3 tests/golden/make_pth_golden.py      (Debian's python3-torch)
Writes tests/golden/pth/:
  reference_de.json, reference_en.json      configs in the PyTorch reference's format (unet_type, num_params, ...)
  flow_model_30_ema.pth                     torch.save(model.state_dict())                  (EMA weights)
  flow_model_30.pth                         torch.save(ddp_model.state_dict())              ('module.' keys, raw weights)
  generator_list_30_ema.pth                 torch.save([g.state_dict() for g in ddp_gens]) ('module.' keys)
  forward_model_30_ema.pth                  torch.save(UNetEncoder.state_dict())            ('encoder.' keys)
  training_state_30.pth                     the reference's training_state dict: model_state_dict = [raw, ema]
                                            (saved from a torch.compile'd model: '_orig_mod.' keys), generator_list,
                                            forward_model_state_dict, optimizer_state_dict (Adam), iter
  expected.safetensors                      noise z, the reference generate.py's Euler samples from it (N = 4) with
                                            the EMA model (x_euler4), with generator 2 (x_euler4_head2), with the raw
                                            model (x_euler4_raw), the encoder's output on enc_x, and the raw weights'
                                            Adam moments for a few parameters
  views.pth                                 tensors whose values are a function of their index, as views (transposed, offset,
                                            broadcast) and in float16 / bfloat16 / float64 storages
  hostile/*.pth + hostile/manifest.json     files the reader must refuse, with the problem each must be reported as

The network is our PyTorch port of the reference SongUNet (songunet_ref.py); the save calls and the dict layouts are
the reference's (train_cud_reverse_img_ddp.py, generate.py). The model is trained for 30 Adam steps on synthetic
images so that its velocity is far from zero. Nothing here is needed at test time.
"""

import collections
import io
import json
import os
import pickle
import struct
import sys
import zipfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, 'pth')
sys.path.insert(0, HERE)
from songunet_ref import SongUNet, count_params  # noqa: E402
from make_golden import write_safetensors  # noqa: E402

STEPS = 30
PHI = 0.75
DE = {
    "unet_type": "songunet", "img_resolution": 8, "in_channels": 1, "out_channels": 1, "label_dim": 0, "augment_dim": 0,
    "model_channels": 4, "channel_mult": [1, 1], "channel_mult_emb": 2, "num_blocks": 1, "attn_resolutions": [4, 16],
    "dropout": 0.0, "label_dropout": 0, "embedding_type": "positional", "channel_mult_noise": 1, "encoder_type": "standard",
    "decoder_type": "standard", "resample_filter": [1, 1], "use_dwt": "False", "phi": PHI,
}
EN = dict(DE, out_channels=2, channel_mult=[1], attn_resolutions=[16])
del EN["use_dwt"], EN["phi"]


class Wrapper(torch.nn.Module):
    """Stands in for DistributedDataParallel ('module.') or torch.compile's OptimizedModule ('_orig_mod.')."""

    def __init__(self, attribute, inner):
        super().__init__()
        self.add_module(attribute, inner)


class UNetEncoder(torch.nn.Module):
    """The reference's forward model: state dict keys 'encoder.*'."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder


def build(cfg, **kw):
    args = {k: v for k, v in cfg.items() if k not in ('unet_type', 'label_dim', 'augment_dim', 'label_dropout', 'use_dwt', 'num_params')}
    args['attn_resolutions'] = [r for r in args['attn_resolutions'] if r in [cfg['img_resolution'] >> l for l in range(len(cfg['channel_mult']))]]
    args.update(kw)
    return SongUNet(**args)


def flow_state(model):
    """The reference keeps heads in separate MetaGenerators; its flow model's state dict has none."""
    return collections.OrderedDict((k, v) for k, v in model.state_dict().items() if not k.startswith('heads.'))


def train():
    torch.manual_seed(0)
    flow = build(DE, prior_shakedrop=True, extra_heads=2)
    enc = UNetEncoder(build(EN))
    ema = build(DE, prior_shakedrop=True, extra_heads=2)
    ema.load_state_dict(flow.state_dict())
    # The reference's parameter order: forward model, flow model, generators.
    params = list(enc.parameters()) + [p for n, p in flow.named_parameters() if not n.startswith('heads.')] + list(flow.heads.parameters())
    opt = torch.optim.Adam(params, lr=3e-3, betas=(0.9, 0.999), eps=1e-8)
    g = torch.Generator().manual_seed(1)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 8), torch.linspace(-1, 1, 8), indexing='ij')
    for step in range(STEPS):
        a = torch.rand(16, 1, 1, 1, generator=g) * 2 - 1
        x0 = torch.tanh(a * 3 * xx + (1 - a) * 2 * yy).unsqueeze(1).reshape(16, 1, 8, 8)
        mu_logvar = enc.encoder(x0, torch.ones(16))[0]
        mu, logvar = mu_logvar[:, :1], mu_logvar[:, 1:]
        x1 = mu + torch.randn(x0.shape, generator=g) * torch.exp(logvar / 2)
        kl = (0.5 * (-1 - logvar + mu ** 2 + logvar.exp()).sum(dim=(1, 2, 3))).mean() / 64
        t = torch.rand(16, generator=g) * (1 - 1e-5) + 1e-5
        zt = t.view(-1, 1, 1, 1) * x1 + (1 - t.view(-1, 1, 1, 1)) * x0
        v, features = flow(zt, t)
        target = x1 - x0
        # Each head gets its own target so that sampling with a head differs visibly from the main output.
        loss = ((v - target) ** 2).mean() + sum(((h(features) - (2 + j) * target) ** 2).mean() for j, h in enumerate(flow.heads)) + kl
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            for pe, p in zip(ema.parameters(), flow.parameters()):
                pe.mul_(0.8).add_(p, alpha=0.2)
        print(f'  step {step + 1}: loss {loss.item():.4f}')
    return flow.eval(), ema.eval(), enc.eval(), opt


def euler(model, z, n, head=None):
    """generate.py / CatchUpFlow.sample_ode_generative, solver 'euler', momentum 0, in float32."""
    dt = -1. / n
    batch = z.shape[0]
    with torch.no_grad():
        for i in reversed(range(1, n + 1)):
            t = torch.ones((batch, 1)) * i / n
            v, features = model(z, t.squeeze())
            if head is not None:
                v = head(features)
            z = z.detach().clone() + v * dt
    return z


def save_reference_files(flow, ema, enc, opt):
    prefixed = lambda prefix, sd: collections.OrderedDict((prefix + k, v) for k, v in sd.items())
    gens = [Wrapper('module', h) for h in ema.heads]
    torch.save(flow_state(ema), os.path.join(OUT, 'flow_model_30_ema.pth'))
    torch.save(prefixed('module.', flow_state(flow)), os.path.join(OUT, 'flow_model_30.pth'))
    torch.save([gen.state_dict() for gen in gens], os.path.join(OUT, 'generator_list_30_ema.pth'))
    torch.save(enc.state_dict(), os.path.join(OUT, 'forward_model_30_ema.pth'))
    d = {}
    d['optimizer_state_dict'] = opt.state_dict()
    d['model_state_dict'] = [prefixed('_orig_mod.', flow_state(flow)), prefixed('_orig_mod.', flow_state(ema))]
    d['generator_list'] = [Wrapper('module', h).state_dict() for h in flow.heads]
    d['forward_model_state_dict'] = enc.state_dict()
    d['iter'] = STEPS
    torch.save(d, os.path.join(OUT, 'training_state_30.pth'))


def save_expected(flow, ema, enc, opt):
    g = torch.Generator().manual_seed(2)
    z = torch.randn(4, 1, 8, 8, generator=g)
    enc_x = torch.rand(2, 1, 8, 8, generator=g) * 2 - 1
    out = {
        'z': z,
        'x_euler4': euler(ema, z, 4),
        'x_euler4_head2': euler(ema, z, 4, head=ema.heads[0]),
        'x_euler4_raw': euler(flow, z, 4),
        'enc_x': enc_x,
    }
    with torch.no_grad():
        out['enc_out'] = enc.encoder(enc_x, torch.ones(2))[0]
    # Adam moments of two parameters, by the reference's optimizer index (encoder first, then flow, then generators).
    state = opt.state_dict()['state']
    n_enc = len(list(enc.parameters()))
    names = [n for n, _ in flow.named_parameters() if not n.startswith('heads.')]
    out['adam_m.model.' + names[0]] = state[n_enc]['exp_avg']
    out['adam_v.model.heads.1.block.2.weight'] = state[len(state) - 2]['exp_avg_sq']
    out['adam_m.encoder.' + next(n for n, _ in enc.encoder.named_parameters())] = state[0]['exp_avg']
    write_safetensors(os.path.join(OUT, 'expected.safetensors'), out, {'steps': STEPS, 'adam_step': int(state[0]['step'])})
    moved = (out['x_euler4'] - z).abs().mean().item()
    print(f'  mean |x_euler4 - z| = {moved:.4f}, std x_euler4 = {out["x_euler4"].std().item():.4f}, '
          f'mean |head2 - main| = {(out["x_euler4_head2"] - out["x_euler4"]).abs().mean().item():.4f}')


# ----------------------------------------------------------------------------- hostile files

def put(z, name, data):
    """A record with a fixed date, so that re-running the script reproduces the files byte for byte."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = z.compression
    z.writestr(info, data)


def torch_zip(path, pickle_bytes, records=(), name='archive', compress=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, 'w', compression=compress) as z:
        put(z, f'{name}/data.pkl', pickle_bytes)
        for key, data in records:
            put(z, f'{name}/data/{key}', data)
        put(z, f'{name}/byteorder', 'little')
        put(z, f'{name}/version', '3\n')


class Reduce:
    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def tensor_pickle(storage_type=b'FloatStorage', numel=4, offset=0, size=(2, 2), stride=(2, 1), key=b'0'):
    """A one-tensor state dict, pickled by hand the way torch.save writes it (protocol 2)."""
    def tup(values):
        return b'(' + b''.join(b'J' + struct.pack('<i', v) for v in values) + b't'
    return (b'\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01(X\x06\x00\x00\x00weightq\x02ctorch._utils\n_rebuild_tensor_v2\nq\x03('
            b'(X\x07\x00\x00\x00storageq\x04ctorch\n' + storage_type + b'\nq\x05X' + struct.pack('<I', len(key)) + key +
            b'X\x03\x00\x00\x00cpu' + b'J' + struct.pack('<i', numel) + b'tQ' + b'J' + struct.pack('<i', offset) +
            tup(size) + tup(stride) + b'\x89ccollections\nOrderedDict\n)RtRu.')


def make_hostile():
    d = os.path.join(OUT, 'hostile')
    os.makedirs(d, exist_ok=True)
    marker = 'catchup-hostile-marker'
    manifest = {}

    def add(name, expected, pickle_bytes=None, records=(), **kw):
        if pickle_bytes is not None:
            torch_zip(os.path.join(d, name), pickle_bytes, records, **kw)
        manifest[name] = expected

    floats = struct.pack('<4f', 1, 2, 3, 4)
    add('os_system.pth', "refusing global 'posix.system'", pickle.dumps(Reduce(os.system, (f'touch {marker}',)), protocol=2))
    # Protocol 2 pickles name these by their Python 2 modules (__builtin__, commands).
    add('builtins_eval.pth', "refusing global '__builtin__.eval'", pickle.dumps(Reduce(eval, (f"open('{marker}', 'w')",)), protocol=2))
    import subprocess
    add('subprocess.pth', "refusing global 'commands.check_call'", pickle.dumps(Reduce(subprocess.check_call, (['touch', marker],)), protocol=2))
    add('stack_global_exec.pth', "refusing global 'builtins.exec'", pickle.dumps(Reduce(exec, (f"open('{marker}', 'w')",)), protocol=4))
    # A tensor-shaped pickle whose storage "type" is os.system.
    add('persistent_id_global.pth', "refusing global 'os.system'", tensor_pickle().replace(b'ctorch\nFloatStorage\n', b'cos\nsystem\n'), [('0', floats)])
    add('unknown_opcode.pth', 'pickle opcode 0x69', b'\x80\x02(i__main__\nEvil\n.')  # INST
    add('deep_nesting.pth', 'nested deeper than', b'\x80\x02' + b']' * 5000 + b'a' * 4999 + b'.')
    add('huge_string.pth', 'declares 4294967295 bytes', b'\x80\x02X\xff\xff\xff\xff' + b'a' * 16 + b'.')
    add('huge_size.pth', 'more elements than can be held', tensor_pickle(size=(1 << 30, 1 << 30, 16), stride=(0, 0, 0)), [('0', floats)])
    add('size_past_storage.pth', "reaches past storage '0', which has 4 elements", tensor_pickle(size=(3, 2), stride=(2, 1)), [('0', floats)])
    add('stride_past_storage.pth', "reaches past storage '0', which has 4 elements", tensor_pickle(size=(1000, 1000), stride=(1000, 1)), [('0', floats)])
    add('offset_past_storage.pth', 'starts past the end of storage', tensor_pickle(size=(1, 1), stride=(1, 1), offset=4), [('0', floats)])
    add('short_storage.pth', 'holds 8 bytes', tensor_pickle(), [('0', floats[:8])])
    add('huge_numel.pth', 'holds 16 bytes', tensor_pickle(numel=2_000_000_000, size=(2, 2)), [('0', floats)])
    add('negative_stride.pth', 'negative stride', tensor_pickle(stride=(-2, 1), offset=2), [('0', floats)])
    add('negative_offset.pth', 'negative storage offset', tensor_pickle(offset=-1), [('0', floats)])
    add('missing_storage.pth', "'archive/data/0' is missing", tensor_pickle())
    add('wrong_dtype.pth', 'is torch.int64; weights must be floating point', tensor_pickle(storage_type=b'LongStorage'), [('0', struct.pack('<4q', 1, 2, 3, 4))])
    add('unknown_storage_type.pth', "refusing global 'torch.QInt8Storage'", tensor_pickle(storage_type=b'QInt8Storage'), [('0', floats)])
    add('no_stop.pth', 'without its STOP opcode', tensor_pickle()[:-1], [('0', floats)])
    add('allowed_global_called.pth', 'refusing the call torch.FloatStorage', b'\x80\x02ctorch\nFloatStorage\nK\x05\x85R.')
    add('build_with_list.pth', 'refusing BUILD', b'\x80\x02ccollections\nOrderedDict\n)R]b.')
    add('bad_memo.pth', 'memo entry 7 was never stored', b'\x80\x02h\x07.')
    add('not_a_state_dict.pth', 'not a state dict', b'\x80\x02X\x05\x00\x00\x00hello.')
    big = pickle.dumps([0] * 10, protocol=2)
    add('zip_bomb.pth', 'is compressed', big, [('0', b'\0' * (32 << 20))], compress=zipfile.ZIP_DEFLATED)
    add('two_archives.pth', 'more than one NAME/data.pkl', None)
    with zipfile.ZipFile(os.path.join(d, 'two_archives.pth'), 'w') as z:
        put(z, 'a/data.pkl', big)
        put(z, 'b/data.pkl', big)
    add('big_endian.pth', "byte order 'big'", None)
    with zipfile.ZipFile(os.path.join(d, 'big_endian.pth'), 'w') as z:
        put(z, 'archive/data.pkl', tensor_pickle())
        put(z, 'archive/data/0', floats)
        put(z, 'archive/byteorder', 'big')
    good = io.BytesIO()
    torch.save(collections.OrderedDict(w=torch.arange(64.)), good)
    add('truncated.pth', 'truncated', None)
    with open(os.path.join(d, 'truncated.pth'), 'wb') as f:
        f.write(good.getvalue()[:len(good.getvalue()) // 2])
    add('legacy.pth', 'legacy (non-zip) PyTorch file', None)
    torch.save(collections.OrderedDict(w=torch.ones(2)), os.path.join(d, 'legacy.pth'), _use_new_zipfile_serialization=False)
    add('not_a_pth.pth', 'not a PyTorch .pth file', None)
    with open(os.path.join(d, 'not_a_pth.pth'), 'wb') as f:
        f.write(b'hello, not a checkpoint')
    add('empty.pth', 'not a PyTorch .pth file', None)
    open(os.path.join(d, 'empty.pth'), 'wb').close()
    with open(os.path.join(d, 'manifest.json'), 'w') as f:
        json.dump({'marker': marker, 'files': manifest}, f, indent=2)
        f.write('\n')
    # Sanity: PyTorch's own weights_only loader refuses the code-running ones too, and nothing ran.
    for name in ('os_system.pth', 'builtins_eval.pth', 'subprocess.pth'):
        try:
            torch.load(os.path.join(d, name), weights_only=True)
            raise SystemExit(f'{name}: torch.load(weights_only=True) accepted it')
        except pickle.UnpicklingError:
            pass
    assert not os.path.exists(marker)


def make_views():
    """Element [i, j] of every tensor is 10 * i + j (exact in every dtype); the reader must undo the views."""
    base = torch.tensor([[10. * i + j for j in range(4)] for i in range(3)])
    views = collections.OrderedDict()
    views['contiguous'] = base
    views['transposed'] = torch.tensor([[10. * j + i for j in range(3)] for i in range(4)]).t()  # strides (1, 3)
    big = torch.zeros(5, 6)
    big[1:4, 2:6] = base
    views['offset'] = big[1:4, 2:6]  # storage offset 8, strides (6, 1)
    views['broadcast'] = torch.arange(4.).expand(3, 4)  # stride 0 on the first dimension: row i = [0, 1, 2, 3]
    views['float16'] = base.half()
    views['bfloat16'] = base.bfloat16()
    views['float64'] = base.double()
    views['scalar'] = torch.tensor(7.)
    views['size_one_stride'] = torch.arange(4.).as_strided((1, 4), (1000, 1))  # any stride is legal on a dimension of size 1
    torch.save(views, os.path.join(OUT, 'views.pth'))


def main():
    os.makedirs(OUT, exist_ok=True)
    make_views()
    flow, ema, enc, opt = train()
    de = dict(DE, num_params=count_params(build(DE)) / 1e6)
    for name, cfg in (('reference_de.json', de), ('reference_en.json', EN)):
        with open(os.path.join(OUT, name), 'w') as f:
            json.dump(cfg, f, indent=4)
            f.write('\n')
    save_reference_files(flow, ema, enc, opt)
    save_expected(flow, ema, enc, opt)
    make_hostile()
    total = 0
    for root, _, files in os.walk(OUT):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    print(f'  wrote {OUT}: {total} bytes')


if __name__ == '__main__':
    main()
