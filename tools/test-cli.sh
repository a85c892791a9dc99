#!/bin/sh
# SPDX-License-Identifier: MIT
# The tparker command line: each command runs, usage errors exit 2, and the
# bench's JSON is valid. Usage: test-cli.sh TPARKER PYTHON
set -u
tool=$1
python=$2
unset TPARKER_BACKEND TPARKER_DEBUG
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
fails=0

# check NAME EXPECTED-STATUS PATTERN-IN-OUTPUT -- ARGS...
check() {
	name=$1 want=$2 pattern=$3
	shift 4
	"$tool" "$@" >"$out" 2>"$err"
	got=$?
	if [ "$got" -ne "$want" ]; then
		echo "FAIL $name: exit $got, expected $want"; cat "$out" "$err"
		fails=$((fails + 1))
	elif ! grep -q -- "$pattern" "$out" "$err"; then
		echo "FAIL $name: no '$pattern' in the output"; cat "$out" "$err"
		fails=$((fails + 1))
	else
		echo "ok   $name"
	fi
}

check list 0 '^default: ' -- list
check list-spin 0 'spin .* usable' -- list
check info 0 'sizeof(tparker_t) *128 bytes' -- info
check info-env 0 'TPARKER_PLUGIN_PATH' -- info
check help 0 'exit status' -- --help
check help-cmd 0 'usage: tparker' -- help
check version 0 '^tparker ' -- --version
check unknown-command 2 "unknown command 'frobnicate' (try 'tparker --help')" -- frobnicate
check no-command 2 "try 'tparker --help'" --
check bad-option 2 "unknown option '--nope'" -- bench --nope
check missing-arg 2 "'--rounds' needs an argument" -- bench --rounds
check bad-bench 2 "unknown benchmark 'nope'" -- bench --only nope
check list-extra 2 "unexpected argument" -- list extra

if "$tool" bench --quick --only fastpath --json >"$out" 2>"$err" &&
	"$python" -m json.tool "$out" >/dev/null &&
	grep -q '"raw-futex"' "$out" && grep -q '"fastpath_ns"' "$out"; then
	echo "ok   bench-json"
else
	echo "FAIL bench-json"; cat "$out" "$err"; fails=$((fails + 1))
fi

[ "$fails" -eq 0 ]
