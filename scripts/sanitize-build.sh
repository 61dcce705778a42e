#!/usr/bin/env bash
# Sets up (once) and builds build-sanitize/: clang with AddressSanitizer and
# UBSan, the unit and integration tests and the libFuzzer harnesses, one
# build for all of them. scripts/test.sh runs its tests, scripts/fuzz.sh
# its fuzzers. (No QEMU guest tests here: the gcc build runs those.)
#
#   scripts/sanitize-build.sh [ninja targets...]
#   scripts/sanitize-build.sh --setup-only   configure build-sanitize/, build nothing
#                                            (`meson test` then builds what its tests need)
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-sanitize
if ! command -v clang++ >/dev/null; then
  echo "sanitize-build: clang++ is missing (scripts/setup.sh --tests, as root, installs it)" >&2
  exit 1
fi
if [ ! -d "$build" ]; then
  # -fno-sanitize-recover: undefined behaviour stops the process, as an
  # ASan report does, so that a fuzzer saves the input and a test fails.
  # A unity build (meson joins a target's sources four at a time): the
  # heavy headers (nlohmann/json, fmt, GoogleTest) are compiled and their
  # templates instantiated once per four files, a third less compiler time
  # for scripts/test.sh. The gcc build stays one file per object, for
  # scripts/lint.sh and quick rebuilds.
  CC=clang CXX=clang++ meson setup "$build" \
    -Db_sanitize=address,undefined -Db_lundef=false -Dcpp_args=-fno-sanitize-recover=all \
    -Dfuzzing=true -Dguest_tests=false -Dunity=on
fi
[ "${1:-}" = --setup-only ] || ninja -C "$build" "$@"
