/* SPDX-License-Identifier: MIT */
/*
 * POSIX backend: a state word in each parker, and a static table of
 * "stripes" (a mutex and a CLOCK_MONOTONIC condition variable each) that
 * owners sleep on, chosen by the parker's address. Works wherever POSIX
 * threads do.
 *
 * The word follows word protocol 1 (<tparker/backend.h>), so an unpark that
 * lands while the owner is awake is one compare-exchange, run by the core or
 * inline in the program. To sleep, the owner takes its stripe's mutex, moves
 * the word PARKED -> SLEEPING under it and waits on the stripe's condition
 * variable until the word reads UNPARKED. An unparker exchanges the word to
 * UNPARKED in unpark_lock; when it was SLEEPING, the handle names the stripe
 * (never the parker), and unpark takes and releases the stripe's mutex, then
 * broadcasts. No wakeup is lost: the owner checks the word under the
 * stripe's mutex and, unless it returns, releases it only by starting to
 * wait; the unparker takes that mutex after its exchange, so its broadcast
 * finds the owner waiting (or the owner saw UNPARKED). Parkers share
 * stripes, hence a broadcast: the others find their own words unchanged and
 * wait on (a spurious wakeup to them).
 *
 * Nothing is held between unpark_lock and unpark, and unpark touches only
 * the static stripe: the owner may return, and free its parker, as soon as
 * it sees UNPARKED; timed_out is a load; a caller may take any lock, its
 * queue lock too, between the two phases. A stripe's mutex is only held
 * around a check of the word and the start of a wait, or for an empty
 * moment in unpark, with no other lock taken inside: it cannot join a lock
 * cycle.
 *
 * Before it sleeps, an owner spins a little on its word, with the futex
 * backends' adaptive rules (plugins/common/spin.h): an unpark that lands
 * during the spin is one compare-exchange on each side, with no mutex, no
 * condition variable and no trip through the scheduler. A timed sleep asks
 * for an earlier wakeup and spins the rest of the way to its deadline, as
 * those backends do, with the stripe's mutex released meanwhile (to the
 * protocol, the same as a spurious wakeup).
 *
 * fork(): a thread of the parent may hold a stripe's mutex, or wait on or
 * signal its condition variable, at the moment of the fork. That thread does
 * not exist in the child, which would find the mutex locked forever or, with
 * glibc, block in a broadcast that waits for the vanished waiter to leave.
 * So the child re-initialises every stripe (pthread_atfork, registered once).
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tparker/backend.h"

#include "../common/slack.h"
#include "../common/spin.h"
#ifdef __linux__
#include "../common/futex_check.h"
#endif

enum {
	PT_UNPARKED = TPARKER_WORD_UNPARKED,
	PT_PARKED = TPARKER_WORD_PARKED,
	PT_SLEEPING = 2, /* the owner waits on its stripe (or is about to) */
};

/* Word protocol 1's header, then the owner's spin state (whose first
 * field is the protocol's waker_cpu). */
struct pthread_state {
	_Atomic uint32_t word;
	struct tp_spin_state spin;
};

static_assert(sizeof(struct pthread_state) <= TPARKER_STATE_MAX, "pthread state too large");
static_assert(offsetof(struct pthread_state, word) == offsetof(struct tparker_word_v1, word) &&
		  offsetof(struct pthread_state, spin.waker_cpu) ==
		      offsetof(struct tparker_word_v1, waker_cpu),
	      "pthread state is laid out as word protocol 1");

/* A prime number of stripes, indexed by the parker's address (in 16-byte
 * units) modulo it: parkers laid out at any regular stride (an array, one
 * per worker structure) land on different stripes until the stride is a
 * multiple of 251 units; scattered ones share a stripe as often as random
 * (64 sleepers: about 7 pairs). 251 stripes of 128 bytes: 31 KiB. */
#define PT_STRIPES 251

struct pthread_stripe {
	/* Cache-line aligned: parkers of different stripes do not contend. */
	_Alignas(64) pthread_mutex_t mutex;
	pthread_cond_t cond;
};

static struct pthread_stripe pthread_stripes[PT_STRIPES];
static pthread_condattr_t pthread_stripe_attr; /* CLOCK_MONOTONIC */

