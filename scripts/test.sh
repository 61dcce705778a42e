#!/usr/bin/env bash
# Sets up the machine, builds everything and runs the whole test suite:
# unit tests, integration tests on the real daemon, nested QEMU guests.
#
#   scripts/test.sh                  all suites
#   scripts/test.sh --sanitize       the same, built with ASan + UBSan (build-asan/)
#   scripts/test.sh [meson test args]  e.g. --suite unit
set -euo pipefail
cd "$(dirname "$0")/.."
build=build
setup_args=()
if [ "${1:-}" = "--sanitize" ]; then
  shift
  build=build-asan
  setup_args=(-Db_sanitize=address,undefined -Db_lundef=false)
fi
scripts/setup.sh --tests
[ -d "$build" ] || meson setup "$build" "${setup_args[@]}"
scripts/build-guest.sh "$build/guest"
ninja -C "$build"
# Integration suites start real daemons and guests one at a time; the
# summary at the end lists every test.
exec meson test -C "$build" --print-errorlogs "$@"
