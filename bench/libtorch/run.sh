#!/usr/bin/env bash
# The LibTorch 2.10 side of bench/side_by_side.sh: builds bench/libtorch (Release) when it is missing or older than its
# sources, makes TorchSharp's native library loadable on Debian 12, and runs the bench with the given arguments:
#   bench/libtorch/run.sh --check                       gradient check (exit 1 when LibTorch's gradients are wrong)
#   bench/libtorch/run.sh --batch 64 --threads 2 --steps 10 [--mode cud-rk12]
#
# GLIBCXX workaround. TorchSharp-cpu 0.107.0's libLibTorchSharp.so was built with GCC 13 and records a need for
# symbol version GLIBCXX_3.4.32; Debian 12's libstdc++.so.6 stops at GLIBCXX_3.4.30, so ld.so refuses to load it
# ("version `GLIBCXX_3.4.32' not found"). The only symbol under that version is std::ios_base_library_init(), which
# GCC 13's <iostream> references without ever calling it (the library has no relocation against it). So we mark that
# one version need weak (VER_FLG_WEAK) in the copy of the library in this project's build output, bin/Release/...,
# with glibcxx/weaken_verneed.c (built here with cc into bin/); a weak version need that is missing is not an error.
# The system, the NuGet cache and libtorch itself are left alone; dotnet build copies the original back whenever it
# refreshes the output, so this script patches after every build (patching is idempotent).
# An LD_PRELOADed shim defining std::ios_base_library_init@GLIBCXX_3.4.32 does NOT work: ld.so checks a version need
# against the object it names (libstdc++.so.6), not against the global scope (tried: same error).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$here/bin/Release/net10.0/linux-x64
dll=$out/libtorch-bench.dll
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

stale=
if [ -f "$dll" ]; then
  stale=$(find "$here" -maxdepth 1 \( -name '*.cs' -o -name '*.csproj' \) -newer "$dll" | head -1)
fi
if [ ! -f "$dll" ] || [ -n "$stale" ]; then
  echo "building bench/libtorch (first time: restores TorchSharp-cpu 0.107.0 + libtorch-cpu 2.10.0, ~600 MB) ..." >&2
  dotnet build "$here/LibTorchBench.csproj" -c Release -nologo -v quiet >&2
fi

weaken=$here/bin/weaken_verneed
if [ ! -x "$weaken" ] || [ "$here/glibcxx/weaken_verneed.c" -nt "$weaken" ]; then
  cc -O2 -Wall -o "$weaken" "$here/glibcxx/weaken_verneed.c"
fi
lib=$(find "$out" -name libLibTorchSharp.so | head -1)
[ -n "$lib" ] || { echo "run.sh: no libLibTorchSharp.so under $out" >&2; exit 1; }
"$weaken" "$lib" GLIBCXX_3.4.32 >/dev/null || true   # exit 1 = no such need (a newer build): nothing to do

exec dotnet "$dll" "$@"
