/* SPDX-License-Identifier: MIT */
/*
 * Promela model of the one-byte mutex and the condition variable
 * (core/sync/sync.c) on the parking lot (core/lot/lot.c): the mutex byte
 * (LOCKED, PARKED), the condition variable's word (its mutex or NULL), the
 * lot's queues under a bucket lock, the callbacks at the moments the lot
 * runs them, timeouts, be_fair handoff and the condition variable's requeue
 * onto the mutex. Threads:
 *   NCONS consumers  lock; while no item: cond_wait (the first wait may time
 *                    out); take an item; unlock
 *   1 producer       NCONS times: lock; add an item; signal or broadcast,
 *                    before or after the unlock
 *   NLOCKERS lockers lock or lock_until (which may time out); unlock
 * The lot itself is abstracted: each section under a bucket lock is one
 * atomic step, an unpark picks ANY queued thread of the key (the lot's FIFO
 * order is one of those choices), be_fair is any value, and a parked thread
 * is woken by the flag the unparker sets under the bucket lock (the parker's
 * own protocol is futex.pml's). One atomic step per bucket section loses no
 * interleaving that matters: what such a section reads or writes is either
 * guarded by the bucket lock or the mutex's byte, which the other threads
 * change only with single read-modify-writes that commute with the section
 * or that it overwrites. Sequentially consistent; outside the lot, the
 * mutex's byte is read and compare-exchanged in separate steps, as the C
 * code does.
 *
 *   spin -a sync.pml && cc -DSAFETY -o pan pan.c && ./pan
 *
 * Checked (tests/model/check-sync.sh runs it):
 *   (a) mutual exclusion: one holder at a time (assertion);
 *   (b) no lost wakeup, no deadlock: every thread finishes (no invalid end
 *       state): a waiter whose item was produced is always woken, a thread
 *       parked on the mutex always gets it;
 *   (c) a thread queued on the mutex's key, the condition variable's
 *       requeued ones included, always finds PARKED set between the lot's
 *       sections, so the unlocker takes the slow path that wakes it
 *       (the monitor's assertion);
 *   (d) every item is consumed exactly once (assertion at the end).
 * Lines marked "reach:" are the interesting interleavings; the runner fails
 * when spin reports one of them unreached.
 *
 * Mutants (-DMUTANT_<name>), each of which the checker must catch:
 *   HAVE_MORE_DOC     the lot computes have_more_threads as parking_lot_core's
 *                     doc comment says (only when a thread was unparked), so a
 *                     signal that requeues clears the condition variable's word
 *                     while waiters remain;
 *   NO_RECHECK        the mutex's park does not re-check LOCKED|PARKED under
 *                     the bucket lock;
 *   BROADCAST_NO_PARKED broadcast moves waiters onto an unlocked mutex
 *                     without setting PARKED;
 *   UNLOCK_DROPS_PARKED the unlocker clears PARKED although threads remain.
 */

#ifndef NCONS
#define NCONS 2
#endif
#ifndef NLOCKERS
#define NLOCKERS 1
#endif
#define NT (NCONS + 1 + NLOCKERS)
#define PRODUCER NCONS

#define LOCKED 1
#define PARKED 2

/* Lot keys. */
#define KNONE 0
#define KM    1	/* the mutex's address */
#define KC    2	/* the condition variable's address */

/* Park results. */
#define R_NORMAL  0	/* unparked, token normal */
#define R_HANDOFF 1	/* unparked, the lock handed over */
#define R_INVALID 2
#define R_TIMEOUT 3

/* Requeue ops. */
#define OP_ABORT 0
#define OP_UNPARK_ONE_REQUEUE_REST 1
#define OP_ALL 2
#define OP_UNPARK_ONE 3
#define OP_ONE 4

/* Which callbacks a park runs. */
#define KIND_MUTEX 0
#define KIND_COND  1

byte ms;		/* the mutex's byte */
bit cs;			/* the condition variable's word: 1 = our mutex, 0 = NULL */
byte q[NT];		/* the key a thread is queued on */
byte nqm;		/* threads queued on KM (derived from q) */
bit unparked[NT];	/* an unparker took the thread (under the bucket lock) */
bit handoff[NT];	/* its unpark token */

