/* SPDX-License-Identifier: MIT */
/*
 * Promela model of the pthread backend's protocol (plugins/pthread/pthread.c,
 * with the word protocol 1 steps of core/api.c and <tparker/tparker.h>) as a
 * caller with a wait queue uses it: one owner doing NROUNDS rounds of init /
 * prepare_park / publish / park or park_until (and, once per round, parking
 * again after a false return) / timed_out / destroy and free, NWAKERS
 * wakers, the caller's queue lock, the parker's word, its mutex, its
 * condition variable and its lifetime. Sequentially consistent;
 * docs/model.md says what that and the other bounds leave out.
 * tests/model/check-model.sh runs it.
 *
 *   spin -a pthread.pml && cc -DSAFETY -o pan pan.c && ./pan
 *   spin -DLIVENESS -a pthread.pml && cc -DNFAIR=3 -o pan pan.c && ./pan -a -f
 *
 * Checked:
 *   (a) no lost wakeup: the owner never waits on the condition variable
 *       while the word says an unparker has been here (UNPARKED or WAKING)
 *       and no signal is on its way (the monitor's assertion); the model
 *       never stops with the owner blocked (invalid end state); with
 *       -DLIVENESS, under weak fairness, a popped owner always returns (LTL);
 *   (b) no access to a freed parker: every access a waker makes to the
 *       parker it popped (the word, waker_cpu, the mutex, the condition
 *       variable) finds it still alive. Unlike FUTEX_WAKE, pthread_cond_signal
 *       and pthread_mutex_unlock read the parker's memory, so nothing a waker
 *       does is allowed on a dead parker;
 *   (c) every pop is observed exactly once: a round ends as a wakeup exactly
 *       when a waker popped it, and the totals agree.
 * Lines marked "reach:" are the interesting interleavings; the runner fails
 * when spin reports one of them unreached, so a property cannot hold only
 * because the model never gets there. Spin's report never names a skip, a
 * goto or break, or an option's first guard (its state is the branch point,
 * reached either way), so each label sits on a later statement of its case.
 *
 * Mutants (-DMUTANT_<name>), each of which the checker must catch:
 *   WAKER_STORES_UNPARKED  unpark_lock stores UNPARKED instead of WAKING under
 *                          the mutex: an owner parking again after a false
 *                          return sees it with its lock-free check and frees
 *                          the parker before unpark signals and unlocks
 *                          (without that second park the mutant is harmless);
 *   NO_SLEEPING_CAS        the owner waits on the condition variable without
 *                          moving PARKED -> SLEEPING, so the core's
 *                          compare-exchange releases it with no signal;
 *   TIMED_OUT_NO_LOCK      timed_out reads (and takes over) the word without
 *                          the mutex;
 *   TIMED_OUT_NO_TAKEOVER  timed_out treats WAKING as a real timeout;
 *   NO_TAKEOVER            check_unparked treats WAKING like SLEEPING;
 *   UNPARK_LOCK_NO_MUTEX   unpark_lock stores WAKING without taking the mutex
 *                          (and unpark signals without it);
 *   UNLOCK_BEFORE_SIGNAL   unpark unlocks the mutex, then signals;
 *   CPU_AFTER_CAS          the core stores waker_cpu after its
 *                          compare-exchange instead of before.
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
#define WAKING   3
#define POISON   4	/* what a freed parker's word holds */

#define OWNER 1		/* mtx while the owner holds the mutex; a waker: its _pid */

/* The parker. Each round creates a new one at the same address: the worst
 * case, where a waker still busy with an old parker reaches the new one. */
byte w = POISON;	/* the state word */
bit alive;		/* the parker's memory is allocated */
byte gen;		/* which round's parker lives at the address */
byte mtx;		/* the mutex: 0 unlocked, else who holds it */
bit waiting;		/* the owner sleeps on the condition variable */

/* The caller's wait queue (it only ever holds our owner) and its lock. */
bit lock;
bit queued;

/* Bookkeeping for the properties, not part of the protocol. */
byte pending;		/* unpark handles that will still signal */
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

inline owner_unlock()
{
	atomic { assert(mtx == OWNER); mtx = 0 }
}

/*
 * pthread_cond_wait / pthread_cond_timedwait(&cond, &mutex), owner holding
 * the mutex: release it and sleep in one step; return on a signal, on
 * ETIMEDOUT (the deadline has then passed) or spuriously; re-acquire the
 * mutex before returning. A spurious wakeup is a wait that returns at once
 * (still releasing and re-taking the mutex): under interleaving, sleeping and
 * then waking spuriously is the same as returning at once, while a spurious
 * escape from the sleeping state would hide a sleep that no signal ends. With
 * -DLIVENESS there is at most one per round: an owner that kept returning
 * spuriously could keep the mutex from a waker forever, which weak fairness
 * does not rule out (the waker's lock is enabled only between the owner's
 * unlock and relock).
 */
