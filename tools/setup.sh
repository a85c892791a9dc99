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
	# gcc-12-multilib, not gcc-multilib: that one conflicts with the cross
	# compilers below (cross/i386-linux-gnu.ini does without it).
	[ "$arch" = amd64 ] && packages+=(gcc-12-multilib g++-12-multilib qemu-user)
	# The aarch64 and riscv64 cross builds (cross/*.ini), run under
	# qemu-user; the C libraries are only Recommends of the compilers.
	# dpkg-dev unpacks CUnit's source (subprojects/fetch-cunit.sh).
	[ "$arch" = amd64 ] && packages+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross
		gcc-riscv64-linux-gnu libc6-dev-riscv64-cross)
	packages+=(dpkg-dev)
	# The adopt suite: mandoc lints the man pages, cmake builds the CMake
	# consumer, abigail-tools' abidiff checks the ABI baseline.
	packages+=(mandoc cmake abigail-tools)
	# The Windows build (cross/x86_64-w64-mingw32.ini) and wine to run its
	# tests (64-bit only: no i386 multiarch needed): about 40 s, 1.2 GB.
	[ "$arch" = amd64 ] && packages+=(gcc-mingw-w64-x86-64 wine64 wine)
	# The WebAssembly builds (cross/wasm32-emscripten*.ini), run under
	# node: emscripten 3.1.6 with its C library prebuilt, on the clang and
	# lld already here (about 11 s, 840 MB). TPARKER_TEST_WASM=0: not needed.
	[ "${TPARKER_TEST_WASM:-1}" = 1 ] && packages+=(emscripten)
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

# CUnit for the cross builds (i386, aarch64, riscv64), which have no CUnit
# package of their architecture without dpkg --add-architecture: Debian's
# source, fetched into subprojects/cunit/. Not fatal: without it
# run-tests.sh builds them without tests.
if [ $test_tools = 1 ]; then
	subprojects/fetch-cunit.sh ||
		echo "setup: could not fetch CUnit's source; the cross builds run no tests" >&2
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
