#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install what is missing, build, and run the whole test suite:
#   1. build/       gcc, --werror: every suite but the long 'stress' one
#   2. build/       the same binaries under valgrind memcheck: conformance and faults
#   3. build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer: conformance, faults,
#      lot, loader
#   4. build-tsan/  ThreadSanitizer: conformance (inline and not), faults, lot
#   4a. build-static/  libtparker.a with futex and pthread built in, no plugin
#      files: conformance, select, loader, faults, the static consumer
#   5. build-i386/, build-i386-t64/  i386 (gcc -m32): a library with the
#      traditional 32-bit time_t and one with a 64-bit time_t, each with
#      programs of both (suite time64) and the default suites, see
#      i386_suites below
#   6. build-aarch64/, build-riscv64/  cross builds (cross/*.ini) whose tests
#      run under qemu-user: conformance (inline and not), loader, select,
#      faults, stress-short; TPARKER_TEST_PORTS=0 leaves them out
#   7. build-win/   Windows (mingw-w64), the suite 'windows' under wine;
#      TPARKER_TEST_WINDOWS=0 leaves it out
#   8. build-wasm/, build-wasm-nothreads/  WebAssembly (Debian's emscripten),
#      static, wasm_atomic or wasm built in; the suite 'wasm' under node;
#      TPARKER_TEST_WASM=0 leaves it out
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

# Configure build folder $1 once (the rest: meson setup's options), then
# build it; either failing shows its log and stops the run.
build_dir() {
	local dir=$1 log
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		log=$(mktemp)
		if ! meson setup "$dir" --werror "$@" >"$log" 2>&1; then
			cat "$log" >&2
			echo "run-tests: configuring $dir failed" >&2
			exit 1
		fi
		rm -f "$log"
	fi
	if ! meson compile -C "$dir" >"$dir/compile.log" 2>&1; then
		cat "$dir/compile.log" >&2
		echo "run-tests: the $dir build failed" >&2
		exit 1
	fi
}

# The tests of build folder $1 in the suites given, by name, less the ones
# left out under emulation (fault-fork*: see the aarch64 step below) and
# those named by the grep patterns in $EMULATED_SKIP.
emulated_tests() {
	local dir=$1
	shift
	meson test -C "$dir" --list "$@" 2>/dev/null | sed -n 's|^libtparker:[^ ]* / ||p' |
		grep -v -e '^fault-fork' ${EMULATED_SKIP:+-e "$EMULATED_SKIP"}
}

run meson test -C build --print-errorlogs --num-processes 2 --no-suite stress
if [ "${1:-}" = "--quick" ]; then
	exit $status
fi

run meson test -C build --print-errorlogs --num-processes 2 --setup valgrind \
	--suite conformance --suite faults

for san in asan tsan; do
	dir=build-$san
	case $san in
	asan) opt="-Db_sanitize=address,undefined" ;;
	tsan) opt="-Db_sanitize=thread" ;;
	esac
	build_dir $dir $opt -Db_lundef=false
	suites=(--suite conformance --suite faults --suite lot)
	[ $san = asan ] && suites+=(--suite loader)
	[ $san = tsan ] && suites+=(--suite conformance-noinline)
	run meson test -C $dir --print-errorlogs --num-processes 2 "${suites[@]}"
done

# A static libtparker with futex and pthread built in and no plugin file
# (futex2 left out), natively: conformance, select (the choice, `tparker
# list`), loader and faults, each backend required to be the one in use
# (TPTEST_REQUIRE_BACKEND: no quiet fallback to spin), and a program linked
# with the installed libtparker.a by `pkg-config --static` (static-consumer)
# and by CMake's find_package (cmake-consumer).
dir=build-static
build_dir $dir -Ddefault_library=static -Dbuiltin_plugins=futex,pthread -Dfutex2=disabled
run env TPTEST_REQUIRE_BACKEND=1 meson test -C $dir --print-errorlogs --num-processes 2 \
	--suite conformance --suite select --suite loader --suite faults
run meson test -C $dir --print-errorlogs static-consumer cmake-consumer

