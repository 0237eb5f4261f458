#!/usr/bin/env bash
# Builds native/build/fake-nccl/libnccl.so.2 from test-stubs/fake_nccl.c: the NCCL ABI stand-in the binding tests load
# (NCCL itself is not installable on Debian 12). Needs a C compiler (cc, gcc or clang-14).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cc="${CC:-$(command -v cc || command -v gcc || command -v clang-14 || true)}"
[[ -n "$cc" ]] || { echo "build-test-stubs: no C compiler (cc, gcc or clang-14)" >&2; exit 1; }
mkdir -p "$here/build/fake-nccl"
"$cc" -std=c11 -O2 -fPIC -shared -Wall -Werror -o "$here/build/fake-nccl/libnccl.so.2" "$here/test-stubs/fake_nccl.c"
echo "build-test-stubs: $here/build/fake-nccl/libnccl.so.2"
