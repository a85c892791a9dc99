#!/bin/sh
# SPDX-License-Identifier: MIT
# `tparker list` of a library with plugins built in: each is listed as built
# in and usable (or unusable with its probe's reason), a plugin file of its
# name is listed as shadowed by it, and TPARKER_BACKEND=<name> makes it the
# default.
# usage: list-builtin.sh TPARKER BUILTINS SHADOW_DIR
#   BUILTINS is the comma list of the plugins built in; SHADOW_DIR a folder
#   holding a plugin file of each of their names.
set -eu

tool=$1 builtins=$2 shadow=$3
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
[ -n "$builtins" ] || { echo "skipped: no plugin is built into this libtparker"; exit 77; }

list() {
	env -u TPARKER_DEBUG -u TPARKER_BACKEND TPARKER_PLUGIN_PATH="$shadow" "$@" "$tool" list 2>&1 ||
		fail "tparker list failed ($*)"
}
out=$(list)
echo "$out"
for name in $(echo "$builtins" | tr ',' ' '); do
	# The entry's line, then the line under it that says where it is.
	entry=$(echo "$out" | awk -v n="$name" '
		$1 == n || ($1 == "*" && $2 == n) { getline where; print $0 "|" where; exit }')
	case $entry in
	*" usable "*"|"*"(built-in)" | *" unusable: built-in $name: "*"|"*"(built-in)") ;;
	*) fail "$name is not listed as built in: '$entry'" ;;
	esac
	echo "$out" | grep -Eq "^  $name +- +shadowed +by the built-in backend$" ||
		fail "$shadow/tparker-$name.so is not listed as shadowed by the built-in $name"
	case $entry in
	*" unusable: "*) continue ;;
	esac
	forced=$(list TPARKER_BACKEND="$name")
	echo "$forced" | grep -Eq "^\* $name " || fail "TPARKER_BACKEND=$name: $name is not the default: $forced"
	echo "$forced" | grep -q "^default: $name (forced by TPARKER_BACKEND" ||
		fail "TPARKER_BACKEND=$name: the default line does not say so: $forced"
done
echo "ok: the built-in plugins ($builtins) listed as built in, their files as shadowed"
