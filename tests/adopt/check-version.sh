#!/bin/sh
# SPDX-License-Identifier: MIT
# The version lives in one place, meson.build's project(); everything that
# states it must agree with that MAJOR.MINOR.PATCH:
#   the pkg-config file's Version: says it exactly (version.c checks
#   tparker_version());
#   the soname is libtparker.so.MAJOR;
#   the newest symbol version node of the map is LIBTPARKER_MAJOR.MINOR (a
#   minor version is the one that adds to the ABI) and all nodes are MAJOR.x;
#   backend.h's plugin ABI is MAJOR.MINOR.
# usage: check-version.sh VERSION LIBTPARKER PC_FILE MAP BACKEND_H
set -eu

version=$1 lib=$2 pc=$3 map=$4 backend_h=$5
fail=0
bad() {
	echo "FAIL: $*" >&2
	fail=1
}

major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}
case $version in
*.*.*) ;;
*) bad "project version '$version' is not MAJOR.MINOR.PATCH" ;;
esac

got=$(sed -n 's/^Version: *//p' "$pc")
[ "$got" = "$version" ] || bad "$pc says Version: '$got', the project is $version"

got=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
[ "$got" = "libtparker.so.$major" ] || bad "soname '$got', expected libtparker.so.$major"

# Node names in definition order.
nodes=$(sed -e 's,/\*.*\*/,,' "$map" | sed -n 's/^\(LIBTPARKER_[0-9.]*\) *{.*/\1/p')
newest=$(echo "$nodes" | sort -t. -k2,2n | tail -n 1)
[ "$newest" = "LIBTPARKER_$major.$minor" ] ||
	bad "the newest node of $map is '$newest', expected LIBTPARKER_$major.$minor"
for n in $nodes; do
	case $n in
	"LIBTPARKER_$major".*) ;;
	*) bad "$map has node $n of another major than $major" ;;
	esac
done

abi_major=$(sed -n 's/^#define TPARKER_BACKEND_ABI_MAJOR \([0-9]*\)$/\1/p' "$backend_h")
abi_minor=$(sed -n 's/^#define TPARKER_BACKEND_ABI_MINOR \([0-9]*\)$/\1/p' "$backend_h")
[ "$abi_major.$abi_minor" = "$major.$minor" ] ||
	bad "$backend_h has plugin ABI '$abi_major.$abi_minor', the project is $major.$minor"

[ "$fail" -eq 0 ] && echo "ok: $version everywhere (soname libtparker.so.$major, node $newest," \
	"plugin ABI $abi_major.$abi_minor)"
exit "$fail"