/* The stripes are set up once per process, by the first probe. Not
 * pthread_once: glibc's ends with a futex wake, which a sandbox that denies
 * futex turns into an abort; an uncontended mutex makes no system call.
 * Probe can run again: the library may be loaded anew after a dlclose while
 * this plugin, which it never closes, stays. */
static atomic_bool pthread_stripes_ready;
static pthread_mutex_t pthread_stripes_once = PTHREAD_MUTEX_INITIALIZER;

static _Noreturn void pthread_fatal(const char *call, int err)
{
	fprintf(stderr, "tparker pthread: %s failed: %s (errno %d)\n", call, strerror(err), err);
	abort();
}

static int pthread_stripe_init(struct pthread_stripe *st, const char **failed)
{
	int err = pthread_mutex_init(&st->mutex, NULL);

	if (err) {
		*failed = "pthread_mutex_init()";
		return err;
	}
	err = pthread_cond_init(&st->cond, &pthread_stripe_attr);
	if (err) {
		*failed = "pthread_cond_init()";
		pthread_mutex_destroy(&st->mutex);
	}
	return err;
}

/*
 * The child of a fork: the threads that held a stripe's mutex or waited on
 * its condition variable stayed behind, so every stripe starts afresh (init
 * writes the whole object, whatever it held). No prepare handler locks the
 * stripes first: that would make fork wait for the parent's broadcasts and
 * checks, and buy nothing, since the child overwrites them anyway.
 */
static void pthread_stripes_after_fork(void)
{
	const char *failed = "";

	for (unsigned i = 0; i < PT_STRIPES; i++) {
		int err = pthread_stripe_init(&pthread_stripes[i], &failed);
		if (err)
			pthread_fatal(failed, err);
	}
}

static int pthread_stripes_init_locked(const char **failed)
{
	unsigned n = 0;
	int err = pthread_condattr_init(&pthread_stripe_attr);

	if (err) {
		*failed = "pthread_condattr_init()";
		return err;
	}
	err = pthread_condattr_setclock(&pthread_stripe_attr, CLOCK_MONOTONIC);
	if (err)
		*failed = "pthread_condattr_setclock(CLOCK_MONOTONIC)";
	while (!err && n < PT_STRIPES) {
		err = pthread_stripe_init(&pthread_stripes[n], failed);
		if (!err)
			n++;
	}
	/* The handlers belong to this object: glibc drops them if it is ever
	 * unloaded (dlclose). */
	if (!err) {
		err = pthread_atfork(NULL, NULL, pthread_stripes_after_fork);
		if (err)
			*failed = "pthread_atfork()";
	}
	if (err) {
		while (n--) {
			pthread_cond_destroy(&pthread_stripes[n].cond);
			pthread_mutex_destroy(&pthread_stripes[n].mutex);
		}
		pthread_condattr_destroy(&pthread_stripe_attr);
	}
	return err;
}

/* 0, or an errno value and the reason in why. */
static int pthread_stripes_init(char *why, size_t why_len)
{
	const char *failed = "";
	int err = 0;

	if (atomic_load_explicit(&pthread_stripes_ready, memory_order_acquire))
		return 0;
	pthread_mutex_lock(&pthread_stripes_once);
	if (!atomic_load_explicit(&pthread_stripes_ready, memory_order_relaxed)) {
		err = pthread_stripes_init_locked(&failed);
		if (!err)
			atomic_store_explicit(&pthread_stripes_ready, true, memory_order_release);
	}
	pthread_mutex_unlock(&pthread_stripes_once);
	if (err)
		snprintf(why, why_len, "%s failed: %s (errno %d)", failed, strerror(err), err);
	return err;
}

static struct pthread_stripe *pthread_stripe_of(const struct pthread_state *s)
{
	/* The native word: no 64-bit division on a 32-bit machine. */
	return &pthread_stripes[((uintptr_t)s >> 4) % PT_STRIPES];
}

static int pthread_probe(const struct tparker_host *host, char *why, size_t why_len)
{
	int err;

#ifdef __linux__
	/* The C library aborts when a futex call it needs fails: decline
	 * instead, so that the choice moves on to a backend that works. */
#ifdef __GLIBC__
	err = tp_futex_check_libc("glibc's mutex and condition variable sleep on futex: ", why,
				  why_len);
#else
	err = tp_futex_check_libc(
	    "the C library's mutex and condition variable sleep on futex: ", why, why_len);
#endif
	if (err)
		return err;
#endif
	err = pthread_stripes_init(why, why_len);
	if (!err)
		tp_spin_configure(host, "pthread");
	return err;
}