inline cond_wait()
{
	if
	:: atomic { mtx = 0; waiting = 1 };
		if
		:: atomic {
			!waiting && mtx == 0 ->
				mtx = OWNER	/* reach: woken by the signal */
		   }
		:: atomic {
			timed && waiting ->
				waiting = 0; expired = 1	/* reach: ETIMEDOUT */
		   };
			atomic { mtx == 0 -> mtx = OWNER }
		fi
#ifdef LIVENESS
	:: !spurious -> spurious = 1;
#else
	:: true ->
#endif
		mtx = 0;	/* reach: a spurious wakeup */
		atomic { mtx == 0 -> mtx = OWNER }
	fi
}

active proctype owner()
{
	bit timed;	/* this call is park_until */
	bit expired;	/* its deadline has passed */
	bit woke;	/* the call returned true */
	bit reparked;	/* this round called park again after a false return */
	bit counted;	/* the round ended as a wakeup */
	byte v;
#ifdef LIVENESS
	bit spurious;	/* this round's one spurious wakeup has happened */
#endif

	do
	:: gen == NROUNDS -> break
	:: else ->
		/* tparker_init: a new mutex, condition variable and word */
		atomic { alive = 1; gen++; w = UNPARKED; mtx = 0 };

		/* prepare_park (relaxed), then publish under the queue lock */
		w = PARKED;
		lock_queue();
		queued = 1;
		unlock_queue();

call:		/* park, or park_until with a deadline that may pass */
		if
		:: timed = 0
		:: timed = 1
		fi;

		/* tparker_park / tparker_park_until, the core's or the inline
		 * one in the program: an acquire load, no mutex */
		if
		:: w == UNPARKED ->
			woke = 1;	/* reach: the core's fast check */
			goto returned
		:: else
		fi;
		/* pthread_park / pthread_park_until: the same check */
		if
		:: w == UNPARKED ->
			woke = 1;	/* reach: the plugin's fast check */
			goto returned
		:: else
		fi;

		if
		:: atomic { mtx == 0 -> mtx = OWNER }
		:: atomic { mtx != 0 -> skip };
			atomic { mtx == 0 -> mtx = OWNER }	/* reach: park waits out an unparker */
		fi;
		do
		:: true ->
			/* pthread_check_unparked */
check:			v = w;
			if
			:: v == UNPARKED ->
				woke = 1;	/* reach: UNPARKED under the mutex */
				break
			:: v == WAKING ->
#ifdef MUTANT_NO_TAKEOVER
				skip
#else
				w = UNPARKED;
				woke = 1;	/* reach: takes over WAKING */
				break
#endif
			:: v == SLEEPING
			:: v == PARKED ->
#ifndef MUTANT_NO_SLEEPING_CAS
				atomic {
					if
					:: w == PARKED -> w = SLEEPING; v = SLEEPING
					:: else ->
						v = w	/* reach: CAS lost to the core's */
					fi
				};
				if
				:: v != SLEEPING -> goto check
				:: else
				fi
#else
				skip
#endif
			fi;

			/* not unparked: park_until gives up once the deadline
			 * has passed, else both wait */
			if
			:: timed ->
				expired = 1;	/* reach: the deadline has passed */
				break
			:: !expired ->
				cond_wait()
			fi
		od;
		owner_unlock();

returned:	v = 0;
		if
		:: woke -> counted = 1
		:: else ->
			/* park_until returned false. The caller may wait
			 * again first (nothing in the contract forbids it;
			 * a loop of park_until with a recomputed deadline
			 * does it): once per round. */
			if
			:: !reparked ->
				reparked = 1;	/* reach: parks again after false */
				expired = 0;
				goto call
			:: true
			fi;

			/* timed_out, under the queue lock */
			lock_queue();
#ifdef MUTANT_TIMED_OUT_NO_LOCK
			atomic {
				v = w;
				if
				:: v == WAKING -> w = UNPARKED; v = UNPARKED
				:: else
				fi
			};
#else
			if
			:: atomic { mtx == 0 -> mtx = OWNER }
			:: atomic { mtx != 0 -> skip };
				atomic { mtx == 0 -> mtx = OWNER }	/* reach: timed_out waits out an unparker */
			fi;
			v = w;
			if
#ifndef MUTANT_TIMED_OUT_NO_TAKEOVER
			:: v == WAKING -> w = UNPARKED; v = UNPARKED
#endif
			:: else
			fi;
			owner_unlock();
#endif
			if
			:: v != UNPARKED ->
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
		timed = 0; expired = 0; woke = 0; reparked = 0; counted = 0; v = 0;
#ifdef LIVENESS
		spurious = 0
#endif
	od;

	/* (c) the totals */
	assert(!queued && pops == wakeups && wakeups + timeouts == NROUNDS)
}

