#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install what is missing, build, and run the whole test suite:
#   1. build/       gcc, --werror: every suite but the long 'stress' one
#   2. build/       the same binaries under valgrind memcheck: conformance and faults
#   3. build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer: conformance, faults, loader
#   4. build-tsan/  ThreadSanitizer: conformance (inline and not) and faults
# The full stress suite is separate: meson test -C build --suite stress
# Usage: tools/run-tests.sh [--quick]   (--quick: step 1 only)
set -euo pipefail
cd "$(dirname "$0")/.."
TPARKER_SETUP_TEST_TOOLS=1 tools/setup.sh --no-run

status=0
run() {
	echo "== $*" >&2
	"$@" || status=1
}

run meson test -C build --print-errorlogs --num-processes 2 --no-suite stress
if [ "${1:-}" = "--quick" ]; then
	exit $status
fi

run meson test -C build --print-errorlogs --num-processes 2 --setup valgrind \
	--suite conformance --suite faults

for san in asan tsan; do
	dir=build-$san
	if [ ! -f $dir/build.ninja ]; then
		case $san in
		asan) opt="-Db_sanitize=address,undefined" ;;
		tsan) opt="-Db_sanitize=thread" ;;
		esac
		meson setup $dir --werror $opt -Db_lundef=false
	fi
	if ! meson compile -C $dir >$dir/compile.log 2>&1; then
		cat $dir/compile.log >&2
		echo "run-tests: the $san build failed" >&2
		exit 1
	fi
	suites=(--suite conformance --suite faults)
	[ $san = asan ] && suites+=(--suite loader)
	[ $san = tsan ] && suites+=(--suite conformance-noinline)
	run meson test -C $dir --print-errorlogs --num-processes 2 "${suites[@]}"
done
exit $status