# i386, both time_t sizes: the default suites as on the other ports
# (conformance inline and not, loader, select, faults, stress-short), and
# those that depend on the ABI: time64 (struct timespec of both sizes),
# symbols (the time64 exports), headers, alloc. Run under qemu-i386 where the
# kernel cannot run i386 programs, at valgrind's loop counts like the other
# ports. Left out: fault-fork*, which qemu-user 7.2 does not survive (see the
# aarch64 step); tools, readme, install and secure start programs of the
# target themselves; misuse reads the abort message, to which qemu adds its
# own; seccomp, syscalls and stress measure the emulator; parse and model do
# not depend on the ABI.
i386_suites=(--suite time64 --suite symbols --suite headers --suite loader --suite alloc
	--suite conformance --suite conformance-noinline --suite select --suite faults
	--suite stress-short --no-suite parse)
i386_skip="" i386_cross=(--cross-file cross/i386-linux-gnu.ini) i386_tests=()
probe=$(mktemp -d)
if ! echo 'int main(void) { return 0; }' | gcc -m32 -x c - -o "$probe/a" 2>/dev/null; then
	i386_skip="gcc -m32 cannot build programs here (Debian amd64: gcc-multilib g++-multilib)"
elif ! "$probe/a" 2>/dev/null; then
	if command -v qemu-i386 >/dev/null && qemu-i386 "$probe/a"; then
		i386_cross+=(--cross-file cross/qemu-i386.ini)
	else
		i386_skip="this kernel cannot run i386 programs and there is no qemu-i386 (qemu-user)"
	fi
fi
rm -rf "$probe"
# CUnit for the cross builds: Debian's source, which setup fetched into
# subprojects/cunit/ (the same for every port, no multiarch package needed).
cross_cunit=(--force-fallback-for=cunit)
if [ ! -f subprojects/cunit/meson.build ]; then
	echo "run-tests: no subprojects/cunit (subprojects/fetch-cunit.sh): the cross builds run no tests" >&2
	cross_cunit=(-Dtests=false)
fi
[ "${cross_cunit[0]}" = -Dtests=false ] && i386_tests=(-Dtests=false)
i386_cross+=("${cross_cunit[@]}")
if [ -n "$i386_skip" ]; then
	echo "run-tests: skipping the i386 builds: $i386_skip" >&2
