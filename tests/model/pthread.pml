/* SPDX-License-Identifier: MIT */
/*
 * Promela model of the pthread backend's protocol (plugins/pthread/pthread.c,
 * with the word protocol 1 steps of core/api.c and <tparker/tparker.h>) as a
 * caller with a wait queue uses it: NOWNERS owners (1 or 2), each doing
 * NROUNDS rounds of prepare_park / publish / park or park_until (and, once
 * per round, parking again after a false return) / timed_out, NWAKERS
 * wakers, the caller's queue lock, each parker's word and lifetime, and the
 * one stripe (a mutex and a condition variable in the plugin's static table)
 * that every owner's parker hashes to: with two owners, a shared stripe.
 * Sequentially consistent; docs/model.md says what that and the other
 * bounds leave out. tests/model/check-model.sh runs it.
 *
 *   spin -a pthread.pml && cc -DSAFETY -o pan pan.c && ./pan
 *   spin -DLIVENESS -a pthread.pml && cc -DNFAIR=3 -o pan pan.c && ./pan -a -f
 *
 * Checked:
 *   (a) no lost wakeup: no owner waits on the stripe's condition variable
 *       while its word reads UNPARKED and no broadcast is on its way (the
 *       monitor's assertion); the model never stops with an owner blocked
 *       (invalid end state); with -DLIVENESS, under weak fairness, a popped
 *       owner always returns (LTL);
 *   (b) no access to the parker after its owner could have freed it: every
 *       access a waker makes to the parker it popped (waker_cpu, the word)
 *       happens while that owner is still in the round the waker popped, on
 *       live memory. unpark touches only the stripe, which is static, and
 *       may come any time later, on a parker freed or reused since;
 *   (c) every pop is observed exactly once: a round ends as a wakeup exactly
 *       when a waker popped it (park returned true, or timed_out said
 *       false), and the totals agree.
 * Between the rounds an owner either destroys and frees its parker (the
 * next round inits a new one at the same address) or keeps it: a parker is
 * reused after a timeout, with the word its give-up left.
 * Between unpark_lock and unpark a waker may take the queue lock again
 * (the caller's "any more waiters?"), as an owner calls timed_out under it.
 * Lines marked "reach:" are the interesting interleavings, "reach2:" those
 * that need two owners on the stripe; the runner fails when spin reports
 * one of them unreached, so a property cannot hold only because the model
 * never gets there. Spin's report never names a skip, a goto or break, an
 * option's first guard (its state is the branch point, reached either way)
 * or a line inside a #define, so each label sits on a later statement of
 * its case (`mark = 0` where there is nothing else).
 *
 * Mutants (-DMUTANT_<name>), each of which the checker must catch:
 *   NO_SLEEPING_CAS         the owner waits without moving PARKED ->
 *                           SLEEPING, so the core's compare-exchange
 *                           releases it with no broadcast;
 *   CHECK_WITHOUT_LOCK      the owner checks the word (and moves it to
 *                           SLEEPING) before taking the stripe's mutex,
 *                           which it takes only to wait;
 *   UNPARK_NO_LOCK          unpark broadcasts without first taking (and
 *                           releasing) the stripe's mutex;
 *   BROADCAST_BEFORE_STORE  unpark_lock loads the word and, on SLEEPING,
 *                           broadcasts before it stores UNPARKED;
 *   SIGNAL                  unpark signals (wakes one waiter) instead of
 *                           broadcasting, on a stripe two owners share;
 *   GIVE_UP_BLIND           at its deadline the owner stores PARKED instead
 *                           of compare-exchanging SLEEPING -> PARKED;
 *   TIMED_OUT_SLEEPING      timed_out calls only SLEEPING a timeout;
 *   UNPARK_READS            unpark reads the parker's word;
 *   CPU_AFTER_CAS           the core stores waker_cpu after its
 *                           compare-exchange instead of before;
 *   LATE_EXCHANGE           the word is released in unpark, after the queue
 *                           lock;
 *   HIDDEN_LOCK             the protocol before the stripes: unpark_lock
 *                           keeps the (stripe's) mutex until unpark,
 *                           timed_out takes it, and a timed-out word stays
 *                           SLEEPING; a waker that takes its queue lock
 *                           again between the phases deadlocks.
 */

