#!/bin/sh
# SPDX-License-Identifier: MIT
# check-stop.sh EXPECT PROGRAM ARGS...: PROGRAM must stop (a non-zero exit
# status, within meson's timeout) and say EXPECT on stderr. Meson passes the
# wasm program as its .js file: run it with node.
expect=$1
shift
out=$(mktemp)
trap 'rm -f "$out"' EXIT
case $1 in
*.js) set -- node "$@" ;;
esac
"$@" 2>"$out"
rc=$?
cat "$out" >&2
if [ $rc -eq 0 ]; then
	echo "check-stop: exit status 0, not a stop" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
if ! grep -qF -- "$expect" "$out"; then
	echo "check-stop: exit status $rc, but no '$expect' on stderr" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
echo "check-stop: stopped with exit status $rc and the message"
echo "1 passed, 0 failed"
