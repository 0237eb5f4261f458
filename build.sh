#!/usr/bin/env bash
# Cake bootstrapper: restores the pinned Cake tool, then runs build.cake with the given arguments.
#   ./build.sh --target=Test     build everything and run the test suite
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
dotnet tool restore >/dev/null
exec dotnet cake build.cake "$@"
