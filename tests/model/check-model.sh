#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Model-checks a backend's protocol with spin: futex.pml (the futex word,
# the default) or pthread.pml (the pthread plugin's word, mutex and condition
# variable), both next to this script. The correct model must pass every
# check with every interesting interleaving reached, and every deliberately
# broken variant (the model's mutant list, below, chosen by the model's file
# name) must be caught by the check it breaks, so this test can fail.
#
#   check-model.sh [-w WORKDIR] [MODEL]
#
# Environment: SPIN (default: spin), CC (default: cc; may be a command with
# arguments, e.g. "ccache gcc"), MODEL_CONFIGS (default: "8x2 6x3", each
# ROUNDSxWAKERS, the bounds of the correct model's runs).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
workdir=
while getopts w: opt; do
	case $opt in
	w) workdir=$OPTARG ;;
	*) echo "usage: $0 [-w WORKDIR] [MODEL]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
model=${1:-$here/futex.pml}
spin=${SPIN:-spin}
cc=${CC:-cc}
configs=${MODEL_CONFIGS:-8x2 6x3}

case $model in
/*) ;;
*) model=$(pwd)/$model ;;
esac
# Each model's mutants are listed at the end of this script.
case $(basename "$model") in
futex.pml | pthread.pml) ;;
*) echo "$0: no mutant list for $model (add one to this script)" >&2; exit 2 ;;
esac
if [ -z "$workdir" ]; then
	workdir=$(mktemp -d "${TMPDIR:-/tmp}/tparker-model.XXXXXX")
	trap 'rm -rf "$workdir"' EXIT
fi
mkdir -p "$workdir"
cd "$workdir"

failures=0
fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

# verify NAME SPIN_DEFS CC_DEFS PAN_FLAGS: generate, compile and run one
# verifier in its own directory; the output is left in NAME/pan.out.
verify() {
	name=$1 spin_defs=$2 cc_defs=$3 pan_flags=$4
	rm -rf "$name"
	mkdir "$name"
	# shellcheck disable=SC2086 # the flag lists are meant to split
	if ! (cd "$name" && $spin $spin_defs -a "$model" >spin.out 2>&1); then
		cat "$name/spin.out"
		fail "$name: spin could not translate the model"
		return 1
	fi
	# shellcheck disable=SC2086
	if ! (cd "$name" && $cc -O0 -w $cc_defs -o pan pan.c >cc.out 2>&1); then
		cat "$name/cc.out"
		fail "$name: the verifier did not compile"
		return 1
	fi
	start=$(date +%s.%N)
	# pan exits 0 whether or not it finds errors; its report says.
	# shellcheck disable=SC2086
	(cd "$name" && ./pan -m100000 $pan_flags >pan.out 2>&1) || true
	end=$(date +%s.%N)
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
	return 0
}

# The correct model: no error, nothing interesting left unreached.
for cfg in $configs; do
	rounds=${cfg%x*}
	wakers=${cfg#*x}
	bounds="-DNROUNDS=$rounds -DNWAKERS=$wakers"

	# Safety: assertions (a) (b) (c) and invalid end states. -o3 keeps
	# statements unmerged so the unreached report is exact.
	name=safety-${cfg}
	if verify "$name" "-o3 $bounds" "-DSAFETY" "-w22"; then
		printf '%-34s %10s states stored, depth %4s, %s errors, %ss\n' \
			"correct $name:" "$stored" "$depth" "$errors" "$secs"
		[ "$errors" = 0 ] || fail "$name: $first (trail in $workdir/$name)"
		# Each "reach:" line of the model must have run.
		unreached=$(sed -n '/^unreached in/,$p' "$name/pan.out")
		[ -n "$unreached" ] || fail "$name: pan printed no unreached-code report"
		[ "$(grep -c 'reach:' "$model")" -gt 5 ] || fail "$model: no reach: lines"
		grep -n 'reach:' "$model" | grep -v '^[0-9]*: \*' |
		while IFS=: read -r line text; do
			if echo "$unreached" | grep -q "$(basename "$model"):$line,"; then
				echo "FAIL: $name: never reached line $line:$text"
				echo x >>unreached.flag
			fi
		done
		if [ -e unreached.flag ]; then
			rm -f unreached.flag
			fail "$name: interesting interleavings left unexplored"
		fi
	fi

	# Liveness under weak fairness: a popped owner always returns.
	name=liveness-${cfg}
	if verify "$name" "-DLIVENESS $bounds" "-DNFAIR=3" "-w22 -a -f"; then
		printf '%-34s %10s states stored, depth %4s, %s errors, %ss\n' \
			"correct $name:" "$stored" "$depth" "$errors" "$secs"
		[ "$errors" = 0 ] || fail "$name: $first (trail in $workdir/$name)"
	fi
done

# The mutants: each must be reported, by the check it breaks.
dead='assertion violated (alive&&(gen==mygen))'
once='assertion violated (counted==served)'
mutant() {
	what=$1 name=$2 spin_defs=$3 cc_defs=$4 pan_flags=$5
	shift 5
	if verify "$name" "-DNROUNDS=3 -DNWAKERS=2 $spin_defs" "$cc_defs" "-w20 $pan_flags"; then
		printf '%-34s %10s states stored, depth %4s, caught: %s\n' \
			"mutant $name:" "$stored" "$depth" "${first:-nothing}"
		for expect in "$@"; do
			[ "$first" = "$expect" ] && return 0
		done
		fail "$name ($what) not caught as expected: wanted '$*', got '${first:-no error}'"
	fi
}
case $(basename "$model") in
futex.pml)
	lost='assertion violated  !(((asleep&&(w==0))&&(pending==0)))'
	mutant 'sleeps on PARKED, (a) by assertion' no-cas-assert \
		'-DMUTANT_NO_CAS' '-DSAFETY' '-E' "$lost"
	mutant 'sleeps on PARKED, (a) by end state' no-cas-endstate \
		'-DMUTANT_NO_CAS' '-DSAFETY' '-A' 'invalid end state'
	mutant 'sleeps on PARKED, (a) by LTL' no-cas-liveness \
		'-DMUTANT_NO_CAS -DLIVENESS' '-DNFAIR=3' '-A -a -f' 'acceptance cycle'
	mutant 'load+store for exchange' split-exchange \
		'-DMUTANT_SPLIT_EXCHANGE' '-DSAFETY' '' "$lost" 'invalid end state'
	mutant 'unpark reads the word' unpark-reads \
		'-DMUTANT_UNPARK_READS' '-DSAFETY' '' "$dead"
	mutant 'exchange after the queue lock' late-exchange \
		'-DMUTANT_LATE_EXCHANGE' '-DSAFETY' '' "$once" "$dead"
	mutant 'timed_out always true' timed-out-true \
		'-DMUTANT_TIMED_OUT_TRUE' '-DSAFETY' '' "$once"
	;;
pthread.pml)
	lost='assertion violated  !(((waiting&&((w==0)||(w==3)))&&(pending==0)))'
	mutant 'UNPARKED, not WAKING, under the mutex' stores-unparked \
		'-DMUTANT_WAKER_STORES_UNPARKED' '-DSAFETY' '' "$dead"
	mutant 'waits on PARKED, (a) by assertion' no-sleeping-cas-assert \
		'-DMUTANT_NO_SLEEPING_CAS' '-DSAFETY' '-E' "$lost"
	mutant 'waits on PARKED, (a) by end state' no-sleeping-cas-endstate \
		'-DMUTANT_NO_SLEEPING_CAS' '-DSAFETY' '-A' 'invalid end state'
	mutant 'waits on PARKED, (a) by LTL' no-sleeping-cas-liveness \
		'-DMUTANT_NO_SLEEPING_CAS -DLIVENESS' '-DNFAIR=3' '-A -a -f' 'acceptance cycle'
	mutant 'timed_out without the mutex' timed-out-no-lock \
		'-DMUTANT_TIMED_OUT_NO_LOCK' '-DSAFETY' '' "$dead"
	mutant 'timed_out: WAKING is a timeout' timed-out-no-takeover \
		'-DMUTANT_TIMED_OUT_NO_TAKEOVER' '-DSAFETY' '' "$once"
	mutant 'park: WAKING is SLEEPING' no-takeover \
		'-DMUTANT_NO_TAKEOVER' '-DSAFETY' '' "$lost" 'invalid end state'
	mutant 'unpark_lock without the mutex' unpark-lock-no-mutex \
		'-DMUTANT_UNPARK_LOCK_NO_MUTEX' '-DSAFETY' '' "$lost" 'invalid end state'
	mutant 'unlock, then signal' unlock-before-signal \
		'-DMUTANT_UNLOCK_BEFORE_SIGNAL' '-DSAFETY' '' "$dead"
	mutant 'waker_cpu after the exchange' cpu-after-cas \
		'-DMUTANT_CPU_AFTER_CAS' '-DSAFETY' '' "$dead"
	;;
esac

if [ "$failures" -ne 0 ]; then
	echo "$failures check(s) failed; outputs in $workdir"
	trap - EXIT
	exit 1
fi
echo "model check passed: the protocol holds for every bound run; every mutant was caught"
