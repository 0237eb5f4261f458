"""PyTorch CPU speed benchmark of the CatchUp velocity network (SongUNet, SPEC section 5).

Config "mnist-paper": res 28, in/out 1, C=32, mult [2,2,2], NB=2, no attention resolutions,
dropout 0.13, dynamic skip (phi 0.75); 2,155,201 parameters.

Training step = forward (train mode, t ~ U(1e-5, 1), x ~ N(0, I)), MSE to a random target,
backward, Adam step (lr 3e-4). Forward-only = eval mode under torch.no_grad().
The last printed line is a JSON summary (medians).
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests', 'golden'))
from songunet_ref import SongUNet, count_params, forward_flops_per_sample  # noqa: E402

MNIST_PAPER = dict(img_resolution=28, in_channels=1, out_channels=1, model_channels=32,
                   channel_mult=[2, 2, 2], channel_mult_emb=4, num_blocks=2, attn_resolutions=[],
                   dropout=0.13, prior_shakedrop=True, phi=0.75)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--steps', type=int, default=10)
    ap.add_argument('--warmup', type=int, default=2)
    ap.add_argument('--mode', choices=['fwdbwd', 'cud-rk12'], default='fwdbwd',
                    help='fwdbwd: forward+MSE+backward+Adam; cud-rk12: a complete CUD RK12 training step '
                         '(2 no-grad catch-up passes in train mode + student forward/backward + Adam + EMA), SPEC section 3')
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    cfg = MNIST_PAPER
    model = SongUNet(**cfg)
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    B, R, Cin = args.batch, cfg['img_resolution'], cfg['in_channels']
    gflops = forward_flops_per_sample(cfg) / 1e9
    load_start = os.getloadavg()
    print(f'pytorch {torch.__version__}, threads={torch.get_num_threads()}, batch={B}, '
          f'params={count_params(model)}, fwd GFLOP/sample={gflops:.4f}, loadavg={load_start}')

    ema = [p.detach().clone() for p in model.parameters()]
    TN, EPS = 16, 1e-5

    def cud_rk12_step():
        x0 = torch.rand(B, Cin, R, R) * 2 - 1
        x1 = torch.randn(B, Cin, R, R)
        t = torch.rand(B) * (1 - EPS) + EPS
        dt = torch.rand(B) / TN                                   # step size 'uniform'
        mask = (t >= EPS + dt).float().view(B, 1, 1, 1)
        tb, hb = t.view(B, 1, 1, 1), dt.view(B, 1, 1, 1)
        z = tb * x1 + (1 - tb) * x0
        v_star = x1 - x0
        with torch.no_grad():                                     # catch-up passes: same model, train mode (dropout on)
            k1, _ = model(z, t)
            T1, _ = model(z - hb * k1, torch.clamp(t - dt, EPS, 1))
            T1 = mask * T1 + (1 - mask) * v_star
        pred, _ = model(z, t)
        loss = torch.nn.functional.mse_loss(pred, T1) + torch.nn.functional.mse_loss(pred, v_star)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for e, p in zip(ema, model.parameters()):
                e.lerp_(p, 1 - 0.999)
        return loss.item()

    def train_step():
        if args.mode == 'cud-rk12':
            return cud_rk12_step()
        x = torch.randn(B, Cin, R, R)
        t = torch.rand(B) * (1 - 1e-5) + 1e-5
        target = torch.randn(B, Cin, R, R)
        v, _ = model(x, t)
        loss = torch.nn.functional.mse_loss(v, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    model.train()
    for _ in range(args.warmup):
        train_step()
    times = []
    minflt0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for i in range(args.steps):
        t0 = time.perf_counter()
        loss = train_step()
        times.append(time.perf_counter() - t0)
        print(f'train step {i}: {times[-1]:.4f} s ({B / times[-1]:.1f} samples/s) loss={loss:.4f}')
    minflt_per_step = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - minflt0) / max(args.steps, 1)

    model.eval()
    ftimes = []
    with torch.no_grad():
        x = torch.randn(B, Cin, R, R)
        t = torch.rand(B) * (1 - 1e-5) + 1e-5
        for i in range(args.warmup + args.steps):
            t0 = time.perf_counter()
            model(x, t)
            dt = time.perf_counter() - t0
            if i >= args.warmup:
                ftimes.append(dt)
                print(f'forward {i - args.warmup}: {dt:.4f} s ({B / dt:.1f} samples/s)')

    s_step = statistics.median(times)
    s_fwd = statistics.median(ftimes)
    print(json.dumps({
        'framework': f'pytorch {torch.__version__}',
        'samples_per_s': round(B / s_step, 3),
        's_per_step': round(s_step, 5),
        'fwd_samples_per_s': round(B / s_fwd, 3),
        'fwd_s_per_batch': round(s_fwd, 5),
        'gflops_forward_per_sample': round(gflops, 6),
        'threads': args.threads,
        'batch': B,
        'config': 'mnist-paper',
        'mode': args.mode,
        'loadavg_start': [round(v, 2) for v in load_start],
        'loadavg_end': [round(v, 2) for v in os.getloadavg()],
        'minflt_per_step': round(minflt_per_step, 1),
    }))


if __name__ == '__main__':
    main()
