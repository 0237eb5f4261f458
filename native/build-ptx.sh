#!/usr/bin/env bash
# Compiles every native/kernels/*.cu to PTX in native/ptx/ (one .ptx per .cu) and records the hash of the sources in
# native/ptx/SOURCES.sha256. Works without a GPU and without the CUDA SDK: nvcc when it is on PATH (or $NVCC),
# otherwise clang-14 in CUDA device-only mode with no CUDA headers or libdevice (see kernels/cuda_compat.h).
# The generated PTX is committed; the csproj embeds it and a test checks it is up to date with the sources.
#   native/build-ptx.sh [--compiler nvcc|clang]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/kernels"
out="${PTX_OUT:-$here/ptx}"
arch="${CUDA_ARCH:-sm_80}"   # PTX 7.2 for sm_80: the driver JIT-compiles it for any newer GPU (H100 is sm_90)
choice="${2:-}"
[[ "${1:-}" == "--compiler" ]] || choice=""

nvcc_bin="${NVCC:-$(command -v nvcc || true)}"
clang_bin="${CLANG:-$(command -v clang-14 || true)}"
if [[ "$choice" == "nvcc" || ( -z "$choice" && -n "$nvcc_bin" ) ]]; then
  [[ -n "$nvcc_bin" ]] || { echo "build-ptx: nvcc not found" >&2; exit 1; }
  compile() { "$nvcc_bin" -ptx -arch="compute_${arch#sm_}" -O3 -o "$2" "$1"; }
  compiler="$("$nvcc_bin" --version | tail -1)"
else
  [[ -n "$clang_bin" ]] || { echo "build-ptx: neither nvcc nor clang-14 found (apt-get install clang-14)" >&2; exit 1; }
  compile() {
    "$clang_bin" -x cuda --cuda-device-only -nocudainc -nocudalib --cuda-gpu-arch="$arch" \
      -Xclang -target-feature -Xclang +ptx72 -O3 -S -o "$2" "$1"
  }
  compiler="$("$clang_bin" --version | head -1)"
fi

mkdir -p "$out"
rm -f "$out"/*.ptx
for f in "$src"/*.cu; do
  name="$(basename "${f%.cu}")"
  compile "$f" "$out/$name.ptx"
  # Everything must lower to PTX instructions: a call into libdevice (or any undefined function) cannot be resolved
  # by the driver's JIT.
  if grep -q '^\s*\.extern\s\+\.func' "$out/$name.ptx"; then
    echo "build-ptx: $name.ptx calls external functions:" >&2
    grep '\.extern' "$out/$name.ptx" >&2
    exit 1
  fi
done
(cd "$src" && LC_ALL=C ls | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1) > "$out/SOURCES.sha256"
echo "build-ptx: $(ls "$out"/*.ptx | wc -l) PTX modules in $out ($compiler)"
