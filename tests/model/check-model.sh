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
# arguments, e.g. "ccache gcc"), MODEL_CONFIGS (the bounds of the correct
# model's runs, each ROUNDSxWAKERS or ROUNDSxWAKERSxOWNERS; default "8x2 6x3"
# for futex.pml, "5x2 3x3 1x1x2" for pthread.pml, whose third figure is the
# number of owners sharing one stripe, 1 when absent).
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
configs=${MODEL_CONFIGS:-}

case $model in
/*) ;;
*) model=$(pwd)/$model ;;
esac
# Each model's mutants are listed at the end of this script.
case $(basename "$model") in
futex.pml) default_configs='8x2 6x3' ;;
pthread.pml) default_configs='5x2 3x3 1x1x2' ;;
*) echo "$0: no mutant list for $model (add one to this script)" >&2; exit 2 ;;
esac
configs=${configs:-$default_configs}
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
	rounds=${cfg%%x*}
	rest=${cfg#*x}
	wakers=${rest%%x*}
	owners=1
	[ "$rest" = "$wakers" ] || owners=${rest#*x}
	case $rounds$wakers$owners in
	*[!0-9]* | '') echo "$0: bad bound '$cfg' (ROUNDSxWAKERS[xOWNERS])" >&2; exit 2 ;;
	esac
	bounds="-DNROUNDS=$rounds -DNWAKERS=$wakers"
	# Only the pthread model has owners to share a stripe.
	[ "$owners" = 1 ] || bounds="$bounds -DNOWNERS=$owners"

	# Safety: assertions (a) (b) (c) and invalid end states. -o3 keeps
	# statements unmerged so the unreached report is exact.
	name=safety-${cfg}
	if verify "$name" "-o3 $bounds" "-DSAFETY" "-w22"; then
		printf '%-34s %10s states stored, depth %4s, %s errors, %ss\n' \
			"correct $name:" "$stored" "$depth" "$errors" "$secs"
		[ "$errors" = 0 ] || fail "$name: $first (trail in $workdir/$name)"
		# Each "reach:" line of the model must have run; with several
		# owners (fewer rounds), each "reach2:" line instead.
		unreached=$(sed -n '/^unreached in/,$p' "$name/pan.out")
		[ -n "$unreached" ] || fail "$name: pan printed no unreached-code report"
		[ "$(grep -c 'reach:' "$model")" -gt 5 ] || fail "$model: no reach: lines"
		labels='reach:'
		[ "$owners" = 1 ] || labels='reach2:'
		grep -n "$labels" "$model" | grep -v '^[0-9]*: \*' |
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
	# 3 x 2 unless the mutant names its own bounds
	bounds="-DNROUNDS=3 -DNWAKERS=2"
	case $spin_defs in *-DNROUNDS=*) bounds= ;; esac
	if verify "$name" "$bounds $spin_defs" "$cc_defs" "-w20 $pan_flags"; then
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
	lost1='assertion violated  !((((waiting[0]&&(w[0]==0))&&(pending==0))||((waiting[(1-1)]&&(w[(1-1)]==0))&&(pending==0))))'
	lost2='assertion violated  !((((waiting[0]&&(w[0]==0))&&(pending==0))||((waiting[(2-1)]&&(w[(2-1)]==0))&&(pending==0))))'
	dead='assertion violated ((alive[who]&&inround[who])&&(rnd[who]==myrnd))'
	once='assertion violated (counted==served[me])'
	mutant 'waits on PARKED, (a) by assertion' no-sleeping-cas-assert \
		'-DMUTANT_NO_SLEEPING_CAS' '-DSAFETY' '-E' "$lost1"
	mutant 'waits on PARKED, (a) by end state' no-sleeping-cas-endstate \
		'-DMUTANT_NO_SLEEPING_CAS' '-DSAFETY' '-A' 'invalid end state'
	mutant 'waits on PARKED, (a) by LTL' no-sleeping-cas-liveness \
		'-DMUTANT_NO_SLEEPING_CAS -DLIVENESS' '-DNFAIR=3' '-A -a -f' 'acceptance cycle'
	mutant 'checks the word before the stripe lock' check-without-lock \
		'-DMUTANT_CHECK_WITHOUT_LOCK' '-DSAFETY' '' "$lost1" 'invalid end state'
	mutant 'broadcast without the stripe lock' unpark-no-lock \
		'-DMUTANT_UNPARK_NO_LOCK' '-DSAFETY' '' "$lost1" 'invalid end state'
	mutant 'broadcast before the word store' broadcast-before-store \
		'-DMUTANT_BROADCAST_BEFORE_STORE' '-DSAFETY' '' "$lost1" 'invalid end state'
	mutant 'signal, not broadcast, on a shared stripe' signal \
		'-DMUTANT_SIGNAL -DNOWNERS=2 -DNROUNDS=1 -DNWAKERS=1' '-DSAFETY' '' "$lost2" \
		'invalid end state'
	mutant 'give-up stores PARKED blindly' give-up-blind \
		'-DMUTANT_GIVE_UP_BLIND' '-DSAFETY' '' "$once"
	mutant 'timed_out: only SLEEPING is a timeout' timed-out-sleeping \
		'-DMUTANT_TIMED_OUT_SLEEPING' '-DSAFETY' '' "$once" "$dead"
	mutant 'unpark reads the word' unpark-reads \
		'-DMUTANT_UNPARK_READS' '-DSAFETY' '' "$dead"
	mutant 'waker_cpu after the exchange' cpu-after-cas \
		'-DMUTANT_CPU_AFTER_CAS' '-DSAFETY' '' "$dead"
	mutant 'exchange after the queue lock' late-exchange \
		'-DMUTANT_LATE_EXCHANGE' '-DSAFETY' '' "$once" "$dead"
	mutant 'the mutex kept between the phases' hidden-lock \
		'-DMUTANT_HIDDEN_LOCK' '-DSAFETY' '' 'invalid end state'
	;;
esac

if [ "$failures" -ne 0 ]; then
	echo "$failures check(s) failed; outputs in $workdir"
	trap - EXIT
	exit 1
fi
echo "model check passed: the protocol holds for every bound run; every mutant was caught"
