#!/usr/bin/env bash
# Data-parallel step time on one machine, alternating rounds: 1 rank x 2 threads against 2 ranks x 1 thread (Open MPI,
# --bind-to none), CUD RK12 on the paper's MNIST network, global batch 64; each prints its JSON summary line.
# Usage: bench/mpi/train_step.sh [ROUNDS] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds="${1:-3}" steps="${2:-10}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_oob_tcp_if_include=lo OMPI_MCA_btl_tcp_if_include=lo
dll=src/CatchUp.Managed/bin/Release/net10.0/catchup.dll
[[ -f "$dll" ]] || dotnet build -c Release src/CatchUp.Managed >/dev/null
args=(bench train-step --model mnist-paper --objective cud --rk 12 --batch 64 --steps "$steps" --device cpu)
for ((i = 1; i <= rounds; i++)); do
  dotnet "$dll" "${args[@]}" --threads 2 | tail -1
  mpirun -np 2 --bind-to none dotnet "$dll" "${args[@]}" --threads 1 | tail -1
done
