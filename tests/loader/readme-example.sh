#!/bin/sh
# SPDX-License-Identifier: MIT
# The README's example program compiles against the build tree and runs.
# It is the ```c block right after the line "<!-- example: tests compile this -->",
# or after the line README_EXAMPLE_MARKER names (another example of the README).
# usage: readme-example.sh README INCLUDE_DIR LIBTPARKER PLUGIN_DIR CC [CC_ARGS...]
set -eu

readme=$1 incdir=$2 lib=$3 plugindir=$4
shift 4
marker=${README_EXAMPLE_MARKER:-'<!-- example: tests compile this -->'}

if [ ! -f "$readme" ]; then
	echo "FAIL: $readme does not exist (it must hold the example program)" >&2
	exit 1
fi
if ! grep -qxF "$marker" "$readme"; then
	echo "FAIL: no line '$marker' in $readme: the example program must follow it" \
		"in a \`\`\`c block" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# state 0: before the marker; 1: expecting the fence; 2: in the block; 3: closed.
awk -v marker="$marker" -v out="$tmp/example.c" '
	state == 0 && $0 == marker { state = 1; next }
	state == 1 && /^[[:space:]]*$/ { next }
	state == 1 { if ($0 == "```c") { state = 2; next } exit 2 }
	state == 2 && $0 == "```" { state = 3; exit 0 }
	state == 2 { print > out }
	END { if (state != 3) exit 2 }
' "$readme" || {
	echo "FAIL: the line after '$marker' in $readme must open a \`\`\`c block," \
		"closed by a line \`\`\`" >&2
	exit 1
}

libdir=$(cd "$(dirname "$lib")" && pwd)
if ! "$@" -Wall -Wextra -Werror -pthread -I"$incdir" "$tmp/example.c" -o "$tmp/example" \
	-L"$libdir" -ltparker -Wl,-rpath,"$libdir"; then
	echo "FAIL: the README example does not compile cleanly (-Wall -Wextra -Werror)" >&2
	exit 1
fi

status=0
env -u TPARKER_BACKEND -u TPARKER_DEBUG TPARKER_PLUGIN_PATH="$plugindir" \
	LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" timeout 20 "$tmp/example" ||
	status=$?
if [ "$status" -ne 0 ]; then
	echo "FAIL: the README example exited with status $status" >&2
	exit 1
fi
echo "ok: the README example compiles and runs"
