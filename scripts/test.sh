#!/usr/bin/env bash
# Sets up the machine, builds everything and runs the whole test suite, in
# two builds:
#  1. build/ (gcc, as shipped): unit, integration and nested QEMU guest tests,
#     and the Debian package installed in a clean Debian 12 root (suite package);
#  2. build-sanitize/ (clang, ASan + UBSan, scripts/sanitize-build.sh): the
#     unit and integration tests again (but the multi-rVM ones and the etcd
#     failover timings), and every fuzz harness for
#     fuzz_seconds (30) on its seed corpus (suite "fuzz"). A sanitizer report
#     from any process there, daemons and their peers included, fails the run.
#
#   scripts/test.sh                       both builds, every suite
#   scripts/test.sh --gcc | --sanitize    one build only
#   scripts/test.sh [...] [meson test args]   e.g. --suite unit
#   scripts/test.sh --gcc --suite migration   live migration (not in the default run)
set -euo pipefail
cd "$(dirname "$0")/.."
builds=(gcc sanitize)
case "${1:-}" in
  --gcc) builds=(gcc); shift ;;
  --sanitize) builds=(sanitize); shift ;;
esac
scripts/setup.sh --tests

status=0
for b in "${builds[@]}"; do
  start=$SECONDS
  if [ "$b" = gcc ]; then
    # Prefix /usr: the package suite packages this build as Debian's
    # layout wants it (tests/package_test.sh skips a build under /usr/local).
    [ -d build ] || meson setup build --prefix=/usr
    scripts/build-guest.sh build/guest
    ninja -C build
    # Integration suites start real daemons and guests one at a time; the
    # summary at the end lists every test. Without arguments, all but the
    # live-migration suite: under TCG here QEMU now and then resumes a
    # guest with its memory corrupted (docs/libvirt.md#limits), which would
    # fail a run for reasons outside the switch.
    selection=("$@")
    [ $# -gt 0 ] || selection=(--no-suite migration)
    meson test -C build --print-errorlogs "${selection[@]}" || status=1
  else
    # Only what the selected tests need is built (meson test builds each
    # test's declared dependencies): the multi-rVM and cluster test binaries
    # and the benchmark's generator are not, about a minute on two cores.
    scripts/sanitize-build.sh --setup-only
    # Every process of the run (tests, daemons, peers, fuzzers) writes its
    # sanitizer reports here; UBSan stops at the first one, as ASan does.
    reports=$PWD/build-sanitize/sanitizer-reports
    rm -rf "$reports" && mkdir -p "$reports"
    # Without arguments, everything but the multi-rVM suites (vxlan, nat,
    # tenants: ~5 of the sanitizer pass's minutes, on the fast-path code the
    # fuzzers and the hostile suite already drive here), to keep .ci/run
    # under 30 minutes on two cores. Nor the package suite: a package is
    # made of the gcc build, and the first pass installs it already. Nor
    # failover_timing: etcd members stopped, silent or killed under a lease
    # time the client's failover (the killed-member watch test stays).
    selection=("$@")
    [ $# -gt 0 ] || selection=(--no-suite multi_rvm --no-suite migration --no-suite package --no-suite failover_timing)
    ASAN_OPTIONS=log_path=$reports/asan UBSAN_OPTIONS=log_path=$reports/ubsan:halt_on_error=1:print_stacktrace=1 \
      meson test -C build-sanitize --print-errorlogs "${selection[@]}" || status=1
    if [ -n "$(ls -A "$reports")" ]; then
      echo "test: sanitizer reports in $reports:" >&2
      head -n 40 "$reports"/* >&2
      status=1
    fi
  fi
  echo "test: $b build and tests took $((SECONDS - start)) s"
done
exit $status
