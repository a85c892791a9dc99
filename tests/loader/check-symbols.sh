#!/bin/sh
# SPDX-License-Identifier: MIT
# The exported symbols are exactly the documented ones (libglvnd's and
# libinput's symbol checks):
#   libtparker exports the TPARKER_API functions of tparker.h, listed in
#   symbols.txt, each under the LIBTPARKER_1.0 version node, no data, and has
#   the soname libtparker.so.1; each plugin exports only its entry symbol and
#   does not link back to libtparker.
# usage: check-symbols.sh LIBTPARKER TPARKER_H SYMBOLS_TXT [PLUGIN...]
set -eu

lib=$1 header=$2 list=$3
shift 3
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

bad() {
	echo "FAIL: $*" >&2
	fail=1
}

# Defined dynamic symbols as "TYPE NAME[@VERSION]", version-node entries (A) dropped.
dynsyms() {
	nm -D --defined-only "$1" | awk '$2 != "A" && NF >= 3 { print $2, $3 }'
}

# symbols.txt: one name a line; blank lines and # comments allowed.
sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$list" | sort >"$tmp/documented"
if [ -n "$(uniq -d "$tmp/documented")" ]; then
	bad "$list lists a symbol twice: $(uniq -d "$tmp/documented" | tr '\n' ' ')"
fi
sed -n 's/^TPARKER_API.*[^A-Za-z0-9_]\(tparker_[A-Za-z0-9_]*\)(.*/\1/p' "$header" | sort -u \
	>"$tmp/declared"
if ! cmp -s "$tmp/documented" "$tmp/declared"; then
	bad "$list and the TPARKER_API functions of $header differ (< list, > header):"
	diff "$tmp/documented" "$tmp/declared" | grep '^[<>]' >&2 || true
fi

dynsyms "$lib" >"$tmp/lib-all"
awk '$1 == "T" || $1 == "W" { sub(/@.*/, "", $2); print $2 }' "$tmp/lib-all" | sort -u \
	>"$tmp/exported"
if ! cmp -s "$tmp/documented" "$tmp/exported"; then
	bad "exported functions of $lib differ from $list (< documented, > exported):"
	diff "$tmp/documented" "$tmp/exported" | grep '^[<>]' >&2 || true
fi
awk '$1 != "T" && $1 != "W"' "$tmp/lib-all" >"$tmp/lib-other"
if [ -s "$tmp/lib-other" ]; then
	bad "$lib exports symbols that are not functions:"
	cat "$tmp/lib-other" >&2
fi
awk '$1 == "T" || $1 == "W" { print $2 }' "$tmp/lib-all" | grep -v '@@LIBTPARKER_1\.0$' \
	>"$tmp/unversioned" || true
if [ -s "$tmp/unversioned" ]; then
	bad "exported without the default version LIBTPARKER_1.0: $(tr '\n' ' ' <"$tmp/unversioned")"
fi

soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
if [ "$soname" != "libtparker.so.1" ]; then
	bad "$lib has soname '$soname', expected libtparker.so.1"
fi

for plugin in "$@"; do
	got=$(dynsyms "$plugin" | awk '{ sub(/@.*/, "", $2); print $2 }' | sort -u | tr '\n' ' ')
	if [ "$got" != "tparker_backend_entry_v1 " ]; then
		bad "$plugin exports '$got', expected only tparker_backend_entry_v1"
	fi
	if readelf -d "$plugin" | grep -q 'NEEDED.*\[libtparker'; then
		bad "$plugin links against libtparker; plugins must not"
	fi
done

if [ "$fail" -eq 0 ]; then
	echo "ok: $(wc -l <"$tmp/exported") functions of $(basename "$lib") as documented;" \
		"soname libtparker.so.1; $# plugin(s) export only tparker_backend_entry_v1"
fi
exit "$fail"