else
	for dir in build-i386 build-i386-t64; do
		opt=()
		[ $dir = build-i386-t64 ] && opt=(--cross-file cross/time64.ini)
		build_dir $dir "${i386_cross[@]}" "${opt[@]}" "${i386_tests[@]}"
		[ ${#i386_tests[@]} -eq 0 ] || continue
		# alloc skips at valgrind's counts (valgrind replaces malloc): it
		# runs on its own.
		mapfile -t tests < <(EMULATED_SKIP='^alloc' emulated_tests $dir "${i386_suites[@]}")
		run env TPARKER_UNDER_VALGRIND=1 meson test -C $dir --print-errorlogs \
			--num-processes 2 "${tests[@]}"
		run meson test -C $dir --print-errorlogs --num-processes 2 --suite alloc
	done
fi

# aarch64 and riscv64: Debian's cross compilers, the tests under qemu-user
# (the cross files' exe_wrapper; test-select and emulated-fallback run their
# children under it too). The loops run at valgrind's counts
# (TPARKER_UNDER_VALGRIND=1), the emulator being about as slow. Left out:
# fault-fork*, because qemu-user 7.2 aborts in the child of a fork taken while
# other threads run as soon as the child starts a thread (an assertion in
# qemu's cpu_exec); parse, which does not depend on the ABI (and takes minutes
# under qemu); and, as for i386, the suites that start programs themselves
# (tools, readme, install, secure) or measure the emulator (seccomp,
# syscalls, stress, alloc).
port_suites=(--suite conformance --suite conformance-noinline --suite loader --suite select
	--suite faults --suite stress-short --no-suite parse)
for port in aarch64 riscv64; do
	[ "${TPARKER_TEST_PORTS:-1}" = 1 ] || break
	dir=build-$port
	if ! command -v $port-linux-gnu-gcc >/dev/null || ! command -v qemu-$port >/dev/null ||
		[ ! -f /usr/$port-linux-gnu/lib/crti.o ]; then
		echo "run-tests: skipping $port: needs gcc-$port-linux-gnu, its libc6-dev cross package and qemu-user" >&2
		continue
	fi
	build_dir $dir --cross-file cross/$port-linux-gnu.ini "${cross_cunit[@]}"
	# The backends and the default on this target, as a user would see them.
	run env TPARKER_PLUGIN_PATH="$PWD/$dir/plugins" LD_LIBRARY_PATH="$PWD/$dir/core" \
		qemu-$port -L /usr/$port-linux-gnu $dir/tools/tparker list
	[ "${cross_cunit[0]}" != -Dtests=false ] || continue
	mapfile -t tests < <(emulated_tests $dir "${port_suites[@]}")
	run env TPARKER_UNDER_VALGRIND=1 meson test -C $dir --print-errorlogs --num-processes 2 \
		"${tests[@]}"
done

# Windows x86_64: Debian's mingw-w64, the tests under wine (the cross file's
# exe_wrapper): waitonaddress, keyed and spin, inline and not, the choice,
# the loader, the DLLs' imports, tparker.exe (suite windows). TPARKER_TEST_WINDOWS=0
# leaves it out.
if [ "${TPARKER_TEST_WINDOWS:-1}" = 1 ]; then
	dir=build-win
	if ! command -v x86_64-w64-mingw32-gcc >/dev/null || ! command -v wine >/dev/null ||
		! command -v wineserver >/dev/null; then
		echo "run-tests: skipping Windows: needs gcc-mingw-w64-x86-64, wine64 and wine" >&2
	else
		build_dir $dir --cross-file cross/x86_64-w64-mingw32.ini \
			"${cross_cunit[@]}"
		if [ "${cross_cunit[0]}" != -Dtests=false ]; then
			# A prefix of its own in the build folder (about 700 MB). wine's
			# first process starts services that inherit the test's output
			# pipe, and meson would wait for them: start wineserver and
			# prewarm it with output elsewhere first, stop it after.
			run env WINEPREFIX="$PWD/$dir/wine" WINEDEBUG=-all WINEARCH=win64 sh -c '
				[ -d "$WINEPREFIX" ] || wineboot -i >/dev/null 2>&1
				wineserver -p 120
				wine cmd /c exit </dev/null >/dev/null 2>&1
				rc=0
				meson test -C "$1" --print-errorlogs --num-processes 2 --suite windows || rc=$?
				wineserver -k || true
				exit $rc' sh $dir
		fi
	fi
fi

# WebAssembly: Debian's emscripten (cross/wasm32-emscripten*.ini), a static
# libtparker with its backend built in, no plugin files: wasm_atomic with
# threads, the `wasm` stop without. The suite 'wasm' runs under node (the
# cross files' exe_wrapper); it is plain C, so no CUnit. TPARKER_TEST_WASM=0
# leaves it out.
if [ "${TPARKER_TEST_WASM:-1}" = 1 ]; then
	if ! command -v emcc >/dev/null || ! command -v node >/dev/null; then
		echo "run-tests: skipping WebAssembly: needs emscripten and node" >&2
	else
		for dir in build-wasm build-wasm-nothreads; do
			if [ $dir = build-wasm ]; then
				wasm_opt=(--cross-file cross/wasm32-emscripten.ini
					-Dbuiltin_plugins=wasm_atomic)
			else
				wasm_opt=(--cross-file cross/wasm32-emscripten-nothreads.ini
					-Dbuiltin_plugins=wasm)
			fi
			build_dir $dir "${wasm_opt[@]}" -Ddefault_library=static \
				-Dplugin_loading=false -Dtools=false --wrap-mode=nofallback
			run meson test -C $dir --print-errorlogs --num-processes 2 --suite wasm
		done
	fi
fi
exit $status