static int pthread_init(void *state)
{
	struct pthread_state *s = state;

	atomic_init(&s->word, PT_UNPARKED);
	tp_spin_init(&s->spin);
	return 0;
}

static void pthread_destroy(void *state)
{
	/* Nothing to release: an unpark still on its way needs only the
	 * stripe. */
	(void)state;
}

static void pthread_prepare_park(void *state)
{
	struct pthread_state *s = state;

	atomic_store_explicit(&s->word, PT_PARKED, memory_order_relaxed);
}

static void pthread_lock(struct pthread_stripe *st)
{
	int err = pthread_mutex_lock(&st->mutex);

	if (err)
		pthread_fatal("pthread_mutex_lock()", err);
}

static void pthread_unlock(struct pthread_stripe *st)
{
	int err = pthread_mutex_unlock(&st->mutex);

	if (err)
		pthread_fatal("pthread_mutex_unlock()", err);
}

static uint32_t pthread_word(struct pthread_state *s)
{
	return atomic_load_explicit(&s->word, memory_order_acquire);
}

/*
 * Owner, holding its stripe's mutex: has an unparker been here? If not,
 * PARKED becomes SLEEPING, after which an unparker broadcasts, and takes
 * this mutex first: a wait begun before the mutex is released cannot miss
 * it. Acquire for UNPARKED, for the unparker's writes (C11 wants the same
 * on success; the mutex and the word's one modification order are what the
 * protocol rests on).
 */
static bool pthread_check_unparked(struct pthread_state *s)
{
	uint32_t v = pthread_word(s);

	while (v == PT_PARKED)
		if (atomic_compare_exchange_weak_explicit(
			&s->word, &v, PT_SLEEPING, memory_order_acquire, memory_order_acquire))
			return false;
	return v == PT_UNPARKED;
}

/*
 * Owner, holding its stripe's mutex, at its deadline: SLEEPING goes back to
 * PARKED, so that an unparker that comes later (one that popped the owner
 * before timed_out) is done by the core's compare-exchange, with no
 * broadcast that wakes the stripe's other sleepers for nothing. True when an
 * unparker has been here after all.
 */
static bool pthread_give_up(struct pthread_state *s)
{
	uint32_t v = PT_SLEEPING;

	if (atomic_compare_exchange_strong_explicit(&s->word, &v, PT_PARKED, memory_order_acquire,
						    memory_order_acquire))
		return false;
	return v == PT_UNPARKED;
}

static void pthread_park(void *state)
{
	struct pthread_state *s = state;
	uint32_t spin_ns = atomic_load_explicit(&tp_spin_ns, memory_order_relaxed);
	struct pthread_stripe *st;
	int cancel_state;

	if (pthread_word(s) == PT_UNPARKED)
		return;
	/* Only the owner moves the word off PARKED, to SLEEPING under the
	 * mutex: a spin that sees it change saw an unparker. */
	if (tp_spin_worth_it(&s->spin, spin_ns) &&
	    tp_spin_wait(&s->spin, &s->word, PT_PARKED, spin_ns, NULL) &&
	    pthread_word(s) == PT_UNPARKED)
		return;
	st = pthread_stripe_of(s);
	/* The waits are cancellation points; a cancelled owner would leave
	 * its stripe's mutex locked, and every parker on it stuck. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
	pthread_lock(st);
	while (!pthread_check_unparked(s)) {
		int err = pthread_cond_wait(&st->cond, &st->mutex);
		if (err)
			pthread_fatal("pthread_cond_wait()", err);
	}
	pthread_unlock(st);
	pthread_setcancelstate(cancel_state, NULL);
}

static bool pthread_park_until(void *state, const struct timespec *deadline)
{
	struct pthread_state *s = state;
	uint32_t spin_ns = atomic_load_explicit(&tp_spin_ns, memory_order_relaxed);
	struct pthread_stripe *st;
	unsigned long slack = 0;
	bool unparked, tightened = false, early;
	int cancel_state;

	if (pthread_word(s) == PT_UNPARKED)
		return true;
	/* A past deadline: no lock, no system call. The word stays PARKED,
	 * which timed_out reads as a real timeout until an unparker comes. */
	if (tparker_deadline_passed(deadline))
		return false;
	/* A spin that the deadline ends leaves the word PARKED: a timeout. */
	if (tp_spin_worth_it(&s->spin, spin_ns) &&
	    tp_spin_wait(&s->spin, &s->word, PT_PARKED, spin_ns, deadline) &&
	    pthread_word(s) == PT_UNPARKED)
		return true;
	if (tparker_deadline_passed(deadline))
		return false;
	st = pthread_stripe_of(s);
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
	pthread_lock(st);
	for (;;) {
		if (pthread_check_unparked(s)) {
			unparked = true;
			break;
		}
		if (tparker_deadline_passed(deadline)) {
			unparked = pthread_give_up(s);
			break;
		}
		if (!tightened) {
			slack = tp_slack_tighten();
			tightened = true;
		}
		/* Absolute, so a spurious wakeup does not drift. */
		struct timespec wake = tp_early_wake(&s->spin, deadline, spin_ns, &early);
		int err = pthread_cond_timedwait(&st->cond, &st->mutex, &wake);
		if (err && err != ETIMEDOUT)
			pthread_fatal("pthread_cond_timedwait()", err);
		if (err == ETIMEDOUT && early) {
			/* The rest of the way without the mutex, which other
			 * parkers of the stripe need; an unparker that comes
			 * meanwhile finds SLEEPING, broadcasts to nobody, and
			 * is seen here or by the check under the mutex. */
			pthread_unlock(st);
			tp_early_finish(&s->word, PT_SLEEPING, &wake, deadline);
			pthread_lock(st);
		}
	}
	pthread_unlock(st);
	tp_slack_restore(slack);
	pthread_setcancelstate(cancel_state, NULL);
	return unparked;
}

