#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Model-checks the mutex and condition variable on the parking lot
# (sync.pml, next to this script) with spin. The correct model must pass
# every check at every bound, with every "reach:" line of the model run in
# at least one of them, and every deliberately broken variant must be
# caught, so this test can fail.
#
#   check-sync.sh [-w WORKDIR]
#
# Environment: SPIN (default: spin), CC (default: cc; may be a command with
# arguments), SYNC_CONFIGS (the correct model's bounds, each CONSUMERSxLOCKERS;
# default "2x0 1x1").
set -eu

here=$(cd "$(dirname "$0")" && pwd)
workdir=
while getopts w: opt; do
	case $opt in
	w) workdir=$OPTARG ;;
	*) echo "usage: $0 [-w WORKDIR]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
model=$here/sync.pml
spin=${SPIN:-spin}
cc=${CC:-cc}
configs=${SYNC_CONFIGS:-2x0 1x1}

if [ -z "$workdir" ]; then
	workdir=$(mktemp -d "${TMPDIR:-/tmp}/tparker-sync.XXXXXX")
	trap 'rm -rf "$workdir"' EXIT
fi
mkdir -p "$workdir"
cd "$workdir"

failures=0
fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

# verify NAME SPIN_DEFS: generate, compile and run one safety verifier in
# its own directory; the output is left in NAME/pan.out, and NAME/pan.d
# lists every transition (for the reach check).
verify() {
	name=$1 spin_defs=$2
	rm -rf "$name"
	mkdir "$name"
	# -o3 keeps statements unmerged so the unreached report is exact.
	# shellcheck disable=SC2086 # the flag lists are meant to split
	if ! (cd "$name" && $spin -o3 $spin_defs -a "$model" >spin.out 2>&1); then
		cat "$name/spin.out"
		fail "$name: spin could not translate the model"
		return 1
	fi
	# -O2: the searches run longer than the compiler. The memory limit
	# stops a model grown by accident before it fills the machine.
	# shellcheck disable=SC2086
	if ! (cd "$name" && $cc -O2 -w -DSAFETY -DMEMLIM=1024 -o pan pan.c >cc.out 2>&1); then
		cat "$name/cc.out"
		fail "$name: the verifier did not compile"
		return 1
	fi
	start=$(date +%s.%N)
	# pan exits 0 whether or not it finds errors; its report says.
	(cd "$name" && ./pan -m100000 -w22 >pan.out 2>&1) || true
	end=$(date +%s.%N)
	(cd "$name" && ./pan -d >pan.d 2>&1) || true
	secs=$(echo "$start $end" | awk '{ printf "%.2f", $2 - $1 }')
	out=$name/pan.out
	if ! grep -q 'errors: [0-9]' "$out"; then
		cat "$out"
		fail "$name: pan did not finish its search"
		return 1
	fi
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$out")
	depth=$(sed -n 's/.*depth reached \([0-9]*\),.*/\1/p' "$out")
	stored=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$out")
	first=$(grep -m1 '^pan:1: ' "$out" | sed 's/^pan:1: //; s/ (at depth [0-9]*)$//' || true)
	if grep -q 'max search depth too small' "$out"; then
		fail "$name: the search was cut at the depth limit"
	fi
	if grep -q 'out of memory' "$out"; then
		fail "$name: the search ran out of memory"
	fi
	return 0
}

# reached NAME: the model's lines some transition of NAME's search took, as
# "line" per line: every (proctype, state) pan -d lists, minus the ones its
# unreached report names. A line inlined several times counts once reached
# in any copy.
reached() {
	awk -v m="$(basename "$model")" '
		FNR == 1 { file++ }
		file == 1 && /^proctype / { p = $2 }
		file == 1 && $1 == "state" {
			n = split($0, a, m ":")
			if (n < 2) next
			split(a[2], b, " ")
			all[p SUBSEP $2 SUBSEP b[1]] = 1
		}
		file == 2 && /^unreached in proctype / { p = $4 }
		file == 2 && /^\t.*, state [0-9]*,/ {
			n = split($0, a, m ":")
			if (n < 2) next
			split(a[2], b, ",")
			st = $0
			sub(/.*, state /, "", st)
			sub(/,.*/, "", st)
			dead[p SUBSEP st SUBSEP b[1]] = 1
		}
		END {
			for (k in all)
				if (!(k in dead)) {
					split(k, c, SUBSEP)
					print c[3]
				}
		}
	' "$1/pan.d" "$1/pan.out" | sort -un
}

: >reached.all
for cfg in $configs; do
	cons=${cfg%%x*}
	lockers=${cfg#*x}
	case $cons$lockers in
	*[!0-9]* | '') echo "$0: bad bound '$cfg' (CONSUMERSxLOCKERS)" >&2; exit 2 ;;
	esac
	name=safety-$cfg
	if verify "$name" "-DNCONS=$cons -DNLOCKERS=$lockers"; then
		printf '%-34s %10s states stored, depth %4s, %s errors, %ss\n' \
			"correct $name:" "$stored" "$depth" "$errors" "$secs"
		[ "$errors" = 0 ] || fail "$name: $first (trail in $workdir/$name)"
		grep -q '^unreached in' "$name/pan.out" ||
			fail "$name: pan printed no unreached-code report"
		reached "$name" >>reached.all
	fi
done

# Each "reach:" line must have run in some bound.
[ "$(grep -c 'reach:' "$model")" -gt 5 ] || fail "$model: no reach: lines"
grep -n 'reach:' "$model" | grep -v '^[0-9]*: \*' | while IFS=: read -r line text; do
	if ! grep -qx "$line" reached.all; then
		echo "FAIL: never reached line $line:$text"
		echo x >>unreached.flag
	fi
done
if [ -e unreached.flag ]; then
	rm -f unreached.flag
	fail "interesting interleavings left unexplored"
fi

# The mutants: each must be reported, by the check it breaks.
stuck='invalid end state'
parked='assertion violated 0'
mutant() {
	what=$1 name=$2 spin_defs=$3
	shift 3
	if verify "$name" "$spin_defs"; then
		printf '%-34s %10s states stored, depth %4s, caught: %s\n' \
			"mutant $name:" "$stored" "$depth" "${first:-nothing}"
		for expect in "$@"; do
			[ "$first" = "$expect" ] && return 0
		done
		fail "$name ($what) not caught as expected: wanted '$*', got '${first:-no error}'"
	fi
}
mutant 'have_more_threads as the doc comment says' have-more-doc \
	'-DMUTANT_HAVE_MORE_DOC -DNCONS=2 -DNLOCKERS=0' "$stuck"
mutant 'the mutex park does not re-check the byte' no-recheck \
	'-DMUTANT_NO_RECHECK -DNCONS=1 -DNLOCKERS=1' "$stuck" "$parked"
mutant 'broadcast moves waiters without PARKED' broadcast-no-parked \
	'-DMUTANT_BROADCAST_NO_PARKED -DNCONS=2 -DNLOCKERS=0' "$parked" "$stuck"
mutant 'unlock drops PARKED with waiters left' unlock-drops-parked \
	'-DMUTANT_UNLOCK_DROPS_PARKED -DNCONS=1 -DNLOCKERS=1' "$parked" "$stuck"

if [ "$failures" -ne 0 ]; then
	echo "$failures check(s) failed; outputs in $workdir"
	trap - EXIT
	exit 1
fi
echo "model check passed: the mutex and condvar hold for every bound run; every mutant was caught"
