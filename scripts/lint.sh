#!/usr/bin/env bash
# Static checks on the project's own sources: formatting (check only),
# cppcheck and clang-tidy. Uses build/compile_commands.json (meson writes it).
#
#   scripts/lint.sh [BUILD_DIR]
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
[ -f "$build/compile_commands.json" ] || { echo "lint: run meson setup $build first" >&2; exit 2; }
mapfile -t sources < <(git ls-files '*.cpp' '*.h' | grep -E '^(control|dataplane|vhost|nat|include|perf|tests)/')
status=0

echo "== clang-format"
if ! clang-format --dry-run --Werror "${sources[@]}" 2> /tmp/inception-format.log; then
  grep -c -E '(warning|error):' /tmp/inception-format.log | xargs echo "formatting differences (clang-format -i fixes them):"
  status=1
fi

echo "== cppcheck"
cppcheck --quiet --enable=warning,performance,portability --inline-suppr --std=c++20 \
  --suppress=missingIncludeSystem --suppress=unknownMacro --error-exitcode=1 \
  -I include -I . $(git ls-files '*.cpp' | grep -E '^(control|dataplane|vhost|nat|perf)/') || status=1

echo "== clang-tidy"
mapfile -t tidy_sources < <(git ls-files '*.cpp' | grep -E '^(control|dataplane|vhost|nat)/')
clang-tidy -p "$build" --quiet "${tidy_sources[@]}" 2>/dev/null | grep -E 'warning:|error:' | grep -v '/usr/include' \
  | tee /tmp/inception-tidy.log
[ -s /tmp/inception-tidy.log ] && status=1
exit $status