/* (b) the parker this waker popped is still alive */
#define ON_LIVE_PARKER (alive && gen == mygen)

proctype waker()
{
	byte mygen;	/* the round whose parker this waker popped */
	byte v;		/* the plugin's load of the word */
	bit cas;	/* a compare-exchange released the owner */
	bit need;	/* the handle asks for unpark: signal and unlock */

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

		/* tparker_unpark_lock: the core stores waker_cpu, then
		 * compare-exchanges PARKED -> UNPARKED (release) */
#ifndef MUTANT_CPU_AFTER_CAS
		assert(ON_LIVE_PARKER);
#endif
		atomic {
			assert(ON_LIVE_PARKER);
			if
			:: w == PARKED -> w = UNPARKED; cas = 1
			:: else
			fi
		};
#ifdef MUTANT_CPU_AFTER_CAS
		assert(ON_LIVE_PARKER);
#endif
		if
		:: cas ->
			cas = 0	/* reach: the core's compare-exchange */
		:: else ->
			/* pthread_unpark_lock: a relaxed load */
			atomic { assert(ON_LIVE_PARKER); v = w };
			/* The compare-exchange loop on PARKED and the early
			 * return on UNPARKED or WAKING: with one unparker per
			 * publish, after the core's failed compare-exchange,
			 * neither is reachable (docs/model.md). */
			do
			:: v == PARKED ->
				atomic {
					assert(ON_LIVE_PARKER);
					if
					:: w == PARKED -> w = UNPARKED; cas = 1
					:: else -> v = w
					fi
				};
				if
				:: cas -> break
				:: else
				fi
			:: else -> break
			od;
			if
			:: cas -> cas = 0
			:: !cas && (v == UNPARKED || v == WAKING)
			:: !cas && v == SLEEPING ->
#ifndef MUTANT_UNPARK_LOCK_NO_MUTEX
				/* pthread_mutex_lock: blocks while the owner
				 * holds the mutex */
				if
				:: atomic {
					mtx == 0 -> assert(ON_LIVE_PARKER); mtx = _pid
				   }
				:: atomic { mtx != 0 -> assert(ON_LIVE_PARKER) };
					atomic {
						mtx == 0 -> assert(ON_LIVE_PARKER); mtx = _pid	/* reach: unpark_lock waited */
					}
				fi;
#endif
				atomic {
					assert(ON_LIVE_PARKER);
#ifdef MUTANT_WAKER_STORES_UNPARKED
					w = UNPARKED;
#else
					w = WAKING;
#endif
					need = 1;
					pending++
				}
			:: else ->
				assert(false)	/* the word of a freed parker */
			fi
		fi;
		v = 0;
		unlock_queue();

		/* tparker_unpark(handle) */
		if
		:: need ->
#ifdef MUTANT_UNLOCK_BEFORE_SIGNAL
			atomic { assert(ON_LIVE_PARKER); mtx = 0 };
#endif
			/* pthread_cond_signal */
			atomic {
				assert(ON_LIVE_PARKER);
				if
				:: waiting ->
					waiting = 0;	/* reach: the signal wakes the owner */
					pending--
				:: else ->
					pending--	/* reach: a signal with nobody waiting */
				fi
			};
#if !defined(MUTANT_UNLOCK_BEFORE_SIGNAL) && !defined(MUTANT_UNPARK_LOCK_NO_MUTEX)
			/* pthread_mutex_unlock */
			atomic { assert(ON_LIVE_PARKER); mtx = 0 };
#endif
			need = 0;
			mygen = 0
		:: else ->
			mygen = 0	/* reach: no unpark, the owner had not slept */
		fi
	od
}

/* (a) waiting on the condition variable though an unparker has been here,
 * with no signal on its way */
#define LOST (waiting && (w == UNPARKED || w == WAKING) && pending == 0)

active proctype monitor()
{
end_monitor:
	atomic { LOST -> assert(!LOST) }
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
