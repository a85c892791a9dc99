#!/bin/sh
# SPDX-License-Identifier: MIT
# A Meson project pulls libtparker in as a subproject (its source tree linked
# into subprojects/libtparker), gets it from dependency('tparker') through
# meson.override_dependency (Meson says "(overridden)"), builds and runs.
# usage: consumer-meson.sh MESON SOURCE_ROOT PROJECT_DIR
set -eu

meson=$1 srcroot=$2 project=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# As in the source tree: the project in top/, the program beside it.
mkdir -p "$tmp/proj/top/subprojects"
cp "$project/meson.build" "$tmp/proj/top/"
cp "$project/../consumer.c" "$tmp/proj/"
ln -s "$srcroot" "$tmp/proj/top/subprojects/libtparker"

# Never an installed libtparker: the subproject is what is tested.
env -u PKG_CONFIG_PATH PKG_CONFIG_LIBDIR="$tmp/none" \
	"$meson" setup "$tmp/build" "$tmp/proj/top" --force-fallback-for=tparker \
	>"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; fail "meson setup of the consumer failed"; }
grep -q "Dependency tparker found: YES .* (overridden)" "$tmp/log" ||
	{ cat "$tmp/log" >&2; fail "dependency('tparker') did not come from the subproject"; }
"$meson" compile -C "$tmp/build" >"$tmp/log" 2>&1 ||
	{ cat "$tmp/log" >&2; fail "the consumer does not build"; }
TPARKER_PLUGIN_PATH="$tmp/build/subprojects/libtparker/plugins" "$tmp/build/consumer" ||
	fail "the consumer failed"
echo "ok: dependency('tparker') from the subproject; consumer built and ran"
