#!/bin/sh
# SPDX-License-Identifier: MIT
# The exported symbols are exactly the documented ones (libglvnd's and
# libinput's symbol checks):
#   libtparker exports the TPARKER_API functions of tparker.h, listed in
#   symbols.txt, each as the default version of the node symbols.txt names
#   (LIBTPARKER_1.0 unless a LIBTPARKER_x.y tag says otherwise), no data, and
#   has the soname libtparker.so.1; each plugin exports only its entry symbol
#   and does not link back to libtparker.
# The names symbols.txt marks "time64" exist only on an ABI whose traditional
# time_t is 32 bits. A 64-bit library must not export them; a 32-bit one
# exports all or none of them, all with --time64. Plugins export
# tparker_backend_entry_v1, or tparker_backend_entry_v1_time64 when built with
# a 64-bit time_t there (backend.h), all the same one, or the --entry one.
# usage: check-symbols.sh [--time64] [--entry NAME] LIBTPARKER TPARKER_H SYMBOLS_TXT [PLUGIN...]
set -eu

want_time64=auto entry=
while [ $# -gt 0 ]; do
	case $1 in
	--time64) want_time64=yes ;;
	--entry)
		entry=$2
		shift
		;;
	*) break ;;
	esac
	shift
done
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

# symbols.txt: one name a line, maybe followed by the tag time64 and by the
# version node (LIBTPARKER_x.y, default LIBTPARKER_1.0); blank lines and
# # comments allowed.
sed -e 's/#.*//' "$list" | awk 'NF' >"$tmp/list"
awk '{ print $1 }' "$tmp/list" | sort >"$tmp/documented"
awk '{ t64 = 0; ok = 1
	for (i = 2; i <= NF; i++) {
		if ($i == "time64" && !t64) t64 = 1
		else if ($i !~ /^LIBTPARKER_[0-9]+\.[0-9]+$/) ok = 0
	}
	if (!ok) print > "/dev/stderr"
	else if (t64) print $1 > "'"$tmp/time64"'"
	else print $1 }' "$tmp/list" 2>"$tmp/badlines" >"$tmp/base.u"
touch "$tmp/time64"
sort "$tmp/base.u" >"$tmp/base"
sort -o "$tmp/time64" "$tmp/time64"
# NAME@@NODE for every name, the node each must be the default version of.
awk '{ node = "LIBTPARKER_1.0"
	for (i = 2; i <= NF; i++)
		if ($i ~ /^LIBTPARKER_/) node = $i
	print $1 "@@" node }' "$tmp/list" | sort >"$tmp/nodes"
if [ -s "$tmp/badlines" ]; then
	bad "$list has lines other than NAME [time64] [LIBTPARKER_x.y]: $(tr '\n' ' ' <"$tmp/badlines")"
fi
if [ -n "$(uniq -d "$tmp/documented")" ]; then
	bad "$list lists a symbol twice: $(uniq -d "$tmp/documented" | tr '\n' ' ')"
fi
# tparker.h and the headers beside it (lot.h, sync.h): the whole API.
sed -n 's/^TPARKER_API.*[^A-Za-z0-9_]\(tparker_[A-Za-z0-9_]*\)(.*/\1/p' "$header" \
	"${header%/*}"/*.h | sort -u \
	>"$tmp/declared"
if ! cmp -s "$tmp/documented" "$tmp/declared"; then
	bad "$list and the TPARKER_API functions of $header differ (< list, > header):"
	diff "$tmp/documented" "$tmp/declared" | grep '^[<>]' >&2 || true
fi

dynsyms "$lib" >"$tmp/lib-all"
awk '$1 == "T" || $1 == "W" { sub(/@.*/, "", $2); print $2 }' "$tmp/lib-all" | sort -u \
	>"$tmp/exported"
class=$(readelf -h "$lib" | awk '$1 == "Class:" { print $2 }')
if [ "$want_time64" = auto ]; then
	# No 64-bit ABI has a second time_t; a 32-bit one may (x32 does not).
	want_time64=no
	if [ "$class" = ELF32 ] && [ -n "$(comm -12 "$tmp/time64" "$tmp/exported")" ]; then
		want_time64=yes
	fi
fi
if [ "$want_time64" = yes ]; then
	sort "$tmp/base" "$tmp/time64" >"$tmp/expected"
else
	cp "$tmp/base" "$tmp/expected"
fi
if ! cmp -s "$tmp/expected" "$tmp/exported"; then
	bad "exported functions of $lib ($class, time64 calls: $want_time64) differ from $list" \
		"(< documented, > exported):"
	diff "$tmp/expected" "$tmp/exported" | grep '^[<>]' >&2 || true
fi
awk '$1 != "T" && $1 != "W"' "$tmp/lib-all" >"$tmp/lib-other"
if [ -s "$tmp/lib-other" ]; then
	bad "$lib exports symbols that are not functions:"
	cat "$tmp/lib-other" >&2
fi
awk '$1 == "T" || $1 == "W" { print $2 }' "$tmp/lib-all" | sort | comm -23 - "$tmp/nodes" \
	>"$tmp/unversioned"
if [ -s "$tmp/unversioned" ]; then
	bad "exported under another version than the node $list names:" \
		"$(tr '\n' ' ' <"$tmp/unversioned")"
fi

soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
if [ "$soname" != "libtparker.so.1" ]; then
	bad "$lib has soname '$soname', expected libtparker.so.1"
fi

first_entry=
for plugin in "$@"; do
	got=$(dynsyms "$plugin" | awk '{ sub(/@.*/, "", $2); print $2 }' | sort -u | tr '\n' ' ')
	case $got in
	"tparker_backend_entry_v1 " | "tparker_backend_entry_v1_time64 ") ;;
	*) bad "$plugin exports '$got', expected only tparker_backend_entry_v1[_time64]" ;;
	esac
	if [ -n "$entry" ] && [ "$got" != "$entry " ]; then
		bad "$plugin exports '$got', expected only $entry"
	fi
	if [ "$got" = "tparker_backend_entry_v1_time64 " ] && [ "$class" != ELF32 ]; then
		bad "$plugin exports tparker_backend_entry_v1_time64 on a 64-bit ABI"
	fi
	first_entry=${first_entry:-$got}
	if [ "$got" != "$first_entry" ]; then
		bad "$plugin exports '$got', another plugin '$first_entry'"
	fi
	if readelf -d "$plugin" | grep -q 'NEEDED.*\[libtparker'; then
		bad "$plugin links against libtparker; plugins must not"
	fi
done

if [ "$fail" -eq 0 ]; then
	echo "ok: $(wc -l <"$tmp/exported") functions of $(basename "$lib") as documented" \
		"(time64 calls: $want_time64); soname libtparker.so.1;" \
		"$# plugin(s) export only ${first_entry% }"
fi
exit "$fail"
