#!/bin/sh
# SPDX-License-Identifier: MIT
# Where the futex2 calls are missing, as under qemu-user 7.2 (futex_wait and
# futex_wake answer ENOSYS while futex(2) works), the library falls back
# cleanly: futex2 is reported unusable, the automatic default is futex,
# TPARKER_BACKEND=futex2,spin runs on spin, and futex2 alone is refused with
# its reason. Exits 77 where futex2 is usable (nothing to fall back from).
# usage: emulated-fallback.sh SELECT_CHILD PLUGIN_DIR
# MESON_EXE_WRAPPER (set by meson test in a cross build): the emulator.
set -u

child=$1
export TPARKER_PLUGIN_PATH="$2"
unset TPARKER_BACKEND TPARKER_DEBUG
status=0
fail() {
	echo "FAIL: $*" >&2
	status=1
}
# Runs select-child under the emulator; stdout in $out, stderr in $err, exit status in $rc.
run() {
	errf=$(mktemp)
	# The wrapper is a list of words (program, options): split it.
	# shellcheck disable=SC2086
	out=$(${MESON_EXE_WRAPPER:-} "$child" "$@" 2>"$errf")
	rc=$?
	err=$(cat "$errf")
	rm -f "$errf"
}

run futex futex2
[ $rc = 0 ] || fail "select-child futex futex2: exit $rc: $err"
echo "$out" | grep -qx "futex usable" || fail "futex is not usable here: $out"
if echo "$out" | grep -qx "futex2 usable"; then
	echo "SKIP: futex2 is usable here (${MESON_EXE_WRAPPER:-no emulator}): no fallback to test"
	exit 77
fi
echo "$out" | grep -qx "futex2 unusable" || fail "no verdict on futex2: $out"

run
first=$(echo "$out" | sed -n 1p)
[ $rc = 0 ] && [ "$first" = futex ] ||
	fail "automatic choice: want futex, got exit $rc, stdout [$out], stderr [$err]"

TPARKER_BACKEND=futex2,spin run
first=$(echo "$out" | sed -n 1p)
[ $rc = 0 ] && [ "$first" = spin ] && echo "$out" | grep -q "forced by TPARKER_BACKEND" ||
	fail "TPARKER_BACKEND=futex2,spin: want spin, got exit $rc, stdout [$out], stderr [$err]"

# Alone, an unusable backend is not silently replaced: the process ends,
# naming it (and the probe's reason).
TPARKER_BACKEND=futex2 run
[ $rc != 0 ] && [ -z "$out" ] && echo "$err" | grep -q futex2 ||
	fail "TPARKER_BACKEND=futex2: want a failure naming futex2, got exit $rc, stdout [$out], stderr [$err]"

[ $status = 0 ] && echo "futex2 unusable here; default futex; futex2,spin runs on spin; futex2 alone refused"
exit $status