static bool pthread_timed_out(void *state)
{
	struct pthread_state *s = state;

	/* Under the caller's queue lock, which unparkers exchange the word
	 * under: no unparker can be half-way. */
	return pthread_word(s) != PT_UNPARKED;
}

static bool pthread_unpark_lock(void *state, tparker_unpark_handle_t *h)
{
	struct pthread_state *s = state;
	struct pthread_stripe *st = pthread_stripe_of(s);

	/* Before the exchange: after it the owner may free the parker. (The
	 * core stores it too, for the compare-exchange it runs itself.) */
	tp_spin_note_waker(&s->spin);
	/* Release: the caller's writes are visible to the owner that sees
	 * UNPARKED. PARKED: the owner is awake (perhaps spinning) and sees
	 * UNPARKED before it could sleep. UNPARKED: an unparker has been here
	 * already. */
	if (atomic_exchange_explicit(&s->word, PT_UNPARKED, memory_order_release) != PT_SLEEPING)
		return false;
	/* The stripe, not the parker: from here on the owner may free it. */
	h->addr = st;
	return true;
}

static void pthread_unpark(const tparker_unpark_handle_t *h)
{
	struct pthread_stripe *st = h->addr;

	/* An owner that saw SLEEPING under this mutex keeps it until it
	 * waits or returns: once we have held the mutex, a waiting owner is
	 * among those the broadcast wakes. Broadcasting after the unlock
	 * spares the woken owner a wait for the mutex we would still hold
	 * (wake storms: about half the latency). */
	pthread_lock(st);
	pthread_unlock(st);
	int err = pthread_cond_broadcast(&st->cond);
	if (err)
		pthread_fatal("pthread_cond_broadcast()", err);
}

static void pthread_thread_yield(void)
{
	sched_yield();
}

static const struct tparker_backend pthread_backend = {
    .version = TPARKER_BACKEND_ABI_VERSION,
    .size = sizeof(struct tparker_backend),
    .name = "pthread",
    .description = "POSIX mutexes and condition variables on CLOCK_MONOTONIC, shared by parkers",
    .priority = 200,
    .state_size = sizeof(struct pthread_state),
    .cheap_to_construct = true,
    .probe = pthread_probe,
    .init = pthread_init,
    .destroy = pthread_destroy,
    .prepare_park = pthread_prepare_park,
    .park = pthread_park,
    .park_until = pthread_park_until,
    .timed_out = pthread_timed_out,
    .unpark_lock = pthread_unpark_lock,
    .unpark = pthread_unpark,
    .thread_yield = pthread_thread_yield,
    .word_protocol = TPARKER_WORD_PROTOCOL_V1,
};

TPARKER_BACKEND_DEFINE(pthread_backend)
