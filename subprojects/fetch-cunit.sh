#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fetch CUnit's source from Debian's archive (apt-get source cunit) into
# subprojects/cunit/, where Meson finds it when a build has no CUnit package
# of its own architecture: the cross builds (cross/*.ini) fall back to it, and
# a native build uses it with --force-fallback-for=cunit. The source is
# fetched, never committed (it is LGPL-2.0-or-later, in its COPYING).
#
# /etc is left alone: a private deb-src list, made from the Debian mirror the
# system's deb lines name, lives in a temporary directory with its own package
# lists and cache. Needs apt and dpkg-dev (dpkg-source); root is not needed.
# Usage: subprojects/fetch-cunit.sh      (does nothing when already fetched)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest=$here/cunit

if [ -f "$dest/src/TestRun.c" ]; then
	# Already fetched: only refresh the build file, which may have changed.
	cp "$here/packagefiles/cunit/meson.build" "$dest/meson.build"
	exit 0
fi

codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$codename" ] || codename=bookworm
# The first deb line (one-line or deb822 form) for the release itself, not
# -updates or -security: its URI is the mirror to take the source from.
mirror=$(
	{
		cat /etc/apt/sources.list 2>/dev/null || true
		for f in /etc/apt/sources.list.d/*.list; do [ -f "$f" ] && cat "$f"; done
	} | awk -v c="$codename" '$1 == "deb" {
		i = 2
		if ($2 ~ /^\[/) while (i <= NF && $i !~ /\]$/) i++
		if ($2 ~ /^\[/) i++
		if ($(i + 1) == c) { print $i; exit }
	}'
	for f in /etc/apt/sources.list.d/*.sources; do [ -f "$f" ] && { cat "$f"; echo; }; done |
		awk -v c="$codename" '
		function flush() {
			if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " c " ") && uris != "")
				{ split(uris, u, " "); print u[1]; exit }
			types = suites = uris = ""
		}
		/^[ \t]*$/ { flush(); next }
		/^Types:/ { sub(/^Types:[ \t]*/, ""); types = $0 }
		/^URIs:/ { sub(/^URIs:[ \t]*/, ""); uris = $0 }
		/^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
		END { flush() }'
)
mirror=$(echo "$mirror" | head -n 1)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/parts" "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/src"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: %s\n' \
	"$mirror" "$codename" "$keyring" >"$tmp/parts/src.sources"
apt_opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$tmp/parts"
	-o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" -o Debug::NoLocking=1)
# As root apt downloads as its _apt user, which cannot write into a private
# temporary directory: download as the caller, as apt would after warning.
[ "$(id -u)" != 0 ] || apt_opts+=(-o APT::Sandbox::User=root)
echo "fetch-cunit: apt-get source cunit from $mirror ($codename)" >&2
apt-get "${apt_opts[@]}" -qq update
(cd "$tmp/src" && apt-get "${apt_opts[@]}" -qq source cunit >/dev/null)

top=$(find "$tmp/src" -mindepth 1 -maxdepth 1 -type d -name 'cunit-*' | head -n 1)
[ -n "$top" ] && [ -f "$top/CUnit/Headers/CUnit.h.in" ] || {
	echo "fetch-cunit: no CUnit source tree in what apt-get source gave" >&2
	exit 1
}
new=$tmp/cunit
mkdir -p "$new/include/CUnit" "$new/src"
cp "$top/COPYING" "$new/"
cp "$top"/CUnit/Headers/*.h "$new/include/CUnit/"
# The shipped CUnit.h is stale; configure makes it from CUnit.h.in, as here
# (the result is Debian's /usr/include/CUnit/CUnit.h).
sed 's/@VERSION@-@RELEASE@/2.1-3/' "$top/CUnit/Headers/CUnit.h.in" >"$new/include/CUnit/CUnit.h"
for f in CUError MyMem TestDB TestRun Util; do
	cp "$top/CUnit/Sources/Framework/$f.c" "$new/src/"
done
cp "$top/CUnit/Sources/Basic/Basic.c" "$new/src/"
cp "$here/packagefiles/cunit/meson.build" "$new/"
rm -rf "$dest"
mv "$new" "$dest"
echo "fetch-cunit: $(basename "$top") in $dest" >&2
