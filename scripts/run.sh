#!/usr/bin/env bash
# Sets up the machine, builds, and runs inceptiond in the foreground on the
# example configuration (or on the config file given). Ctrl-C stops it.
#
#   scripts/run.sh [CONFIG]     (default: config/inceptiond.toml)
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-config/inceptiond.toml}
scripts/setup.sh
[ -d build ] || meson setup build --buildtype=release -Dguest_tests=false
ninja -C build control/inceptiond control/inceptionctl
exec build/control/inceptiond --config "$config"
