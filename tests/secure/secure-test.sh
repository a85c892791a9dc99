#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Secure execution: a setuid (and a setgid) root program linked with
# libtparker, run by an unprivileged user with TPARKER_BACKEND and
# TPARKER_PLUGIN_PATH pointing at a planted plugin, must not load it and must
# choose its backend as if neither variable were set. The same program
# without the setuid/setgid bit does load it, so the test can fail.
#
# Usage: secure-test.sh <helper.c> <include dir> <libtparker.so> <its soname>
#                       <tparker-evil.so> <mark file> <sanitizers> <cc command...>
# Exit status: 0 pass, 1 fail, 77 skip (not root, no unprivileged user, ...).
set -u

if [ $# -lt 8 ]; then
	echo "usage: $0 helper.c include-dir libtparker.so soname tparker-evil.so mark sanitizers cc..." >&2
	exit 1
fi
helper_src=$1 include_dir=$2 lib=$3 soname=$4 evil=$5 mark=$6 sanitizers=$7
shift 7
cc=("$@")

skip() {
	echo "SKIP secure: $*"
	exit 77
}
fail() {
	echo "FAIL secure: $*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || skip "needs root (to make a setuid root program)"
command -v setpriv >/dev/null || skip "needs setpriv (util-linux)"
user=nobody
group=$(id -gn "$user" 2>/dev/null) || skip "no user '$user'"
[ "$(id -u "$user")" != 0 ] || skip "'$user' is root"
# A setuid program under a sanitizer's runtime proves nothing about ours.
[ "$sanitizers" = none ] || skip "not run in a sanitizer build ($sanitizers)"

tmp=$(mktemp -d /tmp/tparker-secure.XXXXXX) || fail "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
mkdir -m 755 "$tmp/plugins"

# Everything the unprivileged user runs lives in $tmp (readable by all):
# libtparker beside the helper, found through an absolute RUNPATH, which
# glibc honours in a setuid program (unlike $ORIGIN or LD_LIBRARY_PATH).
cp "$lib" "$tmp/$soname" || fail "cannot copy $lib"
cp "$evil" "$tmp/plugins/tparker-evil.so" || fail "cannot copy $evil"
chmod 644 "$tmp/$soname" "$tmp/plugins/tparker-evil.so"
"${cc[@]}" -std=c11 -D_GNU_SOURCE -I"$include_dir" "$helper_src" -o "$tmp/plain-helper" \
	"$tmp/$soname" -Wl,-rpath,"$tmp" -Wl,--enable-new-dtags ||
	fail "cannot compile the helper"
chmod 755 "$tmp/plain-helper"
cp "$tmp/plain-helper" "$tmp/suid-helper"
cp "$tmp/plain-helper" "$tmp/sgid-helper"
chown root:root "$tmp/suid-helper" "$tmp/sgid-helper"
chmod 4755 "$tmp/suid-helper"
chmod 2755 "$tmp/sgid-helper"

# The mark's directory is fixed at build time; the unprivileged user must be
# able to create the mark there when the plugin does get loaded.
markdir=$(dirname "$mark")
mkdir -p "$markdir" && chmod 1777 "$markdir" || fail "cannot make $markdir"
rm -f "$mark"

as_user() {
	# A clean environment: only what each run sets.
	setpriv --reuid="$user" --regid="$group" --clear-groups env -i PATH=/usr/bin:/bin "$@"
}
as_user test -w "$markdir" || skip "$user cannot write to $markdir (a parent directory is closed)"
as_user test -x "$tmp/plain-helper" || skip "$user cannot run programs in $tmp"

# run NAME PROGRAM [VAR=VALUE...]: output in $tmp/NAME.out and .err
run() {
	local name=$1 prog=$2
	shift 2
	as_user "$@" "$tmp/$prog" >"$tmp/$name.out" 2>"$tmp/$name.err"
	local rc=$?
	if [ $rc != 0 ]; then
		echo "--- $name: stdout" >&2
		cat "$tmp/$name.out" >&2
		echo "--- $name: stderr" >&2
		cat "$tmp/$name.err" >&2
		fail "$name: $prog exited with status $rc"
	fi
}
field() { sed -n "s/^$2=//p" "$tmp/$1.out"; }

# The expectation: the backend chosen with no TPARKER_* variable at all.
run expected plain-helper
[ "$(field expected secure)" = 0 ] || fail "the plain helper runs in secure mode"
[ "$(field expected park)" = ok ] || fail "expected run: no park cycle"
echo "without TPARKER_*: backend=$(field expected backend) ($(field expected reason))"

evil_env_path=(TPARKER_BACKEND="$tmp/plugins/tparker-evil.so" TPARKER_PLUGIN_PATH="$tmp/plugins"
	TPARKER_DEBUG=1)
evil_env_name=(TPARKER_BACKEND=evil TPARKER_PLUGIN_PATH="$tmp/plugins" TPARKER_DEBUG=1)

for prog in suid-helper sgid-helper; do
	for form in path name; do
		name=$prog-$form
		if [ $form = path ]; then
			run "$name" "$prog" "${evil_env_path[@]}"
		else
			run "$name" "$prog" "${evil_env_name[@]}"
		fi
		[ "$(field "$name" secure)" = 1 ] ||
			skip "$prog did not run in secure mode (is $tmp on a nosuid mount?)"
		[ ! -e "$mark" ] || fail "$name: tparker-evil.so was loaded into a $prog program"
		[ "$(field "$name" backend)" = "$(field expected backend)" ] ||
			fail "$name: backend $(field "$name" backend), expected $(field expected backend)"
		[ "$(field "$name" reason)" = "$(field expected reason)" ] ||
			fail "$name: reason '$(field "$name" reason)', expected '$(field expected reason)'"
		[ "$(field "$name" park)" = ok ] || fail "$name: no park cycle"
		# TPARKER_DEBUG=1 is ignored as well: not a word on stderr.
		[ ! -s "$tmp/$name.err" ] || fail "$name: wrote to stderr: $(head -c 300 "$tmp/$name.err")"
		echo "$name: secure mode, TPARKER_BACKEND ($form) ignored: backend=$(field "$name" backend), no mark"
	done
done

# The control: without the setuid/setgid bit the variables are honoured.
for form in path name; do
	name=plain-$form
	rm -f "$mark"
	if [ $form = path ]; then
		run "$name" plain-helper "${evil_env_path[@]}"
	else
		run "$name" plain-helper "${evil_env_name[@]}"
	fi
	[ "$(field "$name" secure)" = 0 ] || fail "$name: the plain helper runs in secure mode"
	[ -e "$mark" ] || fail "$name: the control run did not load tparker-evil.so (no mark)"
	[ "$(field "$name" backend)" = evil ] ||
		fail "$name: the control run chose $(field "$name" backend), not evil"
	grep -q 'tparker: ' "$tmp/$name.err" || fail "$name: TPARKER_DEBUG=1 logged nothing"
	echo "$name: not secure, TPARKER_BACKEND ($form) honoured: backend=evil, mark left"
done
rm -f "$mark"
echo "secure: setuid and setgid helpers ignore TPARKER_BACKEND, TPARKER_PLUGIN_PATH and TPARKER_DEBUG"
exit 0
