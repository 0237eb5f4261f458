#!/usr/bin/env bash
# Runs the GPU checks from a self-contained build (./build.sh --target=PublishGpu copies this script next to the
# `catchup` executable in artifacts/gpu/; the GPU machine needs the NVIDIA driver, cuBLAS and cuDNN 9, not .NET):
#   1. catchup selftest --device cuda      every backend op, the network forward/backward and a CUD RK12 training
#                                           step against the CPU backend (the same checks as the xunit GPU tests),
#                                           then the network against the PyTorch golden files in golden/
#   2. catchup bench train-step            complete CUD RK12 training steps, CIFAR-10 paper network, batch 128
#   3. catchup bench unet                  forward+backward of the MNIST paper network, batch 256
# Output goes to the terminal and to RESULTS_DIR (default ./gpu-results). Exit status: 0 when every step succeeded.
#   ./run-gpu-checks.sh [RESULTS_DIR] [STEPS]     (defaults: gpu-results, 20)
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-gpu-results}"
steps="${2:-20}"
mkdir -p "$out"
catchup="$here/catchup"
status=0

run() {
  local name="$1"; shift
  echo "== $name: catchup $*"
  "$catchup" "$@" 2>&1 | tee "$out/$name.txt"
  local rc=${PIPESTATUS[0]}
  echo "== $name: exit $rc"
  [[ $rc -eq 0 ]] || status=1
}

run selftest selftest --device cuda
if [[ $status -ne 0 ]]; then
  echo "selftest failed or no GPU: skipping the benchmarks" >&2
  exit $status
fi
run train-step-cifar10 bench train-step --device cuda --model cifar10-paper --objective cud --rk 12 --batch 128 --steps "$steps"
run train-step-cifar10-profile bench train-step --device cuda --model cifar10-paper --objective cud --rk 12 --batch 128 --steps 5 --profile
run unet-mnist bench unet --device cuda --model mnist-paper --batch 256 --steps "$steps"
echo "results in $out/"
exit $status
