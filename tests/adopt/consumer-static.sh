#!/bin/sh
# SPDX-License-Identifier: MIT
# The static library as a project meets it: a staged install (meson install
# --destdir) holds libtparker.a and no shared library, `pkg-config --static`
# gives the flags that link a program with it, and the program runs with no
# plugin file anywhere, on the plugins built into the library: the best one
# by default, and each one that TPARKER_BACKEND names.
# usage: consumer-static.sh MESON BUILDDIR CONSUMER_C LIBDIR PLUGINDIR BUILTINS NEEDS_LIBDL
#                           CC [CC_ARGS...]
#   LIBDIR and PLUGINDIR are absolute install paths (without DESTDIR); BUILTINS the comma
#   list of the plugins built in, highest priority first; NEEDS_LIBDL true when the
#   library's dlopen is in libdl rather than the C library.
set -eu

meson=$1 builddir=$2 consumer=$3 libdir=$4 plugindir=$5 builtins=$6 needs_libdl=$7
shift 7

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

"$meson" install -C "$builddir" --destdir "$tmp/dest" --no-rebuild --quiet >"$tmp/log" 2>&1 ||
	{ cat "$tmp/log" >&2; fail "meson install --destdir failed"; }
lib=$tmp/dest$libdir
[ -f "$lib/libtparker.a" ] || fail "no libtparker.a installed in $libdir"
[ -z "$(find "$tmp/dest" -name 'libtparker.so*')" ] ||
	fail "a static build installed a shared library: $(find "$tmp/dest" -name 'libtparker.so*')"

# Everything the archive defines for the world is tparker_*; its own
# functions are tp_* (hidden, and named so as not to meet a program's).
others=$(nm -g --defined-only "$lib/libtparker.a" | awk 'NF == 3 { print $3 }' |
	grep -v -e '^tparker_' -e '^tp_' || true)
[ -z "$others" ] || fail "libtparker.a defines names outside tparker_* and tp_*: $others"

export PKG_CONFIG_SYSROOT_DIR="$tmp/dest" PKG_CONFIG_PATH="$lib/pkgconfig"
unset PKG_CONFIG_LIBDIR
flags=$(pkg-config --static --cflags --libs tparker) ||
	fail "pkg-config --static --cflags --libs tparker failed"
echo "pkg-config --static --cflags --libs tparker: $flags"
case " $flags " in
*" -pthread "* | *" -lpthread "*) ;;
*) fail "no threads library in '$flags'" ;;
esac
case " $flags " in
*" -ldl "*) [ "$needs_libdl" = true ] || fail "-ldl in '$flags', but dlopen is in the C library" ;;
*) [ "$needs_libdl" = false ] || fail "no -ldl in '$flags', and the library's dlopen needs it" ;;
esac

cp "$consumer" "$tmp/consumer.c"
# shellcheck disable=SC2086 # flags are words
"$@" -std=c11 -Wall -Wextra -Wpedantic -Werror "$tmp/consumer.c" -o "$tmp/consumer" $flags ||
	fail "the consumer does not link with: $* $flags"
! ldd "$tmp/consumer" 2>/dev/null | grep -q libtparker ||
	fail "the consumer loads a shared libtparker: $(ldd "$tmp/consumer")"

# No plugin file on the search path (an empty folder). The compiled-in
# folder is the real one: plugins installed there would join the choice.
mkdir "$tmp/empty"
run() {
	env -u TPARKER_DEBUG -u LD_LIBRARY_PATH -u TPARKER_BACKEND TPARKER_PLUGIN_PATH="$tmp/empty" "$@" \
		timeout 20 "$tmp/consumer" >"$tmp/out" 2>&1
}
backend() {
	sed -n 's/.*, backend \([a-z0-9_-]*\)$/\1/p' "$tmp/out"
}
# Each built-in plugin by name: it runs, or its probe says why not here (a
# kernel without futex2, say), which is no failure of the library.
best=spin checked=
for name in $(echo "$builtins" | tr ',' ' '); do
	if run TPARKER_BACKEND="$name"; then
		[ "$(backend)" = "$name" ] || fail "TPARKER_BACKEND=$name ran on '$(backend)'"
		[ "$best" != spin ] || best=$name
		checked="$checked, $name"
	elif grep -q "$name: built-in $name: probe failed" "$tmp/out"; then
		checked="$checked, $name unusable here ($(sed -n 's/.*probe failed: \([^;]*\).*/\1/p' "$tmp/out"))"
	else
		cat "$tmp/out" >&2
		fail "the consumer failed with TPARKER_BACKEND=$name"
	fi
done
run || { cat "$tmp/out" >&2; fail "the consumer failed"; }
if [ -n "$(find "$plugindir" -name 'tparker-*' 2>/dev/null)" ]; then
	checked="$checked; the default, $(backend), not checked: $plugindir has plugins"
	best=$(backend)
fi
[ "$(backend)" = "$best" ] || fail "default backend '$(backend)', expected the built-in '$best'"
echo "ok: libtparker.a linked with pkg-config --static, ran with no plugin file" \
	"(default $best$checked)"