#ifndef NROUNDS
#define NROUNDS 3
#endif
#ifndef NWAKERS
#define NWAKERS 2
#endif
#ifndef NOWNERS
#define NOWNERS 1
#endif
/* The other owner's index: with one owner, itself. */
#define LAST (NOWNERS - 1)
/* Two owners on one stripe multiply the states: they leave out parking
 * again after a false return, which the runs with one owner cover. */
#if NOWNERS > 1
#define NO_REPARK
#endif

#define UNPARKED 0
#define PARKED   1
#define SLEEPING 2
#define POISON   3	/* what a freed parker's word holds */

/* Each owner's parker. */
byte w[NOWNERS];	/* the state word (POISON until the first init) */
bit alive[NOWNERS];	/* the parker's memory is allocated */
bit inround[NOWNERS];	/* its owner is inside a round (published, not yet left) */
byte rnd[NOWNERS];	/* the owner's current round, set when it publishes */
bit waiting[NOWNERS];	/* the owner waits on the stripe's condition variable */

/* The stripe: its mutex (0, or the holder: an owner 1 + index, a waker
 * 10 + _pid) and the broadcasts still to come. */
byte mtx;
byte pending;

/* The caller's wait queue (a bit per owner) and its lock. */
bit lock;
bit queued[NOWNERS];

/* Bookkeeping for the properties, not part of the protocol. */
bit served[NOWNERS];	/* a waker popped the owner in its current round */
byte pops;		/* pops by all wakers */
byte wakeups;		/* rounds the owners ended as woken */
byte timeouts;		/* rounds the owners ended as timed out */
byte finished;		/* owners done with all their rounds */

inline lock_queue()
{
	atomic { lock == 0 -> lock = 1 }
}

inline unlock_queue()
{
	lock = 0
}

/* The owner takes the stripe's mutex (once per owner body). */
inline owner_lock()
{
	if
	:: atomic { mtx == 0 -> mtx = 1 + me }
	:: atomic { mtx != 0 -> mark = 0 };
		atomic { mtx == 0 -> mtx = 1 + me }	/* reach: park waits for the stripe's mutex */
	fi
}

inline owner_unlock()
{
	atomic { assert(mtx == 1 + me); mtx = 0 }
}

/*
 * pthread_cond_wait / pthread_cond_timedwait on the stripe, owner holding
 * its mutex: release it and start waiting in one step; return on a
 * broadcast, on ETIMEDOUT (the deadline has then passed) or spuriously;
 * re-take the mutex before returning. A spurious wakeup is a wait that
 * returns at once (still releasing and re-taking the mutex): under
 * interleaving, sleeping and then waking spuriously is the same as returning
 * at once, while a spurious escape from the waiting state would hide a wait
 * that no broadcast ends. With -DLIVENESS there is at most one per round: an
 * owner that kept returning spuriously could keep the mutex from a waker
 * forever, which weak fairness does not rule out.
 */
inline cond_wait()
{
	if
	:: atomic { mtx = 0; waiting[me] = 1 };
		if
		:: atomic {
			!waiting[me] && mtx == 0 ->
				mtx = 1 + me	/* reach: woken by a broadcast */
		   }
		:: atomic {
			timed && waiting[me] ->
				waiting[me] = 0; expired = 1	/* reach: ETIMEDOUT */
		   };
			atomic { mtx == 0 -> mtx = 1 + me }
		fi
#ifdef LIVENESS
	:: !spurious -> spurious = 1;
#else
	:: true ->
#endif
		mtx = 0;	/* reach: a spurious wakeup */
		atomic { mtx == 0 -> mtx = 1 + me }
	fi
}