/* Bookkeeping for the properties. */
byte holders;
byte items;
byte produced;
byte consumed;
byte done;

inline set_q(t, k)
{
	if
	:: q[t] == KM -> nqm--
	:: else -> skip
	fi;
	if
	:: k == KM -> nqm++
	:: else -> skip
	fi;
	q[t] = k
}

/* w := some thread queued on key, NT when none; more := another one is
 * queued on key. An unpark may pick any of them: r rotates the scan. */
inline pick(key, w, more)
{
	atomic {
		select(r : 0 .. NT - 1);
		w = NT;
		more = 0;
		i = 0;
		do
		:: i < NT ->
			j = (r + i) % NT;
			if
			:: q[j] == key && w == NT -> w = j
			:: q[j] == key && w != NT -> more = 1
			:: else -> skip
			fi;
			i++
		:: else -> break
		od;
		i = 0;
		j = 0;
		r = 0
	}
}

/* mutex_mark_parked_if_locked(): ok := the mutex was locked and is now PARKED. */
inline mark_parked(ok)
{
	st = ms;
	do
	:: !(st & LOCKED) -> ok = 0; break
	:: else ->
		atomic {
			if
			:: ms == st -> ms = st | PARKED; ok = 1
			:: else -> st = ms; ok = 2
			fi
		};
		if
		:: ok == 1 -> break
		:: else -> skip
		fi
	od;
	st = 0
}

/* The timed-out path of the lot's park: under the bucket lock, unless an
 * unparker took the thread first; then timed_out(key, was_last_thread). */
inline park_timeout(me, kind, res)
{
	atomic {
	if
	:: unparked[me] ->
		res = handoff[me]	/* reach: the unparker won the race with the timeout */
	:: else ->
		k = q[me];
		more = 0;
		i = 0;
		do
		:: i < NT ->
			if
			:: i != me && q[i] == k -> more = 1
			:: else -> skip
			fi;
			i++
		:: else -> break
		od;
		i = 0;
		set_q(me, KNONE);
		if
		:: kind == KIND_MUTEX ->
			if
			:: !more -> ms = ms & ~PARKED	/* reach: the last mutex waiter times out */
			:: else -> skip
			fi
		:: else ->
			if
			:: k != KC ->
				requeued = 1	/* reach: a requeued waiter times out on the mutex */
			:: k == KC && !more ->
				cs = 0	/* reach: the last condvar waiter times out */
			:: else -> skip
			fi
		fi;
		k = 0;
		more = 0;
		res = R_TIMEOUT
	fi
	}
}

/* tparker_mutex_unlock / unlock_fair: the fast path, else unpark_one. */
inline mutex_unlock(me, fair)
{
	atomic {
		holders--;
		if
		:: ms == LOCKED -> ms = 0; ok = 1
		:: else -> ok = 0
		fi
	};
	if
	:: ok == 0 ->
		atomic {
		assert(ms & LOCKED);
		pick(KM, w, more);
		if
		:: w < NT ->
			set_q(w, KNONE);
			if
			:: fair -> skip
			:: else ->
				if
				:: fair = 1	/* be_fair */
				:: skip
				fi
			fi;
			if
			:: fair ->
				handoff[w] = 1;
				if
				:: !more -> ms = LOCKED	/* reach: handed over to the last waiter */
				:: else -> skip	/* reach: handed over, more wait */
				fi
			:: else ->
				handoff[w] = 0;
#ifdef MUTANT_UNLOCK_DROPS_PARKED
				ms = 0
#else
				if
				:: more -> ms = PARKED	/* reach: unlocked, more wait */
				:: else -> ms = 0
				fi
#endif
			fi;
			unparked[w] = 1
		:: else ->
			ms = 0	/* reach: PARKED but nobody queued (a timed-out or requeued waiter left) */
		fi;
		w = 0;
		more = 0
		}
	:: else -> skip
	fi;
	ok = 0;
	fair = 0
}

