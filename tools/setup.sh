#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install what is missing (Debian 12), build into ./build, then show the
# chosen backend and a short benchmark. Usage: tools/setup.sh [--no-run]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(meson ninja-build pkg-config gcc g++ libcunit1-dev libseccomp-dev gnuplot-nox)
# Extra tools the full test suite uses: valgrind and the spin model checker
# (the sanitizer runtimes come with gcc); on amd64 the i386 builds' gcc -m32
# and g++ -m32, and qemu-user for a kernel that cannot run i386 programs.
test_tools=0
[ "${TPARKER_SETUP_TEST_TOOLS:-0}" = 1 ] && test_tools=1
arch=$(dpkg --print-architecture)
if [ $test_tools = 1 ]; then
	packages+=(valgrind spin)
	[ "$arch" = amd64 ] && packages+=(gcc-multilib g++-multilib qemu-user)
fi

sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
# Debian's names of the packages missing from "$@".
missing_of() {
	local p status
	for p in "$@"; do
		status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		[ "$status" = "install ok installed" ] || echo "$p"
	done
}
# A list of another architecture that fails to download must not stop the
# install of what the lists that did download have.
apt_update() {
	$sudo apt-get update -qq ||
		echo "setup: apt-get update reported errors; going on with the lists it has" >&2
}

mapfile -t missing < <(missing_of "${packages[@]}")
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}" >&2
	apt_update
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
fi

# CUnit and libseccomp for i386 (Debian multiarch) let the i386 builds run
# their tests. Not fatal: without them run-tests.sh builds i386 without tests.
if [ $test_tools = 1 ] && [ "$arch" = amd64 ] && [ "${TPARKER_SETUP_I386:-1}" = 1 ]; then
	mapfile -t missing < <(missing_of libcunit1-dev:i386 libseccomp-dev:i386)
	if [ ${#missing[@]} -gt 0 ]; then
		echo "setup: installing ${missing[*]} (TPARKER_SETUP_I386=0: not)" >&2
		if ! dpkg --print-foreign-architectures | grep -qx i386; then
			$sudo dpkg --add-architecture i386
		fi
		apt_update
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
			--no-remove "${missing[@]}" >/dev/null ||
			echo "setup: could not install ${missing[*]}; the i386 builds run no tests" >&2
	fi
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
