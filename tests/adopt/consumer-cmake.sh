#!/bin/sh
# SPDX-License-Identifier: MIT
# A CMake project finds a staged install (meson install --destdir) with
# find_package(tparker 1.1 CONFIG REQUIRED), links tparker::tparker, runs;
# KIND says which library the install holds: shared (the consumer loads the
# staged libtparker.so) or static (the archive is linked into it).
# usage: consumer-cmake.sh MESON BUILDDIR CMAKE PREFIX PLUGINDIR PROJECT_DIR KIND
set -eu

meson=$1 builddir=$2 cmake=$3 prefix=$4 plugindir=$5 project=$6 kind=$7
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

"$meson" install -C "$builddir" --destdir "$tmp/dest" --no-rebuild --quiet >"$tmp/log" 2>&1 ||
	{ cat "$tmp/log" >&2; fail "meson install --destdir failed"; }
# Only the staged tree: the package's paths are relative to its own file.
"$cmake" -S "$project" -B "$tmp/build" -DCMAKE_PREFIX_PATH="$tmp/dest$prefix" \
	-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF \
	>"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; fail "cmake could not configure against the install"; }
"$cmake" --build "$tmp/build" >"$tmp/log" 2>&1 ||
	{ cat "$tmp/log" >&2; fail "cmake --build failed"; }
found=$(sed -n 's/^tparker_DIR:PATH=//p' "$tmp/build/CMakeCache.txt")
case $found in
"$tmp/dest"/*) ;;
*) fail "find_package found tparker in '$found', not in the staged install" ;;
esac
# CMake's build tree rpath names the staged libdir; the plugins are staged too.
TPARKER_PLUGIN_PATH="$tmp/dest$plugindir" "$tmp/build/consumer" || fail "the consumer failed"
if [ "$kind" = shared ]; then
	ldd "$tmp/build/consumer" | grep -q "$tmp/dest.*libtparker" ||
		fail "the consumer did not load the staged libtparker: $(ldd "$tmp/build/consumer")"
else
	! ldd "$tmp/build/consumer" | grep -q libtparker ||
		fail "the consumer loads a libtparker.so; the archive was to be linked in:" \
			"$(ldd "$tmp/build/consumer")"
	nm "$tmp/build/consumer" | grep -q ' T tparker_init$' ||
		fail "tparker_init is not in the consumer: the archive was not linked in"
fi

# A major or a minor the install is not.
sed 's/tparker 1\.1 CONFIG/tparker 1.99 CONFIG/' "$project/CMakeLists.txt" >"$tmp/too-new.txt"
mkdir "$tmp/too-new"
cp "$tmp/too-new.txt" "$tmp/too-new/CMakeLists.txt"
cp "$project/../consumer.c" "$tmp/consumer.c"
if "$cmake" -S "$tmp/too-new" -B "$tmp/build2" -DCMAKE_PREFIX_PATH="$tmp/dest$prefix" \
	>"$tmp/log" 2>&1; then
	fail "find_package(tparker 1.99) accepted version $("$tmp/build/consumer" | cut -d' ' -f2)"
fi
echo "ok: find_package(tparker 1.1 CONFIG) found $found ($kind); consumer built and ran;" \
	"1.99 was refused"
