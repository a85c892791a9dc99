/* SPDX-License-Identifier: MIT */
/*
 * POSIX backend: a mutex, a condition variable on CLOCK_MONOTONIC and a
 * "should park" flag. Works wherever POSIX threads do.
 *
 * The unparker keeps the mutex locked from unpark_lock until unpark, and
 * the owner cannot leave park without that mutex: so the owner cannot free
 * the parker while unpark still signals and unlocks it. Lock order: the
 * caller's queue lock, then this mutex.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tparker/backend.h"

#include "../common/slack.h"

struct pthread_state {
	pthread_mutex_t mutex;
	pthread_cond_t cond;
	/* Written by prepare_park without the mutex (it must stay free of
	 * system calls), otherwise read and written under it: atomic so that
	 * a misbehaving caller is at worst a logic error, never a data race. */
	atomic_bool should_park;
};

static_assert(sizeof(struct pthread_state) <= TPARKER_STATE_MAX, "pthread state too large");

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
	int err = pthread_init_cond(&cond, &failed);

	(void)host;
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
	atomic_init(&s->should_park, false);
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

	atomic_store_explicit(&s->should_park, true, memory_order_relaxed);
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

/* gcc 12 with -fsanitize=address reports a false -Wstringop-overflow
 * ("writing 1 byte into a region of size 0") on this atomic load. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif
/* Under the mutex, which orders it against the unparker's store. */
static bool pthread_should_park(struct pthread_state *s)
{
	return atomic_load_explicit(&s->should_park, memory_order_relaxed);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

static void pthread_park(void *state)
{
	struct pthread_state *s = state;
	int cancel_state;

	/* The waits are cancellation points; a cancelled owner would leave
	 * the mutex locked and the unparker's handle dangling. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
	pthread_lock(s);
	while (pthread_should_park(s)) {
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
	bool unparked = true, tightened = false;
	int cancel_state;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
	/* Taking the mutex first, even for a past deadline: an uncontended
	 * lock is no system call, and returning true without it could let the
	 * owner free the parker while an unparker is still inside unpark. */
	pthread_lock(s);
	while (pthread_should_park(s)) {
		if (tparker_deadline_passed(deadline)) {
			unparked = false;
			break;
		}
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

	pthread_lock(s);
	bool parked = pthread_should_park(s);
	pthread_unlock(s);
	return parked;
}

static bool pthread_unpark_lock(void *state, tparker_unpark_handle_t *h)
{
	struct pthread_state *s = state;

	pthread_lock(s);
	atomic_store_explicit(&s->should_park, false, memory_order_relaxed);
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
};

TPARKER_BACKEND_DEFINE(pthread_backend)
