#!/usr/bin/env bash
# Builds native/build/libcatchup_kernels_emu.so: the CUDA kernels of native/kernels compiled for the host with a
# small emulation of blocks, threads, shared memory and __syncthreads (native/emulation). The kernel-logic tests run
# the CUDA backend's C# code on it against the CPU backend, so the kernels and their launches are checked on
# machines without a GPU. Needs clang++-14 (or $CXX) with C++20.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/build"
gen="$out/emulator-src"
cxx="${CXX:-$(command -v clang++-14 || command -v g++ || true)}"
[[ -n "$cxx" ]] || { echo "build-emulator: no C++ compiler (clang++-14 or g++)" >&2; exit 1; }
mkdir -p "$gen"
: > "$gen/kernels.inc"
: > "$gen/registry.inc"
for f in "$here"/kernels/*.cu; do
  echo "#include \"$f\"" >> "$gen/kernels.inc"
  grep -o 'KERNEL void [A-Za-z_0-9]*' "$f" | awk '{ printf "            {\"%s\", &call<%s>},\n", $3, $3 }' >> "$gen/registry.inc"
done
"$cxx" -std=c++20 -O2 -fPIC -shared -pthread -I "$gen" -I "$here/emulation" -o "$out/libcatchup_kernels_emu.so" "$here/emulation/launcher.cpp"
echo "build-emulator: $out/libcatchup_kernels_emu.so ($(wc -l < "$gen/registry.inc") kernels, $("$cxx" --version | head -1))"
