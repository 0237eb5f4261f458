#!/usr/bin/env bash
# Side by side, alternating rounds: our binding's MPI_Allreduce (catchup bench allreduce) against the same call from C,
# both under Open MPI's mpirun with the same ranks. Usage: bench/mpi/allreduce.sh [ROUNDS] [RANKS] [FLOATS]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds="${1:-5}" ranks="${2:-2}" floats="${3:-2211777}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_oob_tcp_if_include=lo OMPI_MCA_btl_tcp_if_include=lo
mkdir -p artifacts/bench
mpicc -O2 -o artifacts/bench/allreduce bench/mpi/allreduce.c
dll=src/CatchUp.Managed/bin/Release/net10.0/catchup.dll
[[ -f "$dll" ]] || dotnet build -c Release src/CatchUp.Managed >/dev/null
for ((i = 1; i <= rounds; i++)); do
  mpirun -np "$ranks" --bind-to none artifacts/bench/allreduce "$floats" 50
  mpirun -np "$ranks" --bind-to none dotnet "$dll" bench allreduce --floats "$floats" --repeats 50 | tail -1
done
