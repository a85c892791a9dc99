/* SPDX-License-Identifier: MIT */
/*
 * POSIX backend: a state word, a mutex and a condition variable on
 * CLOCK_MONOTONIC. Works wherever POSIX threads do.
 *
 * The word follows word protocol 1 (<tparker/backend.h>), so an unpark that
 * lands while the owner is awake is one compare-exchange, with no mutex, run
 * by the core or inline in the program. The owner only sleeps after moving
 * the word PARKED -> SLEEPING under the mutex; an unparker that finds it
 * SLEEPING takes the mutex, sets WAKING and keeps the mutex locked until
 * unpark has signalled. WAKING, not UNPARKED: an owner that saw UNPARKED
 * could return (and free the parker) without the mutex, while unpark still
 * signals and unlocks it. Only the owner, holding the mutex, turns WAKING
 * into UNPARKED, so it cannot leave while the unparker still needs the
 * parker. Lock order: the caller's queue lock, then this mutex.
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
#ifdef __linux__
#include "../common/futex_check.h"
#endif

enum {
	PT_UNPARKED = TPARKER_WORD_UNPARKED,
	PT_PARKED = TPARKER_WORD_PARKED,
	PT_SLEEPING = 2, /* owner waits on the condition variable (or timed out) */
	PT_WAKING = 3,   /* unparked; the unparker still holds the mutex */
};

struct pthread_state {
	_Atomic uint32_t word;
	_Atomic int32_t waker_cpu; /* word protocol 1: the core writes it; unused here */
	pthread_mutex_t mutex;
	pthread_cond_t cond;
};

static_assert(sizeof(struct pthread_state) <= TPARKER_STATE_MAX, "pthread state too large");
static_assert(offsetof(struct pthread_state, word) == offsetof(struct tparker_word_v1, word) &&
		  offsetof(struct pthread_state, waker_cpu) ==
		      offsetof(struct tparker_word_v1, waker_cpu),
	      "pthread state is laid out as word protocol 1");

static _Noreturn void pthread_fatal(const char *call, int err)
{
	fprintf(stderr, "tparker pthread: %s failed: %s (errno %d)\n", call, strerror(err), err);
	abort();
}

static int pthread_init_cond(pthread_cond_t *cond, const char **failed)
{
	pthread_condattr_t attr;
	int err = pthread_condattr_init(&attr);

	if (err) {
		*failed = "pthread_condattr_init()";
		return err;
	}
	err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (err) {
		*failed = "pthread_condattr_setclock(CLOCK_MONOTONIC)";
	} else {
		err = pthread_cond_init(cond, &attr);
		if (err)
			*failed = "pthread_cond_init()";
	}
	pthread_condattr_destroy(&attr);
	return err;
}

static int pthread_probe(const struct tparker_host *host, char *why, size_t why_len)
{
	pthread_cond_t cond;
	const char *failed = "";
	int err;

	(void)host;
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
	err = pthread_init_cond(&cond, &failed);
	if (err) {
		snprintf(why, why_len, "%s failed: %s (errno %d)", failed, strerror(err), err);
		return err;
	}
	pthread_cond_destroy(&cond);
	return 0;
}

static int pthread_init(void *state)
{
	struct pthread_state *s = state;
	const char *failed;
	int err = pthread_mutex_init(&s->mutex, NULL);

	if (err)
		return err;
	err = pthread_init_cond(&s->cond, &failed);
	if (err) {
		pthread_mutex_destroy(&s->mutex);
		return err;
	}
	atomic_init(&s->word, PT_UNPARKED);
	atomic_init(&s->waker_cpu, -1);
	return 0;
}

static void pthread_destroy(void *state)
{
	struct pthread_state *s = state;

	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->mutex);
}

static void pthread_prepare_park(void *state)
{
	struct pthread_state *s = state;

	atomic_store_explicit(&s->word, PT_PARKED, memory_order_relaxed);
}

static void pthread_lock(struct pthread_state *s)
{
	int err = pthread_mutex_lock(&s->mutex);

	if (err)
		pthread_fatal("pthread_mutex_lock()", err);
}

static void pthread_unlock(struct pthread_state *s)
{
	int err = pthread_mutex_unlock(&s->mutex);

	if (err)
		pthread_fatal("pthread_mutex_unlock()", err);
}

static uint32_t pthread_word(struct pthread_state *s)
{
	return atomic_load_explicit(&s->word, memory_order_acquire);
}

/*
 * Owner, holding the mutex: has an unparker been here? Takes over a WAKING
 * word (the unparker is done once we hold the mutex), and otherwise moves
 * PARKED to SLEEPING, after which only an unparker holding the mutex can
 * change the word, so a wait on the condition variable cannot miss it.
 */
