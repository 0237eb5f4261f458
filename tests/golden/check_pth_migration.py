"""Check the migration both ways against the PyTorch reference's own code (run by hand; not part of the test suite).

  /usr/bin/python3 tests/golden/check_pth_migration.py --reference DIR [--catchup "dotnet src/CatchUp.Managed/bin/Release/net10.0/catchup.dll"]

DIR is a checkout of shaoshitong/Catch-Up-Distillation. Its modules are imported as they are; third-party modules the
checked code paths never use (einops, matplotlib, torchvision, tqdm, scipy, pytorch_wavelets) are replaced by empty stubs.

1. Fixtures: the .pth files in tests/golden/pth load into the reference's SongUNet / MetaGenerator / UNetEncoder the way
   its generate.py loads them (convert_ddp_state_dict_to_single + load_state_dict, strict), and its CatchUpFlow
   .sample_ode_generative (euler, N = 4, generator 1 and 2) from the fixture noise reproduces expected.safetensors.
2. Import, then sample: catchup import + catchup sample give the reference's samples.
3. Export: catchup export --format pth writes files that torch.load(weights_only=True) reads and that load into the
   reference's modules with strict=True; their velocity (and heads) equals catchup velocity's on the same input.
4. The same for a run trained by catchup train itself (CUD RK34 with the encoder, a few iterations on synthetic data).
"""

import argparse
import json
import os
import shlex
import struct
import subprocess
import sys
import tempfile
import types

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
PTH = os.path.join(HERE, 'pth')
sys.path.insert(0, HERE)
from make_golden import read_safetensors, write_json, write_safetensors  # noqa: E402


