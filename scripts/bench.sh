#!/usr/bin/env bash
# Sets up the machine (packages of the references: testpmd, OVS-DPDK),
# builds inceptiond and the traffic generator with optimizations
# (build-release/) and runs perf/bench.py: inceptiond against OVS-DPDK and
# the testpmd ceiling. Arguments go to bench.py (perf/bench.py --help).
#
#   scripts/bench.sh                          the README's scenarios
#   scripts/bench.sh --scenarios l2-64 --rounds 5 --duration 10
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --perf
[ -d build-release ] || meson setup build-release --buildtype=release -Dguest_tests=false
ninja -C build-release control/inceptiond control/inceptionctl perf/inception-gen
exec /usr/bin/python3 perf/bench.py --build build-release "$@"