/* mutex_lock_slow()'s park on the mutex: validate, then sleep or time out. */
inline park_mutex(me, timed, res)
{
	atomic {
		res = R_NORMAL;
#ifndef MUTANT_NO_RECHECK
		if
		:: ms != (LOCKED | PARKED) ->
			res = R_INVALID	/* reach: the mutex changed before the park */
		:: else -> skip
		fi;
#endif
		if
		:: res != R_INVALID ->
			set_q(me, KM);
			unparked[me] = 0;
			handoff[me] = 0
		:: else -> skip
		fi
	};
	if
	:: res == R_INVALID -> skip
	:: else ->
		if
		:: unparked[me] -> res = handoff[me]
		:: timed -> timed = 0; park_timeout(me, KIND_MUTEX, res)
		fi
	fi
}

/* tparker_mutex_lock / lock_until: got := the lock is ours. */
inline mutex_lock(me, timed, got)
{
	atomic {
		if
		:: ms == 0 -> ms = LOCKED; got = 1
		:: else -> got = 0
		fi
	};
	if
	:: got == 0 ->
		st = ms;
		do
		:: !(st & LOCKED) ->
			atomic {
				if
				:: ms == st -> ms = st | LOCKED; got = 1
				:: else -> st = ms
				fi
			};
			if
			:: got -> break
			:: else -> skip
			fi
		/* The spin before parking only looks at the byte again: the
		 * compare-exchange below fails and looks again when it changed. */
		:: (st & LOCKED) ->
			if
			:: !(st & PARKED) ->
				atomic {
					if
					:: ms == st -> ms = st | PARKED; ok = 1
					:: else -> st = ms; ok = 0
					fi
				}
			:: else -> ok = 1
			fi;
			if
			:: ok ->
				ok = 0;
				park_mutex(me, timed, res);
				if
				:: res == R_HANDOFF ->
					got = 1;	/* reach: the lock was handed over */
					break
				:: res == R_TIMEOUT ->
					got = 0;	/* reach: lock_until timed out */
					break
				:: else ->
					st = ms
				fi
			:: else -> skip
			fi
		od;
		st = 0;
		res = 0
	:: else -> skip
	fi;
	if
	:: got -> atomic { holders++; assert(holders == 1) }
	:: else -> skip
	fi
}

/* tparker_cond_wait / wait_until with the mutex held. */
inline cond_wait(me, timed)
{
	atomic {
		if
		:: cs == 0 -> cs = 1
		:: else -> skip
		fi;
		set_q(me, KC);
		unparked[me] = 0;
		handoff[me] = 0
	};
	fair = 0;
	mutex_unlock(me, fair);	/* before_sleep */
	if
	:: unparked[me] -> res = handoff[me]
	:: timed -> timed = 0; requeued = 0; park_timeout(me, KIND_COND, res)
	fi;
	if
	:: res == R_HANDOFF ->
		atomic { holders++; assert(holders == 1) }	/* reach: a requeued waiter got the lock handed over */
	:: else ->
		mt = 0;
		mutex_lock(me, mt, got)
	fi;
	res = 0;
	requeued = 0
}

inline cond_signal()
{
	if
	:: cs == 0 -> skip
	:: else ->
		atomic {
		if
		:: cs == 0 -> op = OP_ABORT	/* reach: signal aborts, the waiters left */
		:: else ->
			mark_parked(ok);
			if
			:: ok -> op = OP_ONE
			:: else -> op = OP_UNPARK_ONE
			fi;
			ok = 0
		fi;
		if
		:: op != OP_ABORT ->
			pick(KC, w, more);
#ifdef MUTANT_HAVE_MORE_DOC
			if
			:: op == OP_ONE || w == NT -> more = 0
			:: else -> skip
			fi;
#endif
			if
			:: w < NT && op == OP_ONE ->
				set_q(w, KM);
				handoff[w] = 0	/* reach: signal requeues onto the locked mutex */
			:: w < NT && op == OP_UNPARK_ONE ->
				set_q(w, KNONE);
				handoff[w] = 0;
				unparked[w] = 1	/* reach: signal wakes a waiter */
			:: else -> skip
			fi;
			if
			:: !more -> cs = 0
			:: else -> skip	/* reach: signal leaves waiters */
			fi
		:: else -> skip
		fi;
		op = 0;
		w = 0;
		more = 0
		}
	fi
}

