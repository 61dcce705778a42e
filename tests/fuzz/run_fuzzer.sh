#!/bin/sh
# Runs one libFuzzer harness for a bounded time: the seed corpus is read,
# never written; what the run finds (new corpus entries, crashes) goes to
# WORK_DIR, outside the repository.
#
#   run_fuzzer.sh BINARY SEED_DIR WORK_DIR SECONDS [libFuzzer options...]
set -eu
binary=$1 seeds=$2 work=$3 seconds=$4
shift 4
mkdir -p "$work/corpus" "$work/artifacts"
# libFuzzer exits 77 on a crash or a failed check by default, which meson
# reads as "skipped": make every finding a failure.
exec "$binary" -max_total_time="$seconds" -timeout=25 -print_final_stats=1 \
  -error_exitcode=1 -timeout_exitcode=1 \
  -artifact_prefix="$work/artifacts/" "$@" "$work/corpus" "$seeds"
