#!/bin/sh
# SPDX-License-Identifier: MIT
# tparker.exe under wine: list shows the Windows backends with the default
# chosen by the probe, info works, a very short bench completes and says whose
# figures they are. Usage: test-cli-windows.sh WINE TPARKER.EXE
# (TPARKER_PLUGIN_PATH and WINEPATH come from meson).
set -u
wine=$1
tool=$2
unset TPARKER_BACKEND TPARKER_DEBUG
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$out.raw" "$err"' EXIT
fails=0

# check NAME EXPECTED-STATUS -- ARGS... ; then expect/refuse PATTERN on its output
check() {
	name=$1 want=$2
	shift 3
	"$wine" "$tool" "$@" >"$out.raw" 2>"$err"
	got=$?
	# The C runtime writes text mode: CR LF line ends.
	tr -d '\r' <"$out.raw" >"$out"
	rm -f "$out.raw"
	current=$name
	if [ "$got" -ne "$want" ]; then
		echo "FAIL $name: exit $got, expected $want"; cat "$out" "$err"
		fails=$((fails + 1))
	else
		echo "ok   $name"
	fi
}

expect() {
	if grep -q -E -- "$1" "$out" "$err"; then
		echo "ok   $current: '$1'"
	else
		echo "FAIL $current: no '$1' in the output"; cat "$out" "$err"
		fails=$((fails + 1))
	fi
}

check list 0 -- list
expect '^  spin +0  usable'
expect '^  keyed +200  usable'
expect 'tparker-keyed\.dll$'
# The probe's choice: the highest priority usable plugin, marked with '*'.
expect '^\* waitonaddress +300  usable'
expect 'tparker-waitonaddress\.dll$'
expect '^default: waitonaddress \(highest priority usable plugin'

check info 0 -- info
expect '^libtparker +[0-9]+\.[0-9]+\.[0-9]+'
expect '^plugin directory +[A-Za-z]:\\'
expect '^default backend +waitonaddress '

TPARKER_BACKEND=keyed check info-forced 0 -- info
expect '^default backend +keyed '

# Seconds, not a measurement: the rows are there and the notes say what the
# figures are (wine's) and why no inline baselines.
check bench 0 -- bench --quick --rounds 1 --only fastpath,pingpong,timeout
expect '^note: measured under wine .*these figures are wine'"'"'s'
expect '^note: no inline baselines on Windows'
expect 'ratio: median of \(variant / waitonaddress\)'
for name in waitonaddress keyed spin waitonaddress-direct; do
	expect "^[* ] $name +[0-9.]+ ns"
done
if grep -q -E '^[* ] (raw-futex|raw-condvar|posix-sem) ' "$out"; then
	echo "FAIL bench: a POSIX baseline in the Windows table"; cat "$out"
	fails=$((fails + 1))
fi

check bench-json 0 -- bench --quick --rounds 1 --only fastpath --json
expect '"ratio_reference": "waitonaddress"'
expect '"keyed": \{'

[ "$fails" -eq 0 ] || { echo "$fails failed"; exit 1; }
