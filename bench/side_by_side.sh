#!/usr/bin/env bash
# Side-by-side CPU measurement: CatchUp vs PyTorch 1.13 (Debian python3-torch), the paper's MNIST config,
# batch 64, 2 threads; interleaved so machine drift hits both. Writes the raw JSON lines to $1 (default stdout).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/dev/stdout}
steps=${STEPS:-10}
catchup="dotnet src/CatchUp.Managed/bin/Release/net10.0/catchup.dll"
for round in ${ROUNDS:-1 2 3}; do
  echo "# round $round, load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out"
  $catchup bench unet --model mnist-paper --batch 64 --threads 2 --steps "$steps" | tail -1 | sed 's/^/catchup unet /' >> "$out"
  /usr/bin/python3 bench/pytorch/bench_unet.py --batch 64 --threads 2 --steps "$steps" | tail -1 | sed 's/^/pytorch fwdbwd /' >> "$out"
  $catchup bench train-step --model mnist-paper --objective cud --rk 12 --batch 64 --threads 2 --steps "$steps" | tail -1 | sed 's/^/catchup cud-rk12 /' >> "$out"
  /usr/bin/python3 bench/pytorch/bench_unet.py --mode cud-rk12 --batch 64 --threads 2 --steps "$steps" | tail -1 | sed 's/^/pytorch cud-rk12 /' >> "$out"
done
