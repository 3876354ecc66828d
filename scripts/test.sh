#!/usr/bin/env bash
# Runs DiffKeeper's tests: installs what is missing, builds with warnings as errors, runs the
# unit tests under ASan+UBSan, checks formatting, then runs every ctest group (unit,
# integration, e2e) on the release build. The last lines are ctest's summary.
#
# Environment: DK_BUILD_DIR (default build/test), DK_JOBS (default: nproc),
#              DK_SKIP_ASAN=1 to skip the sanitizer pass (CI never sets it).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=${DK_JOBS:-$(nproc)}
build=${DK_BUILD_DIR:-$root/build/test}
asan=${build}-asan

bash scripts/install-deps.sh

# Compiled objects are cached outside the clone (keyed by content, with paths relative to the
# clone), so a second run in a fresh clone rebuilds in a minute or two instead of ~15.
export CCACHE_DIR=${CCACHE_DIR:-/var/cache/diffkeeper/ccache} CCACHE_BASEDIR=$root \
  CCACHE_NOHASHDIR=1 CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-8G}
launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)

echo "== build (release, -Werror) in $build"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDK_WERROR=ON "${launcher[@]}" \
  >/dev/null
ninja -C "$build" -j "$jobs"

if [[ "${DK_SKIP_ASAN:-0}" != 1 ]]; then
  echo "== unit tests under ASan+UBSan in $asan"
  cmake -S . -B "$asan" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DDK_WERROR=ON -DDK_SANITIZE=ON \
    -DDK_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
  ninja -C "$asan" -j "$jobs"
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    LSAN_OPTIONS=suppressions=$root/tests/lsan.supp:print_suppressions=0 \
    ctest --test-dir "$asan" -L unit -j "$jobs" --output-on-failure --timeout 600 \
    >"$asan/ctest.log" 2>&1; then
    cat "$asan/ctest.log"
    echo "sanitizer unit tests failed" >&2
    exit 1
  fi
  grep -E "tests passed|Total Test time" "$asan/ctest.log"
fi

echo "== clang-format check"
bash scripts/format.sh --check

echo "== all tests (unit, integration, e2e) in $build"
ctest --test-dir "$build" -j "$jobs" --output-on-failure --timeout 1800
