#!/usr/bin/env bash
# Side-by-side CPU measurement on the paper's MNIST config, batch 64, 2 threads: CatchUp against the strongest CPU
# peer, LibTorch 2.10 (NuGet TorchSharp-cpu 0.107.0, bench/libtorch), and against Debian's PyTorch 1.13
# (python3-torch). Each round runs every side once, in this order, so machine drift hits all of them:
#   catchup unet, [catchup-auto unet,] pytorch fwdbwd, libtorch fwdbwd, catchup cud-rk12, [catchup-auto cud-rk12,]
#   pytorch cud-rk12, libtorch cud-rk12
# MODES="fwdbwd" or MODES="cud-rk12" runs one of the two works only (default: both).
# (catchup: --conv-algorithm direct; catchup-auto: the same CatchUp step with --conv-algorithm auto, the default,
# Winograd where it measured faster on this machine; add it to SIDES.)
# Raw JSON lines (one per run, prefixed "<side> <mode>") go to $1 (default stdout); take medians over rounds.
#
# Every side runs with the same glibc malloc settings: the largest mmap threshold glibc accepts (32 MiB on 64-bit;
# larger values are silently ignored and leave the dynamic threshold on) and a trim threshold that never returns freed
# heap to the kernel. With glibc's defaults (dynamic mmap threshold up to 32 MiB, trim threshold 128 KiB) PyTorch 1.13
# returns its activation buffers to the kernel after every step and page-faults them back in the next one; the
# settings below keep them in the heap. LibTorch 2.10 page-faults with or without them (its heap grows through the
# run). CatchUp pools its own buffers and needs neither. minflt_per_step in each PyTorch line shows the effect.
#
# Before round 1, bench/libtorch/run.sh --check compares LibTorch's gradients with float64 (its oneDNN gives a wrong
# input gradient for 3x3 convolutions whose output channels are not a multiple of 16; the timed runs use the pad-to-16
# workaround, which is checked again before each timing). A failed check stops the script.
#
#   ROUNDS="1 2 3" STEPS=10 SIDES="catchup catchup-auto pytorch libtorch" bench/side_by_side.sh results.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/dev/stdout}
steps=${STEPS:-10}
sides=" ${SIDES:-catchup pytorch libtorch} "
modes=" ${MODES:-fwdbwd cud-rk12} "
catchup="dotnet src/CatchUp.Managed/bin/Release/net10.0/catchup.dll"
export MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD_:-33554432}      # 32 MiB, glibc's maximum: activations stay on the heap
export MALLOC_TRIM_THRESHOLD_=${MALLOC_TRIM_THRESHOLD_:-17179869184}   # 16 GiB: freed heap is never trimmed
has() { [[ "$sides" == *" $1 "* ]]; }
mode() { [[ "$modes" == *" $1 "* ]]; }
row() { local label=$1; shift; "$@" | tail -1 | sed "s/^/$label /" >> "$out"; }

echo "# malloc: MALLOC_MMAP_THRESHOLD_=$MALLOC_MMAP_THRESHOLD_ MALLOC_TRIM_THRESHOLD_=$MALLOC_TRIM_THRESHOLD_ (every side)" >> "$out"
if has libtorch; then
  bench/libtorch/run.sh --check > /tmp/side_by_side_libtorch_check.log 2>&1 \
    || { echo "bench/libtorch/run.sh --check failed: LibTorch's gradients are wrong here (/tmp/side_by_side_libtorch_check.log)" >&2; exit 1; }
  echo "# libtorch gradient check: $(grep -c PASS /tmp/side_by_side_libtorch_check.log) PASS" >> "$out"
fi
for round in ${ROUNDS:-1 2 3}; do
  echo "# round $round, load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out"
  if mode fwdbwd && has catchup; then row "catchup unet" $catchup bench unet --model mnist-paper --batch 64 --threads 2 --steps "$steps" --conv-algorithm direct; fi
  if mode fwdbwd && has catchup-auto; then row "catchup-auto unet" $catchup bench unet --model mnist-paper --batch 64 --threads 2 --steps "$steps" --conv-algorithm auto; fi
  if mode fwdbwd && has pytorch; then row "pytorch fwdbwd" /usr/bin/python3 bench/pytorch/bench_unet.py --batch 64 --threads 2 --steps "$steps"; fi
  if mode fwdbwd && has libtorch; then row "libtorch fwdbwd" bench/libtorch/run.sh --batch 64 --threads 2 --steps "$steps"; fi
  if mode cud-rk12 && has catchup; then row "catchup cud-rk12" $catchup bench train-step --model mnist-paper --objective cud --rk 12 --batch 64 --threads 2 --steps "$steps" --conv-algorithm direct; fi
  if mode cud-rk12 && has catchup-auto; then row "catchup-auto cud-rk12" $catchup bench train-step --model mnist-paper --objective cud --rk 12 --batch 64 --threads 2 --steps "$steps" --conv-algorithm auto; fi
  if mode cud-rk12 && has pytorch; then row "pytorch cud-rk12" /usr/bin/python3 bench/pytorch/bench_unet.py --mode cud-rk12 --batch 64 --threads 2 --steps "$steps"; fi
  if mode cud-rk12 && has libtorch; then row "libtorch cud-rk12" bench/libtorch/run.sh --mode cud-rk12 --batch 64 --threads 2 --steps "$steps"; fi
done
