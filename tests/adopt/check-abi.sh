#!/bin/sh
# SPDX-License-Identifier: MIT
# libtparker.so keeps the 1.x ABI of the committed baseline abi/libtparker.abi
# (libabigail's abidw of an x86-64 build): abidiff may report added
# functions, nothing else. No function or variable removed or changed, no
# change to a type they reach, which includes the size and layout of
# tparker_t that the header's inline paths read, nor to the soname or the
# symbol versions.
# To grow the ABI on purpose, regenerate the baseline (README: "ABI"):
#   abidw --no-corpus-path --no-show-locs --drop-undefined-syms \
#     --type-id-style hash build/core/libtparker.so --out-file abi/libtparker.abi
# usage: check-abi.sh ABIDIFF BASELINE LIBTPARKER
set -eu

abidiff=$1 baseline=$2 lib=$3

class=$(readelf -h "$lib" | awk '$1 == "Machine:" { $1 = ""; print }')
case $class in
*X86-64*) ;;
*)
	echo "skipped: the baseline is of x86-64, this library is for$class"
	exit 77
	;;
esac
if ! readelf -S "$lib" | grep -q '\.debug_info'; then
	echo "skipped: $lib has no debug information (abidiff needs -g: buildtype debug or debugoptimized)"
	exit 77
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
"$abidiff" "$baseline" "$lib" >"$out" 2>&1 || status=$?
cat "$out"
# abidiff's status: bit 1 error, 2 usage, 4 ABI change, 8 incompatible.
if [ $((status & 3)) -ne 0 ]; then
	echo "FAIL: abidiff could not compare (status $status)" >&2
	exit 1
fi
if [ $((status & 8)) -ne 0 ]; then
	echo "FAIL: an incompatible ABI change against $baseline (status $status)" >&2
	exit 1
fi
if [ $((status & 4)) -ne 0 ]; then
	# A change: allowed only when every summary says 0 Removed, 0 Changed.
	if grep -E 'changes summary:' "$out" | grep -Ev ' 0 Removed, 0 Changed[ ,(]' |
		grep -q .; then
		echo "FAIL: an ABI change against $baseline" >&2
		exit 1
	fi
	if grep -Eiq 'SONAME changed|architecture changed|needed changed' "$out"; then
		echo "FAIL: the ELF identity of $lib changed against $baseline" >&2
		exit 1
	fi
	echo "ok: only additions against $baseline (regenerate it when they are released)"
	exit 0
fi
echo "ok: the ABI of $lib equals $baseline"
