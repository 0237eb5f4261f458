#!/usr/bin/env bash
# Runs the GPU checks from a self-contained build (./build.sh --target=PublishGpu copies this script next to the
# `catchup` executable in artifacts/gpu/; the GPU machine needs the NVIDIA driver, cuBLAS and cuDNN 9, not .NET):
#   1. catchup selftest --device cuda      every backend op, the network forward/backward and a CUD RK12 training
#                                           step against the CPU backend (the same checks as the xunit GPU tests),
#                                           then the network against the PyTorch golden files in golden/
#   2. catchup bench train-step            complete CUD RK12 training steps, CIFAR-10 paper network, batch 128
#   3. catchup bench unet                  forward+backward of the MNIST paper network, batch 256
#   4. with 2 GPUs and mpirun: 2-rank data-parallel train-step (gradients by NCCL when libnccl.so.2 loads, else MPI
#      through host memory; the start-up line says which), a 2-rank Allreduce of the CIFAR-10 gradient size, and the
#      same 20 training iterations on 1 and on 2 GPUs (dp-1gpu/, dp-2gpu/: compare their checkpoints)
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

gpus=$(nvidia-smi -L 2>/dev/null | wc -l)
if [[ $gpus -ge 2 ]] && command -v mpirun >/dev/null; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  mpi() { local name="$1"; shift; echo "== $name: mpirun -np 2 catchup $*"
    mpirun -np 2 --bind-to none "$catchup" "$@" 2>&1 | tee "$out/$name.txt"; local rc=${PIPESTATUS[0]}
    echo "== $name: exit $rc"; [[ $rc -eq 0 ]] || status=1; }
  mpi train-step-cifar10-2gpu bench train-step --device cuda --model cifar10-paper --objective cud --rk 12 --batch 256 --steps "$steps"
  mpi allreduce-2rank bench allreduce --floats 55700000
  # The same 20 iterations on 1 and on 2 GPUs, on synthetic MNIST-shaped IDX files: the two checkpoints should agree
  # to float32 summation-order noise (as the CPU tests show for 1 vs 2 ranks).
  data="$out/dp-data"; mkdir -p "$data"
  python3 - "$data" <<'PY' || echo "python3 missing: skipping the 1-vs-2-GPU training check"
import struct, sys
d = sys.argv[1]
open(f"{d}/train-images-idx3-ubyte", "wb").write(struct.pack(">IIII", 2051, 256, 28, 28) + bytes((i * 37) % 256 for i in range(256 * 784)))
open(f"{d}/train-labels-idx1-ubyte", "wb").write(struct.pack(">II", 2049, 256) + bytes(256))
PY
  if [[ -f "$data/train-images-idx3-ubyte" ]]; then
    common=(train --device cuda --data "$data" --dataset mnist --iterations 20 --batch 32 --sample-every 1000 --seed 1)
    run dp-1gpu "${common[@]}" --out "$out/dp-1gpu"
    mpi dp-2gpu "${common[@]}" --out "$out/dp-2gpu"
  fi
else
  echo "== data-parallel checks skipped: $gpus GPU(s), mpirun $(command -v mpirun || echo missing) (they need 2 GPUs and Open MPI)"
fi
echo "results in $out/"
exit $status
