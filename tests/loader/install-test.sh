#!/bin/sh
# SPDX-License-Identifier: MIT
# Install into a scratch DESTDIR, then build and run a consumer program with
# nothing but the installed files and pkg-config.
# usage: install-test.sh MESON BUILDDIR CONSUMER_C LIBDIR PLUGINDIR PLUGIN_NAMES CC [CC_ARGS...]
#   LIBDIR and PLUGINDIR are absolute install paths (without DESTDIR);
#   PLUGIN_NAMES is a comma list of the plugins the build installs.
set -eu

meson=$1 builddir=$2 consumer=$3 libdir=$4 plugindir=$5 plugins=$6
shift 6

dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

if ! "$meson" install -C "$builddir" --destdir "$dest" --no-rebuild --quiet >"$dest.log" 2>&1; then
	cat "$dest.log" >&2
	rm -f "$dest.log"
	fail "meson install --destdir failed"
fi
rm -f "$dest.log"

pcdir=$dest$libdir/pkgconfig
[ -f "$pcdir/tparker.pc" ] || fail "no tparker.pc installed in $libdir/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$dest" PKG_CONFIG_PATH="$pcdir"
unset PKG_CONFIG_LIBDIR

# Only the real plugins are installed, never the test ones.
for f in $(find "$dest" -name 'tparker-*.so' | sort); do
	name=${f##*/tparker-}
	name=${name%.so}
	case ",$plugins," in
	*",$name,"*) ;;
	*) fail "installed $f, which is not one of the plugins ($plugins)" ;;
	esac
	[ "$f" = "$dest$plugindir/tparker-$name.so" ] || fail "plugin installed as $f"
done

pc_plugindir=$(pkg-config --variable=plugindir tparker) || fail "pkg-config tparker failed"
# pkgconf may or may not put the sysroot in front of a variable.
case "$pc_plugindir" in
"$dest"/*) pc_plugindir=${pc_plugindir#"$dest"} ;;
esac
case "$pc_plugindir" in
*/tparker-1) ;;
*) fail "pkg-config plugindir is '$pc_plugindir', which does not end with tparker-1" ;;
esac
[ "$pc_plugindir" = "$plugindir" ] ||
	fail "pkg-config plugindir is '$pc_plugindir', the build installs into '$plugindir'"

flags=$(pkg-config --cflags --libs tparker) || fail "pkg-config --cflags --libs tparker failed"
# Built away from the source tree, so only installed headers can be found.
cp "$consumer" "$dest/consumer.c"
# shellcheck disable=SC2086 # flags are words
"$@" -std=c11 -Wall -Wextra -Wpedantic -Werror "$dest/consumer.c" -o "$dest/consumer" $flags ||
	fail "the consumer does not build with: $* $flags"

status=0
env -u TPARKER_BACKEND -u TPARKER_DEBUG LD_LIBRARY_PATH="$dest$libdir" \
	TPARKER_PLUGIN_PATH="$dest$plugindir" timeout 20 "$dest/consumer" "$dest$plugindir" \
	>"$dest/out" 2>&1 || status=$?
cat "$dest/out"
[ "$status" -eq 0 ] || fail "the consumer exited with status $status"

# With pthread installed, a usable plugin exists: the default is not spin.
if [ -f "$dest$plugindir/tparker-pthread.so" ] && grep -qx 'default: spin' "$dest/out"; then
	fail "the installed plugins were not used (default: spin)"
fi
echo "ok: installed, built a consumer with pkg-config, ran it"
