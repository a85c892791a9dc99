#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install what is missing (Debian 12), build into ./build, then show the
# chosen backend and a short benchmark. Usage: tools/setup.sh [--no-run]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(meson ninja-build pkg-config gcc g++ libcunit1-dev libseccomp-dev gnuplot-nox)
# Extra tools the full test suite uses: valgrind and the spin model checker
# (the sanitizer runtimes come with gcc).
if [ "${TPARKER_SETUP_TEST_TOOLS:-0}" = 1 ]; then
	packages+=(valgrind spin)
fi

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}" >&2
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
fi

if [ ! -f build/build.ninja ]; then
	meson setup build --werror
fi
meson compile -C build

if [ "${1:-}" != "--no-run" ]; then
	export TPARKER_PLUGIN_PATH="$PWD/build/plugins"
	./build/tools/tparker list
	if ./build/tools/tparker help 2>/dev/null | grep -q bench; then
		./build/tools/tparker bench --quick
	fi
fi