proctype owner(byte me)
{
	bit mark;	/* always 0: a statement for spin to report */
	bit timed;	/* this call is park_until */
	bit expired;	/* its deadline has passed */
	bit woke;	/* the call returned true */
	bit reparked;	/* this round called park again after a false return */
	bit counted;	/* the round ended as a wakeup */
	byte round;	/* rounds begun */
	byte v;
#ifdef LIVENESS
	bit spurious;	/* this round's one spurious wakeup has happened */
#endif

	do
	:: round == NROUNDS -> break
	:: else ->
		round++;
		if
		:: round == 1 ->
			/* tparker_init */
			atomic { alive[me] = 1; w[me] = UNPARKED }
		:: else ->
			/* the same parker again: after a timeout, its word
			 * is what the give-up left */
			mark = 0	/* reach: a parker used again */
		fi;

		/* prepare_park (relaxed), then publish under the queue lock */
		w[me] = PARKED;
		lock_queue();
		atomic { queued[me] = 1; inround[me] = 1; rnd[me] = round };
		unlock_queue();

call:		/* park, or park_until with a deadline that may pass */
		if
		:: timed = 0
		:: timed = 1
		fi;

		/* tparker_park / tparker_park_until, the core's or the inline
		 * one in the program, then pthread_park(_until)'s own: an
		 * acquire load, no lock. (Two loads in a row, with nothing
		 * else between, see what one later load sees: one is enough.) */
		if
		:: w[me] == UNPARKED ->
			woke = 1;	/* reach: the lock-free check */
			goto returned
		:: else
		fi;
		/* park_until: a deadline already past, still without the
		 * mutex */
		if
		:: timed ->
			expired = 1;	/* reach: a deadline already past */
			goto returned
		:: true
		fi;

#ifndef MUTANT_CHECK_WITHOUT_LOCK
		owner_lock();
#endif
		do
		:: true ->
			/* pthread_check_unparked */
check:			v = w[me];
			if
			:: v == UNPARKED ->
				woke = 1;	/* reach: UNPARKED under the mutex */
				break
			:: v == SLEEPING
			:: v == PARKED ->
#ifndef MUTANT_NO_SLEEPING_CAS
				atomic {
					if
					:: w[me] == PARKED -> w[me] = SLEEPING; v = SLEEPING
					:: else ->
						v = w[me]	/* reach: CAS lost to the core's */
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
				/* pthread_give_up */
#if defined(MUTANT_GIVE_UP_BLIND)
				w[me] = PARKED;
				woke = 0;
#elif defined(MUTANT_HIDDEN_LOCK)
				/* (the word stayed SLEEPING then) */
				woke = (w[me] == UNPARKED);
#else
				atomic {
					if
					:: w[me] == SLEEPING ->
						w[me] = PARKED; woke = 0
					:: else ->
						woke = (w[me] == UNPARKED)
					fi
				};
				if
				:: woke ->
					mark = 0	/* reach: an unparker came before the give-up */
				:: else ->
					expired = 1	/* reach: the deadline has passed */
				fi;
#endif
				break
			:: !expired ->
#ifdef MUTANT_CHECK_WITHOUT_LOCK
				owner_lock();
#endif
				cond_wait()
#ifdef MUTANT_CHECK_WITHOUT_LOCK
				; owner_unlock()
#endif
			fi
		od;
#ifndef MUTANT_CHECK_WITHOUT_LOCK
		owner_unlock();
#endif

returned:	v = 0;
		if
		:: woke -> counted = 1
		:: else ->
			/* park_until returned false. The caller may wait
			 * again first (a loop of park_until with a recomputed
			 * deadline does it): once per round. */
			if
#ifndef NO_REPARK
			:: !reparked ->
				reparked = 1;	/* reach: parks again after false */
				expired = 0;
				goto call
#endif
			:: true
			fi;

			/* timed_out, under the queue lock: a load */
			lock_queue();
#ifdef MUTANT_HIDDEN_LOCK
			owner_lock();
#endif
#ifdef MUTANT_TIMED_OUT_SLEEPING
			if
			:: w[me] == SLEEPING -> v = PARKED
			:: else -> v = UNPARKED
			fi;
#else
			v = w[me];
#endif
#ifdef MUTANT_HIDDEN_LOCK
			owner_unlock();
#endif
			if
			:: v != UNPARKED ->
				/* A real timeout: take the owner out of the
				 * queue (a no-op had a waker popped it, which
				 * (c) reports next). */
				queued[me] = 0;
				counted = 0	/* reach: a real timeout */
			:: else ->
				counted = 1	/* reach: a pop raced the timeout */
			fi;
			unlock_queue()
		fi;

		/* (c) a round is a wakeup exactly when a waker popped it */
		assert(counted == served[me]);
		if
		:: counted -> wakeups++
		:: else -> timeouts++
		fi;

		/* Leave the round. From here on the owner may destroy and
		 * free its parker at once, so (b) counts any later access as
		 * one to freed memory; the next round uses the same parker
		 * again (a new one at the same address would differ only in
		 * the word's value before prepare_park, which no one may read). */
		atomic { inround[me] = 0; served[me] = 0 };
		timed = 0; expired = 0; woke = 0; reparked = 0; counted = 0; v = 0;
#ifdef LIVENESS
		spurious = 0
#endif
	od;

	/* the last owner checks (c)'s totals */
	atomic {
		alive[me] = 0; w[me] = POISON;
		finished++;
		if
		:: finished == NOWNERS ->
			assert(!queued[0] && !queued[LAST] && pops == wakeups &&
			       wakeups + timeouts == NROUNDS * NOWNERS)
		:: else
		fi
	}
}

/* (b) the owner this waker popped is still in that round, on live memory */
#define ON_LIVE_PARKER (alive[who] && inround[who] && rnd[who] == myrnd)

/* unpark: take and release the stripe's mutex, then broadcast (or, in a
 * mutant, signal) */
inline wake_stripe()
{
#ifndef MUTANT_UNPARK_NO_LOCK
	if
	:: atomic { mtx == 0 -> mtx = 10 + _pid }
	:: atomic { mtx != 0 -> mark = 0 };
		atomic { mtx == 0 -> mtx = 10 + _pid }	/* reach: unpark waits for the stripe's mutex */
	fi;
	atomic { assert(mtx == 10 + _pid); mtx = 0 };
#endif
	atomic {
#ifdef MUTANT_SIGNAL
		if
		:: waiting[0] -> waiting[0] = 0
		:: waiting[LAST] -> waiting[LAST] = 0
		:: else
		fi;
#else
		if
		:: waiting[0] || waiting[LAST] ->
			if
			:: waiting[0] && waiting[LAST] && NOWNERS > 1 ->
				mark = 0	/* reach2: a broadcast wakes both owners */
			:: else
			fi;
			if
			:: (waiting[0] && w[0] != UNPARKED) ||
			   (waiting[LAST] && w[LAST] != UNPARKED) ->
				mark = 0	/* reach: reach2: wakes an owner it is not for */
			:: else
			fi;
			waiting[0] = 0;
			waiting[LAST] = 0;
			mark = 0	/* reach: a broadcast that wakes an owner */
		:: else ->
			mark = 0	/* reach: a broadcast with nobody waiting */
		fi;
#endif
		pending--
	}
}

/* tparker_unpark_lock, the core's steps then pthread_unpark_lock */
inline unpark_lock()
{
	/* the core: store waker_cpu (relaxed), then compare-exchange
	 * PARKED -> UNPARKED (release) */
#ifndef MUTANT_CPU_AFTER_CAS
	assert(ON_LIVE_PARKER);
#endif
	atomic {
		assert(ON_LIVE_PARKER);
		if
		:: w[who] == PARKED -> w[who] = UNPARKED; cas = 1
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
#if defined(MUTANT_BROADCAST_BEFORE_STORE)
		atomic { assert(ON_LIVE_PARKER); v = w[who] };
		if
		:: v == SLEEPING -> pending++; wake_stripe()
		:: else
		fi;
		atomic { assert(ON_LIVE_PARKER); w[who] = UNPARKED };
#else
#ifdef MUTANT_HIDDEN_LOCK
		if
		:: atomic { mtx == 0 -> assert(ON_LIVE_PARKER); mtx = 10 + _pid }
		:: atomic { mtx != 0 -> assert(ON_LIVE_PARKER) };
			atomic { mtx == 0 -> assert(ON_LIVE_PARKER); mtx = 10 + _pid }
		fi;
#endif
		/* pthread_unpark_lock: exchange to UNPARKED (release); a
		 * handle only when the owner was SLEEPING */
		atomic {
			assert(ON_LIVE_PARKER);
			v = w[who];
			w[who] = UNPARKED;
			if
			:: v == SLEEPING -> need = 1; pending++
			:: else
			fi
		};
#ifdef MUTANT_HIDDEN_LOCK
		if
		:: !need -> atomic { assert(mtx == 10 + _pid); mtx = 0 }
		:: else
		fi;
#endif
#endif
		v = 0
	fi
}

proctype waker()
{
	bit mark;	/* always 0, as in owner */
	byte who;	/* the owner this waker popped */
	byte myrnd;	/* the round it popped */
	byte v;		/* the plugin's view of the word */
	bit cas;	/* the core's compare-exchange released the owner */
	bit need;	/* the handle asks for unpark */

	/*
	 * A waker that takes the lock and finds the queue empty changes
	 * nothing, so the wakers wait for a non-empty queue instead of
	 * polling: endless polling would hide a stuck owner from the
	 * end-state check.
	 */
end_idle:
	do
	:: atomic {
			lock == 0 && (queued[0] || queued[LAST]) -> lock = 1;
			if
			:: queued[0] -> who = 0
			:: queued[LAST] -> who = LAST
			fi;
			queued[who] = 0; myrnd = rnd[who]; pops++; served[who] = 1
		};
#ifndef MUTANT_LATE_EXCHANGE
		unpark_lock();
#endif
#if !defined(MUTANT_LATE_EXCHANGE) && !defined(MUTANT_UNPARK_READS)
		/* done with the parker: forget it (fewer states) */
		atomic { who = 0; myrnd = 0 };
#endif
		unlock_queue();

		/* Between the phases the caller may take its queue lock again,
		 * e.g. to look for more waiters. */
		if
		:: mark == 0 ->
			/* decided first: then it waits for the lock */
			lock_queue();
			mark = 0;	/* reach: the queue lock again between the phases */
			unlock_queue()
		:: mark == 0
		fi;

		/* tparker_unpark(handle) */
#ifdef MUTANT_LATE_EXCHANGE
		unpark_lock();
#endif
#ifdef MUTANT_UNPARK_READS
		atomic { assert(ON_LIVE_PARKER); v = w[who] };
		v = 0;
#endif
		if
		:: need ->
#ifdef MUTANT_HIDDEN_LOCK
			/* signal, then unlock the mutex unpark_lock kept */
			atomic {
				waiting[0] = 0;
				waiting[LAST] = 0;
				pending--
			};
			atomic { assert(mtx == 10 + _pid); mtx = 0 };
#else
			wake_stripe();
#endif
			need = 0
		:: else ->
			mark = 0	/* reach: no unpark, the owner had not slept */
		fi;
		who = 0; myrnd = 0
	od
}

/* (a) an owner waits on the stripe though its word says an unparker has
 * been here, with no broadcast on its way */
#define LOST(i) (waiting[i] && w[i] == UNPARKED && pending == 0)

active proctype monitor()
{
end_monitor:
	atomic { (LOST(0) || LOST(LAST)) -> assert(!(LOST(0) || LOST(LAST))) }
}

init
{
	byte i;

	atomic {
		for (i : 0 .. LAST) {
			w[i] = POISON;
			run owner(i)
		}
		for (i : 1 .. NWAKERS) {
			run waker()
		}
	}
}

#ifdef LIVENESS
/* (a) a popped owner returns (and clears served as it leaves) */
ltl popped_owner_returns { [] ((served[0] -> <> !served[0]) && (served[LAST] -> <> !served[LAST])) }
#endif
