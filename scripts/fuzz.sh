#!/usr/bin/env bash
# Long local fuzzing runs: builds the harnesses (build-sanitize/: clang,
# ASan + UBSan) and runs one or every target for a given time, one after
# the other. The committed seeds (tests/fuzz/corpus/TARGET/) are only read;
# what a run adds to the corpus, the crashes it finds and its log stay in
# fuzz-runs/TARGET/ (not committed), and the next run starts from there.
#
#   scripts/fuzz.sh [-t SECONDS] [TARGET...] [-- libFuzzer options]
#       default: 600 s for each of: bridge underlay arp router translate
#       icmp_error control config
#   scripts/fuzz.sh -t 3600 bridge -- -jobs=2 -workers=2
#
# Reproduce a crash: build-sanitize/tests/fuzz/fuzz_TARGET fuzz-runs/TARGET/artifacts/crash-...
set -euo pipefail
cd "$(dirname "$0")/.."
all=(bridge underlay arp router translate icmp_error control config)
seconds=600
targets=()
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    -t) seconds=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ " ${all[*]} " == *" $t "* ]] || { echo "fuzz: unknown target '$t' (one of: ${all[*]})" >&2; exit 2; }
done

scripts/sanitize-build.sh $(printf 'tests/fuzz/fuzz_%s ' "${targets[@]}")
status=0
summary=()
for t in "${targets[@]}"; do
  work=fuzz-runs/$t
  mkdir -p "$work"
  echo "fuzz: $t for ${seconds}s (log: $work/log)"
  if ! tests/fuzz/run_fuzzer.sh "build-sanitize/tests/fuzz/fuzz_$t" "tests/fuzz/corpus/$t" "$work" "$seconds" \
       "${extra[@]}" >"$work/log" 2>&1; then
    status=1
    echo "fuzz: $t FAILED: $(ls "$work"/artifacts/ 2>/dev/null | tr '\n' ' ')"
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -1)
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9]*' "$work/log" | tail -1)
  summary+=("$(printf '%-11s execs %-10s exec/s %-6s %s' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}")")
done
printf '%s\n' "${summary[@]}"
exit $status
