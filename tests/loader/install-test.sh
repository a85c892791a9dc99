#!/bin/sh
# SPDX-License-Identifier: MIT
# Install into a scratch DESTDIR, then build and run a consumer program with
# nothing but the installed files and pkg-config. Then install to a prefix of
# its own, as a user does with --prefix /opt/x: a second build of this source
# tree configured for that prefix (a scratch directory standing for /opt/x),
# installed there for real, runs with no LD_LIBRARY_PATH and no
# TPARKER_PLUGIN_PATH: the tool finds its library (a relative rpath) and the
# library finds its plugins (the plugin directory of that prefix).
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

# ---- a prefix of its own ----------------------------------------------------
srcroot=$(cd "$(dirname "$0")/../.." && pwd)
prefix=$dest/opt/x
if ! "$meson" setup "$dest/build-prefix" "$srcroot" --prefix "$prefix" --buildtype plain \
	-Dtests=false -Dtools=true >"$dest/log" 2>&1 ||
	! "$meson" install -C "$dest/build-prefix" --quiet >>"$dest/log" 2>&1; then
	cat "$dest/log" >&2
	fail "configuring, building or installing for --prefix $prefix failed"
fi
tool=$prefix/bin/tparker
[ -x "$tool" ] || fail "no $tool installed"
runpath=$(readelf -d "$tool" | sed -n 's/.*R\(UN\)\{0,1\}PATH.*\[\(.*\)\]/\2/p')
case $runpath in
'$ORIGIN/'*) ;;
*) fail "$tool has rpath '$runpath', not one relative to \$ORIGIN" ;;
esac
# Nothing tells the tool where its prefix is.
info=$(env -u LD_LIBRARY_PATH -u TPARKER_PLUGIN_PATH -u TPARKER_BACKEND -u TPARKER_DEBUG \
	"$tool" info 2>&1) || fail "$tool info failed: $info"
got=$(echo "$info" | awk '$1 == "plugin" && $2 == "directory" { print $3 }')
case $got in
"$prefix"/*/tparker-1) ;;
*) fail "$tool info says plugin directory '$got', not one under $prefix" ;;
esac
ldd "$tool" | grep -q "$prefix/.*libtparker" || fail "$tool loads another libtparker: $(ldd "$tool")"
if [ -n "$(find "$prefix" -name 'tparker-pthread.so')" ]; then
	list=$(env -u LD_LIBRARY_PATH -u TPARKER_PLUGIN_PATH -u TPARKER_BACKEND -u TPARKER_DEBUG \
		"$tool" list 2>&1) || fail "$tool list failed: $list"
	echo "$list" | grep -q 'pthread' || fail "$tool list did not find the installed plugins: $list"
	echo "$list" | grep -Eq '^\* *spin|default: spin' &&
		fail "$tool list chose spin with the plugins installed: $list"
fi
echo "ok: installed, built a consumer with pkg-config, ran it; installed to --prefix $prefix," \
	"the tool found its library and plugins with no environment"