inline cond_broadcast()
{
	if
	:: cs == 0 -> skip
	:: else ->
		atomic {
		if
		:: cs == 0 -> op = OP_ABORT
		:: else ->
			cs = 0;
			mark_parked(ok);
			if
			:: ok -> op = OP_ALL
			:: else -> op = OP_UNPARK_ONE_REQUEUE_REST
			fi;
			ok = 0
		fi;
		if
		:: op != OP_ABORT ->
			pick(KC, w, more);
			if
			:: w < NT && op == OP_UNPARK_ONE_REQUEUE_REST ->
				set_q(w, KNONE);
				handoff[w] = 0;
				unparked[w] = 1
			:: else -> skip
			fi;
			nrq = 0;
			i = 0;
			do
			:: i < NT ->
				if
				:: q[i] == KC -> set_q(i, KM); nrq++
				:: else -> skip
				fi;
				i++
			:: else -> break
			od;
			i = 0;
			if
			:: nrq && op == OP_UNPARK_ONE_REQUEUE_REST ->
#ifndef MUTANT_BROADCAST_NO_PARKED
				ms = ms | PARKED	/* reach: broadcast wakes one, moves the rest */
#else
				skip
#endif
			:: nrq && op == OP_ALL -> skip	/* reach: broadcast moves all onto the locked mutex */
			:: else -> skip
			fi
		:: else -> skip
		fi;
		op = 0;
		w = 0;
		more = 0;
		nrq = 0
		}
	fi
}

/* Each process's registers, which the inlines share. */
#define LOCALS                                                                 \
	byte st, res, k, w, r, i, j, op, nrq, ok;                       \
	bit got, more, fair, timed, mt, requeued

proctype consumer(byte me)
{
	LOCALS;
	timed = 1;
	mt = 0;
	mutex_lock(me, mt, got);
	do
	:: items == 0 -> cond_wait(me, timed)
	:: else -> break
	od;
	items--;
	consumed++;
	fair = 0;
	mutex_unlock(me, fair);
	done++
}

proctype producer(byte me)
{
	LOCALS;
	byte n = 0, how = 0;
	do
	:: n < NCONS ->
		mt = 0;
		mutex_lock(me, mt, got);
		items++;
		produced++;
		n++;
		/* Signal or broadcast, with the lock held or after the unlock. */
		if
		:: how = 0
		:: how = 1
		:: how = 2
		:: how = 3
		fi;
		if
		:: how == 0 -> cond_signal()
		:: how == 2 -> cond_broadcast()
		:: else -> skip
		fi;
		fair = 0;
		mutex_unlock(me, fair);
		if
		:: how == 1 -> cond_signal()
		:: how == 3 -> cond_broadcast()
		:: else -> skip
		fi;
		how = 0
	:: else -> break
	od;
	done++
}

proctype locker(byte me)
{
	LOCALS;
	timed = 1;
	mutex_lock(me, timed, got);
	if
	:: got ->
		fair = 0;
		if
		:: fair = 1	/* unlock_fair */
		:: skip
		fi;
		mutex_unlock(me, fair)
	:: else -> skip
	fi;
	done++
}

/* (c): a thread queued on the mutex always finds PARKED set. */
active proctype monitor()
{
end:	atomic { nqm > 0 && !(ms & PARKED) -> assert(false) }
}

init
{
	byte t;
	atomic {
		t = 0;
		do
		:: t < NCONS -> run consumer(t); t++
		:: else -> break
		od;
		run producer(PRODUCER);
		t = 0;
		do
		:: t < NLOCKERS -> run locker(PRODUCER + 1 + t); t++
		:: else -> break
		od
	};
	done == NT;
	assert(consumed == NCONS && produced == NCONS && items == 0);
	assert(ms == 0 || ms == PARKED);
	assert(holders == 0)
}
