#!/bin/sh
# SPDX-License-Identifier: MIT
# The man pages: every page Meson installs passes `mandoc -T lint` with no
# report of warning level or worse; every page in man/ is installed; every
# exported name of symbols.txt has a section 3 page of its own name, whose
# NAME section (.Nm) names it, directly or through a .so link. A new
# function therefore fails here until it has a page or a link.
# usage: check-man.sh MANDOC MAN_SRC_DIR SYMBOLS_TXT PAGE...
set -eu

mandoc=$1 srcdir=$2 list=$3
shift 3
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad() {
	echo "FAIL: $*" >&2
	fail=1
}

# Staged as installed (manN/), so that .so links resolve as man(1) does.
for page in "$@"; do
	sec=${page##*.}
	mkdir -p "$tmp/man$sec"
	cp "$page" "$tmp/man$sec/"
done
for page in "$srcdir"/*.[0-9]; do
	name=${page##*/}
	[ -f "$tmp/man${name##*.}/$name" ] || bad "$page is not installed (man/meson.build)"
done

sed -e 's/#.*//' "$list" | awk 'NF { print $1 }' >"$tmp/names"
cd "$tmp"
for page in man*/*; do
	# A link page is one line, .so manN/PAGE.N, naming an installed page
	# (mandoc's only report on it would be that .so exists at all).
	if head -n 1 "$page" | grep -q '^\.so'; then
		target=$(sed -n '1s/^\.so  *//p' "$page")
		case $target in
		man[0-9]/*) ;;
		*) bad "$page: '.so $target' is not manN/PAGE" ;;
		esac
		[ "$(wc -l <"$page")" -eq 1 ] || bad "$page: a .so page is one line"
		[ -f "$target" ] || bad "$page links to $target, which is not installed"
		continue
	fi
	echo "$page" >>"$tmp/pages"
done
# One run for all: each report names its file.
out=$("$mandoc" -T lint -W warning $(cat "$tmp/pages") 2>&1) || [ -n "$out" ] ||
	out="mandoc -T lint failed"
if [ -n "$out" ]; then
	bad "mandoc -T lint:"
	echo "$out" >&2
fi
# shellcheck disable=SC2046 # page names have no blanks
"$mandoc" -T utf8 $(cat "$tmp/pages") >/dev/null 2>&1 || bad "a page does not render"

npages=0
while read -r name; do
	page=man3/$name.3
	if [ ! -f "$page" ]; then
		bad "$name has no man page ($page; or a .so link to the page that documents it)"
		continue
	fi
	target=$(sed -n '1s/^\.so  *//p' "$page")
	if [ -n "$target" ]; then
		[ -f "$target" ] || {
			bad "$page links to $target, which is not installed"
			continue
		}
		page=$target
	fi
	# .Nm NAME or .Nm NAME , in the NAME section.
	if ! sed -n '/^\.Sh NAME/,/^\.Sh /p' "$page" | grep -Eq "^\.Nm $name( ,)?\$"; then
		bad "$page does not name $name in its NAME section"
	fi
	npages=$((npages + 1))
done <"$tmp/names"

[ "$fail" -eq 0 ] && echo "ok: $# pages lint clean; all $npages exported names documented"
exit "$fail"