class Stub(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith('__'):
            raise AttributeError(name)
        return object


def import_reference(directory):
    sys.path.insert(0, directory)
    for _ in range(30):
        try:
            import flows
            import models
            import network_edm
            import utils
            return network_edm, models, utils, flows
        except ModuleNotFoundError as e:
            sys.modules[e.name] = Stub(e.name)
    raise SystemExit('could not import the reference modules')


def reference_models(ref, config_de, config_en, shakedrop, phi):
    network_edm, models, _, _ = ref
    config = json.load(open(config_de))
    config['prior_shakedrop'] = shakedrop
    config['phi'] = phi
    flow = network_edm.SongUNet(**config).eval()
    encoder = models.UNetEncoder(encoder=network_edm.SongUNet(**json.load(open(config_en))), input_nc=config['in_channels']).eval()
    return flow, encoder


def load_like_generate(ref, flow, encoder, flow_pth, gen_pth, enc_pth, weights_only):
    """generate.py's loading code, with strict=True everywhere (its default for load_state_dict)."""
    network_edm, _, utils, _ = ref
    load = lambda p: torch.load(p, map_location='cpu', weights_only=weights_only)
    flow.load_state_dict(utils.convert_ddp_state_dict_to_single(load(flow_pth)), strict=True)
    generators = []
    for sd in load(gen_pth):
        g = network_edm.MetaGenerator(in_channel=flow.meta_in_channel, out_channel=flow.meta_out_channel)
        g.load_state_dict(utils.convert_ddp_state_dict_to_single(sd), strict=True)
        generators.append(g.eval())
    encoder.load_state_dict(utils.convert_ddp_state_dict_to_single(load(enc_pth)), strict=True)
    return generators


def reference_euler(ref, flow, generators, z, n, generator_id):
    _, _, _, flows = ref
    rf = flows.CatchUpFlow(torch.device('cpu'), flow, flow, generators, num_steps=n, add_prior_z=False, discrete=False)
    with torch.no_grad():
        traj, _ = rf.sample_ode_generative(z1=z, N=n, use_tqdm=False, solver='euler', generator_id=generator_id)
    return traj[-1]


def report(name, a, b, tol):
    d = (a - b).abs().max().item()
    print(f'  {name}: max |diff| = {d:.3g} (scale {b.abs().max().item():.3g})  {"OK" if d <= tol else "FAIL"}')
    return d <= tol


CATCHUP = []


def run_cli(args):
    result = subprocess.run(CATCHUP + args, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f'catchup {" ".join(args)} failed:\n{result.stderr}')
    return result


def write_idx(directory, count, side):
    """A tiny MNIST-style data set (IDX files) of side x side images."""
    os.makedirs(directory, exist_ok=True)
    pixels = bytes((i * 37) % 256 for i in range(count * side * side))
    with open(os.path.join(directory, 'train-images-idx3-ubyte'), 'wb') as f:
        f.write(struct.pack('>IIII', 0x803, count, side, side) + pixels)
    with open(os.path.join(directory, 'train-labels-idx1-ubyte'), 'wb') as f:
        f.write(struct.pack('>II', 0x801, count) + bytes(count))


def check_export(ref, run, exported_dir, tmp, shakedrop, phi):
    """Exports RUN both ways, loads the .pth files into the reference strictly and compares velocities and heads."""
    ok = True
    run_cli(['export', '--format', 'pth', '--run', run, '--out', exported_dir])
    run_cli(['export', '--format', 'safetensors', '--run', run, '--out', exported_dir])
    flow, encoder = reference_models(ref, os.path.join(exported_dir, 'config_de.json'), os.path.join(exported_dir, 'config_en.json'), shakedrop, phi)
    gens = load_like_generate(ref, flow, encoder, os.path.join(exported_dir, 'flow_model_ema.pth'), os.path.join(exported_dir, 'generator_list_ema.pth'),
                              os.path.join(exported_dir, 'forward_model_ema.pth'), weights_only=True)
    print('  strict load with weights_only=True: flow_model_ema.pth, generator_list_ema.pth (%d), forward_model_ema.pth: OK' % len(gens))
    config = json.load(open(os.path.join(exported_dir, 'config_de.json')))
    g = torch.Generator().manual_seed(5)
    c, r = config['in_channels'], config['img_resolution']
    x, t = torch.randn(3, c, r, r, generator=g), torch.rand(3, generator=g)
    io_path, v_path = os.path.join(tmp, 'io.safetensors'), os.path.join(tmp, 'v.safetensors')
    write_safetensors(io_path, {'x': x, 't': t})
    run_cli(['velocity', '--model', os.path.join(exported_dir, 'config_de.json'), '--weights', os.path.join(exported_dir, 'flow_model_ema.safetensors'),
             '--input', io_path, '--output', v_path])
    ours = read_safetensors(v_path)
    with torch.no_grad():
        v, features = flow(x, t, return_features=True)
        ok &= report('reference velocity vs catchup velocity', v, ours['v'], 1e-5)
        for j, gen in enumerate(gens):
            ok &= report(f'reference MetaGenerator {j + 2} vs catchup head{j + 2}', gen(features), ours[f'head{j + 2}'], 1e-5)
    ones = torch.ones(3)
    write_safetensors(io_path, {'x': x, 't': ones})
    run_cli(['velocity', '--model', os.path.join(exported_dir, 'config_en.json'), '--weights', os.path.join(exported_dir, 'forward_model_ema.safetensors'),
             '--input', io_path, '--output', v_path])
    with torch.no_grad():
        ok &= report('reference UNetEncoder vs catchup velocity of the encoder at t = 1', encoder.encoder(x, ones), read_safetensors(v_path)['v'], 1e-5)
    return ok


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--reference', required=True)
    p.add_argument('--catchup', default='dotnet ' + os.path.join(HERE, '..', '..', 'src/CatchUp.Managed/bin/Release/net10.0/catchup.dll'))
    a = p.parse_args()
    ref = import_reference(os.path.abspath(a.reference))
    global CATCHUP
    CATCHUP = shlex.split(a.catchup)
    run = lambda *args: run_cli(list(args))
    de, en = os.path.join(PTH, 'reference_de.json'), os.path.join(PTH, 'reference_en.json')
    expected = read_safetensors(os.path.join(PTH, 'expected.safetensors'))
    z = expected['z']
    ok = True

    print('1. fixtures in the reference code')
    flow, encoder = reference_models(ref, de, en, True, 0.75)
    gens = load_like_generate(ref, flow, encoder, os.path.join(PTH, 'flow_model_30_ema.pth'), os.path.join(PTH, 'generator_list_30_ema.pth'),
                              os.path.join(PTH, 'forward_model_30_ema.pth'), weights_only=False)
    ok &= report('generate.py euler 4, generator 1 vs expected x_euler4', reference_euler(ref, flow, gens, z, 4, 1), expected['x_euler4'], 1e-5)
    ok &= report('generate.py euler 4, generator 2 vs expected x_euler4_head2', reference_euler(ref, flow, gens, z, 4, 2), expected['x_euler4_head2'], 1e-5)
    with torch.no_grad():
        ok &= report('UNetEncoder vs expected enc_out', encoder.encoder(expected['enc_x'], torch.ones(2)), expected['enc_out'], 1e-5)

    with tempfile.TemporaryDirectory() as tmp:
        print('2. catchup import, then catchup sample, vs the reference generate.py')
        run_dir = os.path.join(tmp, 'run')
        run('import', '--pth', os.path.join(PTH, 'flow_model_30_ema.pth'), '--generators', os.path.join(PTH, 'generator_list_30_ema.pth'),
            '--encoder', os.path.join(PTH, 'forward_model_30_ema.pth'), '--model', de, '--encoder-model', en, '--shakedrop', '--out', run_dir)
        write_safetensors(os.path.join(tmp, 'noise.safetensors'), {'z': z})
        for head, gid in ((1, 1), (2, 2), (3, 3)):
            out = os.path.join(tmp, f'samples{head}')
            run('sample', '--run', run_dir, '--noise', os.path.join(tmp, 'noise.safetensors'), '--solver', 'euler', '--nfe', '4', '--head', str(head), '--out', out)
            ok &= report(f'catchup sample --head {head} vs generate.py --generator {gid}', read_safetensors(os.path.join(out, 'samples.safetensors'))['x'],
                         reference_euler(ref, flow, gens, z, 4, gid), 1e-4)

        print('3. catchup export --format pth of the imported run, in the reference')
        ok &= check_export(ref, run_dir, os.path.join(tmp, 'exported'), tmp, True, 0.75)

        print('4. a run trained by catchup train (CUD RK34, encoder), exported, in the reference')
        data, model = os.path.join(tmp, 'data'), os.path.join(tmp, 'model.json')
        write_idx(data, 32, 8)
        write_json(model, {'img_resolution': 8, 'in_channels': 1, 'out_channels': 1, 'model_channels': 8, 'channel_mult': [1, 2], 'num_blocks': 1,
                           'attn_resolutions': [4], 'dropout': 0.1, 'prior_shakedrop': True, 'phi': 0.25})
        write_json(os.path.join(tmp, 'enc.json'), {'img_resolution': 8, 'in_channels': 1, 'out_channels': 2, 'model_channels': 4, 'channel_mult': [1, 1],
                                                   'num_blocks': 1, 'attn_resolutions': [], 'dropout': 0.0})
        trained = os.path.join(tmp, 'trained')
        run_cli(['train', '--model', model, '--encoder-model', os.path.join(tmp, 'enc.json'), '--data', data, '--dataset', 'mnist', '--rk', '34',
                 '--encoder', 'true', '--iterations', '20', '--batch', '8', '--lr', '3e-3', '--ema-decay', '0.5', '--out', trained])
        ok &= check_export(ref, trained, os.path.join(tmp, 'exported-trained'), tmp, True, 0.25)
    print('ALL OK' if ok else 'FAILED')
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
