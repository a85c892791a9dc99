/* SPDX-License-Identifier: MIT */
/*
 * Promela model of the futex backend's protocol (plugins/common/word.h, with
 * the word protocol 1 step of core/api.c in unpark_lock) as a
 * caller with a wait queue uses it: one owner doing NROUNDS rounds of
 * prepare_park / publish / park or park_until, NWAKERS wakers, the caller's
 * queue lock, FUTEX_WAIT / FUTEX_WAKE and the parker's lifetime. Sequentially
 * consistent; docs/model.md says what that and the other bounds leave out.
 * tests/model/check-model.sh runs it.
 *
 *   spin -a futex.pml && cc -DSAFETY -o pan pan.c && ./pan
 *   spin -DLIVENESS -a futex.pml && cc -DNFAIR=4 -o pan pan.c && ./pan -a -f
 *
 * Checked:
 *   (a) no lost wakeup: the owner is never asleep in the kernel on a word that
 *       reads UNPARKED with no FUTEX_WAKE on its way (the monitor's
 *       assertion); the model never stops with the owner blocked (invalid end
 *       state); with -DLIVENESS, under weak fairness, a popped owner always
 *       returns (LTL);
 *   (b) no wake after the owner has left: each atomic operation a waker does
 *       on the word finds the parker it popped still alive (FUTEX_WAKE is on
 *       the address only and is allowed on a dead parker);
 *   (c) every pop is observed exactly once: a round ends as a wakeup exactly
 *       when a waker popped it, and the totals agree.
 * Lines marked "reach:" are the interesting interleavings; the runner fails
 * when spin reports one of them unreached, so a property cannot hold only
 * because the model never gets there. Spin's report never names a skip, a
 * goto or break, an option's first guard (its state is the branch point,
 * reached either way) or a line inside a #define, so each label sits on a
 * later statement of its case (`mark = 0` where there is nothing else).
 *
 * Mutants (-DMUTANT_<name>), each of which the checker must catch:
 *   NO_CAS          the owner sleeps on PARKED without announcing SLEEPING,
 *                   while unpark still skips the wake unless it saw SLEEPING;
 *   SPLIT_EXCHANGE  unpark_lock loads, then stores, instead of exchanging;
 *   UNPARK_READS    unpark re-reads the word to decide whether to wake;
 *   LATE_EXCHANGE   the word is released in unpark, after the queue lock;
 *   TIMED_OUT_TRUE  timed_out ignores the word.
 */

#ifndef NROUNDS
#define NROUNDS 3
#endif
#ifndef NWAKERS
#define NWAKERS 2
#endif

#define UNPARKED 0
#define PARKED   1
#define SLEEPING 2
#define POISON   3	/* what a freed parker's word holds */

/* The parker. Each round creates a new one at the same address: the worst
 * case, where a FUTEX_WAKE meant for an old parker reaches the new one. */
byte w = POISON;	/* the futex word */
bit alive;		/* the parker's memory is allocated */
byte gen;		/* which round's parker lives at the address */

/* The caller's wait queue (it only ever holds our owner) and its lock. */
bit lock;
bit queued;

/* The kernel: the owner is asleep in FUTEX_WAIT on the address. */
bit asleep;

/* Bookkeeping for the properties, not part of the protocol. */
byte pending;		/* unpark handles that will still call FUTEX_WAKE */
bit served;		/* a waker popped the owner in the current round */
byte pops;		/* pops by all wakers */
byte wakeups;		/* rounds the owner ended as woken */
byte timeouts;		/* rounds the owner ended as timed out */

inline lock_queue()
{
	atomic { lock == 0 -> lock = 1 }
}

inline unlock_queue()
{
	lock = 0
}

/*
 * FUTEX_WAIT(&w, expected): the kernel compares and goes to sleep in one
 * step; EAGAIN when the word differs. EINTR and spurious wakeups are a return
 * at once: under interleaving, sleeping and waking spuriously later is the
 * same as entering later and returning at once, while a spurious escape from
 * the sleeping state would hide a sleep that no wake ever ends. A timed wait
 * also ends when its deadline passes.
 */
inline futex_wait(expected, timed)
{
	if
	:: atomic { w == expected -> asleep = 1 };
		if
		:: asleep == 0 -> mark = 0	/* reach: woken by FUTEX_WAKE */
		:: timed -> asleep = 0	/* reach: ETIMEDOUT */
		fi
	:: atomic { w != expected -> mark = 0 }	/* reach: EAGAIN */
	:: true -> mark = 0	/* reach: EINTR or spurious */
	fi
}

/* FUTEX_WAKE(addr, 1): reaches the kernel's queue for the address, never
 * the word, so it is harmless once the parker is gone. */
inline futex_wake()
{
	atomic {
		if
		:: asleep && alive && gen == mygen ->
			asleep = 0	/* reach: wakes the owner it popped */
		:: asleep && !(alive && gen == mygen) ->
			asleep = 0	/* reach: stale wake, a later round's parker */
		:: !asleep ->
			mark = 0	/* reach: nobody asleep any more */
		fi;
		pending--
	}
}