static bool pthread_check_unparked(struct pthread_state *s)
{
	for (;;) {
		uint32_t v = pthread_word(s);
		if (v == PT_UNPARKED)
			return true;
		if (v == PT_WAKING) {
			atomic_store_explicit(&s->word, PT_UNPARKED, memory_order_relaxed);
			return true;
		}
		if (v == PT_SLEEPING ||
		    atomic_compare_exchange_strong_explicit(&s->word, &v, PT_SLEEPING,
							    memory_order_relaxed,
							    memory_order_relaxed))
			return false;
	}
}

static void pthread_park(void *state)
{
	struct pthread_state *s = state;
	int cancel_state;

	if (pthread_word(s) == PT_UNPARKED)
		return;
	/* The waits are cancellation points; a cancelled owner would leave
	 * the mutex locked and the unparker's handle dangling. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
	pthread_lock(s);
	while (!pthread_check_unparked(s)) {
		int err = pthread_cond_wait(&s->cond, &s->mutex);
		if (err)
			pthread_fatal("pthread_cond_wait()", err);
	}
	pthread_unlock(s);
	pthread_setcancelstate(cancel_state, NULL);
}

static bool pthread_park_until(void *state, const struct timespec *deadline)
{
	struct pthread_state *s = state;
	unsigned long slack = 0;
	bool unparked, tightened = false;
	int cancel_state;

	/* UNPARKED (never WAKING) means the unparker is done with us. */
	if (pthread_word(s) == PT_UNPARKED)
		return true;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
	/* The mutex even for a past deadline: an uncontended lock is no
	 * system call, and a WAKING word must be taken over under it. */
	pthread_lock(s);
	while (!(unparked = pthread_check_unparked(s))) {
		if (tparker_deadline_passed(deadline))
			break;
		if (!tightened) {
			slack = tp_slack_tighten();
			tightened = true;
		}
		int err = pthread_cond_timedwait(&s->cond, &s->mutex, deadline);
		if (err && err != ETIMEDOUT)
			pthread_fatal("pthread_cond_timedwait()", err);
	}
	pthread_unlock(s);
	tp_slack_restore(slack);
	pthread_setcancelstate(cancel_state, NULL);
	return unparked;
}

static bool pthread_timed_out(void *state)
{
	struct pthread_state *s = state;

	/* The mutex waits out an unparker between unpark_lock and unpark. */
	pthread_lock(s);
	uint32_t v = pthread_word(s);
	if (v == PT_WAKING)
		atomic_store_explicit(&s->word, v = PT_UNPARKED, memory_order_relaxed);
	pthread_unlock(s);
	return v != PT_UNPARKED;
}

static bool pthread_unpark_lock(void *state, tparker_unpark_handle_t *h)
{
	struct pthread_state *s = state;
	uint32_t v = atomic_load_explicit(&s->word, memory_order_relaxed);

	/* (waker_cpu is the core's to write; this backend never spins.)
	 * The owner is awake: it sees UNPARKED before it could sleep. */
	while (v == PT_PARKED)
		if (atomic_compare_exchange_weak_explicit(&s->word, &v, PT_UNPARKED,
							  memory_order_release,
							  memory_order_relaxed))
			return false;
	if (v == PT_UNPARKED || v == PT_WAKING)
		return false; /* an unparker has been here already */
	/* SLEEPING: the owner waits on the condition variable, or timed out.
	 * Whatever the word became in between, WAKING under the mutex is
	 * right: the owner takes it over only once unpark has unlocked. */
	pthread_lock(s);
	atomic_store_explicit(&s->word, PT_WAKING, memory_order_release);
	h->addr = s;
	return true;
}

static void pthread_unpark(const tparker_unpark_handle_t *h)
{
	struct pthread_state *s = h->addr;
	/* Signal before unlocking: the owner cannot return, and free the
	 * parker, until the unlock. */
	int err = pthread_cond_signal(&s->cond);

	if (err)
		pthread_fatal("pthread_cond_signal()", err);
	pthread_unlock(s);
}

static void pthread_thread_yield(void)
{
	sched_yield();
}

static const struct tparker_backend pthread_backend = {
    .version = TPARKER_BACKEND_ABI_VERSION,
    .size = sizeof(struct tparker_backend),
    .name = "pthread",
    .description = "POSIX mutex and condition variable on CLOCK_MONOTONIC",
    .priority = 200,
    .state_size = sizeof(struct pthread_state),
    .cheap_to_construct = false,
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