active proctype owner()
{
	/* Always 0: a label's statement where the protocol has nothing to do
	 * (spin's unreached-code report never names a skip, see above). Local,
	 * so partial-order reduction folds the step away. */
	bit mark;
	bit timed;	/* this round uses park_until */
	bit woke;	/* park / park_until returned true */
	byte v;
	byte expected;
	bit counted;	/* the round ended as a wakeup */

	do
	:: gen == NROUNDS -> break
	:: else ->
		/* tparker_init */
		atomic { alive = 1; gen++; w = UNPARKED };

		/* prepare_park (relaxed), then publish under the queue lock */
		w = PARKED;
		lock_queue();
		queued = 1;
		unlock_queue();

		if
		:: timed = 0
		:: timed = 1
		fi;

		/* park / park_until; the deadline may pass anywhere in the loop */
		do
		:: timed -> woke = 0; break
		:: true ->
			v = w;		/* load acquire */
			if
			:: v == UNPARKED -> woke = 1; break
			:: else
			fi;
			if
			:: timed -> woke = 0; break
			:: true
			fi;
#ifdef MUTANT_NO_CAS
			expected = v;
#else
			/* announce SLEEPING, unless already seen */
			if
			:: v == SLEEPING
			:: else ->
				atomic {
					if
					:: w == PARKED -> w = SLEEPING; v = SLEEPING
					:: else ->
						v = w	/* reach: CAS lost to unpark_lock */
					fi
				}
			fi;
			if
			:: v != SLEEPING -> goto next
			:: else
			fi;
			expected = SLEEPING;
#endif
			if
			:: timed -> woke = 0; break
			:: true
			fi;
			futex_wait(expected, timed);
next:			v = 0; expected = 0
		od;
		v = 0; expected = 0;

		if
		:: woke -> counted = 1
		:: else ->
			/* park_until returned false: timed_out decides, under
			 * the queue lock */
			lock_queue();
#ifdef MUTANT_TIMED_OUT_TRUE
			if
			:: true ->
#else
			if
			:: w != UNPARKED ->
#endif
				/* A real timeout: take the owner out of the
				 * queue (a no-op had a waker popped it, which
				 * (c) reports next). */
				queued = 0;
				counted = 0	/* reach: a real timeout */
			:: else ->
				counted = 1	/* reach: a pop raced the timeout */
			fi;
			unlock_queue()
		fi;

		/* (c) a round is a wakeup exactly when a waker popped it */
		assert(counted == served);
		if
		:: counted -> wakeups++
		:: else -> timeouts++
		fi;

		/* leave: tparker_destroy, then the memory is freed */
		atomic { alive = 0; w = POISON; served = 0 };
		timed = 0; woke = 0; counted = 0
	od;

	/* (c) the totals */
	assert(!queued && pops == wakeups && wakeups + timeouts == NROUNDS)
}

/* (b) the parker this waker popped is still alive */
#define ON_LIVE_PARKER (alive && gen == mygen)

/* unpark_lock: first the word protocol step the core (or inline code in
 * the program) runs, compare-exchange PARKED -> UNPARKED, which needs no
 * wake; when that fails, the backend's own step, a separate atomic action:
 * handle.need_wake = (exchange(&w, UNPARKED) == SLEEPING) */
inline unpark_lock()
{
	atomic {
		assert(ON_LIVE_PARKER);
		if
		:: w == PARKED -> w = UNPARKED; cas = 1
		:: else
		fi
	};
	if
	:: cas -> cas = 0	/* reach: the core's compare-exchange */
	:: else ->
		atomic {
			assert(ON_LIVE_PARKER);
			need = (w == SLEEPING);
			w = UNPARKED;
			if
			:: need -> pending++
			:: else
			fi
		}
	fi
}

proctype waker()
{
	bit mark;	/* always 0, as in owner */
	byte mygen;	/* the round whose parker this waker popped */
	bit need;	/* the handle asks for a FUTEX_WAKE */
	bit cas;	/* the core's compare-exchange released the owner */
#if defined(MUTANT_SPLIT_EXCHANGE) || defined(MUTANT_UNPARK_READS)
	byte old;
#endif

	/*
	 * A waker that takes the lock and finds the queue empty changes
	 * nothing, so the wakers wait for a non-empty queue instead of
	 * polling: endless polling would hide a stuck owner from the
	 * end-state check.
	 */
end_idle:
	do
	:: atomic {
			lock == 0 && queued -> lock = 1;
			queued = 0; mygen = gen; pops++; served = 1
		};
#if defined(MUTANT_SPLIT_EXCHANGE)
		atomic { assert(ON_LIVE_PARKER); old = w };
		atomic {
			assert(ON_LIVE_PARKER);
			w = UNPARKED;
			need = (old == SLEEPING);
			if
			:: need -> pending++
			:: else
			fi
		};
		old = 0;
#elif !defined(MUTANT_LATE_EXCHANGE)
		unpark_lock();
#endif
		unlock_queue();

		/* unpark(handle) */
#if defined(MUTANT_LATE_EXCHANGE)
		unpark_lock();
#elif defined(MUTANT_UNPARK_READS)
		atomic {
			assert(ON_LIVE_PARKER);
			old = w;
			if
			:: !need && old == SLEEPING -> need = 1; pending++
			:: else
			fi
		};
		old = 0;
#endif
		if
		:: need -> futex_wake()
		:: else ->
			mark = 0	/* reach: skip wake, the owner had not slept */
		fi;
		need = 0; mygen = 0
	od
}

/* (a) asleep on a word that says UNPARKED, with no FUTEX_WAKE on its way */
active proctype monitor()
{
end_monitor:
	atomic {
		asleep && w == UNPARKED && pending == 0 ->
			assert(!(asleep && w == UNPARKED && pending == 0))
	}
}

init
{
	byte i;

	atomic {
		for (i : 1 .. NWAKERS) {
			run waker()
		}
	}
}

#ifdef LIVENESS
/* (a) a popped owner returns (and clears served as it leaves) */
ltl popped_owner_returns { [] (served -> <> !served) }
#endif
