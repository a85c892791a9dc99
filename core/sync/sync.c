/* SPDX-License-Identifier: MIT */
/*
 * A one-byte mutex and a condition variable on the parking lot
 * (parking_lot's RawMutex and Condvar). The mutex's byte: bit 0 locked,
 * bit 1 threads may be parked on its address. The condition variable's
 * word: the mutex its waiters use, NULL when none wait. Signal and
 * broadcast move waiters onto the mutex's queue when it is locked, so they
 * wake one at a time as it is unlocked.
 */
#include <stdint.h>

#include <tparker/lot.h>
#include <tparker/sync.h>

#include "../lot/lot_internal.h"

#define LOCKED_BIT ((uint8_t)1)
#define PARKED_BIT ((uint8_t)2)

/* Unpark tokens: the lock was handed over to the woken thread. */
#define TOKEN_NORMAL  ((uintptr_t)0)
#define TOKEN_HANDOFF ((uintptr_t)1)

/* ---- mutex ------------------------------------------------------------------- */

static bool mutex_validate(void *arg)
{
	tparker_mutex_t *m = arg;
	return __atomic_load_n(&m->state, __ATOMIC_RELAXED) == (LOCKED_BIT | PARKED_BIT);
}

static void mutex_timed_out(void *arg, uintptr_t key, bool was_last_thread)
{
	(void)key;
	tparker_mutex_t *m = arg;
	if (was_last_thread)
		__atomic_fetch_and(&m->state, (uint8_t)~PARKED_BIT, __ATOMIC_RELAXED);
}

static bool mutex_lock_slow(tparker_mutex_t *m, const struct timespec *deadline)
{
	struct tp_spinwait spin = {0};
	uint8_t state = __atomic_load_n(&m->state, __ATOMIC_RELAXED);
	for (;;) {
		if (!(state & LOCKED_BIT)) {
			if (__atomic_compare_exchange_n(&m->state, &state, state | LOCKED_BIT, true,
							__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
				return true;
			continue;
		}
		if (!(state & PARKED_BIT) && tp_spinwait_spin(&spin)) {
			state = __atomic_load_n(&m->state, __ATOMIC_RELAXED);
			continue;
		}
		if (!(state & PARKED_BIT)) {
			if (!__atomic_compare_exchange_n(&m->state, &state, state | PARKED_BIT,
							 true, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
				continue;
		}
		tparker_park_result_t r = tp_lot_park_ts(
		    (uintptr_t)m, mutex_validate, NULL, mutex_timed_out, m, TOKEN_NORMAL, deadline);
		if (r.status == TPARKER_PARK_UNPARKED && r.unpark_token == TOKEN_HANDOFF)
			return true;
		if (r.status == TPARKER_PARK_TIMED_OUT)
			return false;
		spin.counter = 0;
		state = __atomic_load_n(&m->state, __ATOMIC_RELAXED);
	}
}

TPARKER_API void tparker_mutex_lock(tparker_mutex_t *m)
{
	uint8_t zero = 0;
	if (!__atomic_compare_exchange_n(&m->state, &zero, LOCKED_BIT, true, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED))
		mutex_lock_slow(m, NULL);
}

TPARKER_API bool tparker_mutex_trylock(tparker_mutex_t *m)
{
	uint8_t state = __atomic_load_n(&m->state, __ATOMIC_RELAXED);
	for (;;) {
		if (state & LOCKED_BIT)
			return false;
		if (__atomic_compare_exchange_n(&m->state, &state, state | LOCKED_BIT, true,
						__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return true;
	}
}

static bool mutex_lock_until(tparker_mutex_t *m, const struct timespec *deadline)
{
	uint8_t zero = 0;
	if (__atomic_compare_exchange_n(&m->state, &zero, LOCKED_BIT, true, __ATOMIC_ACQUIRE,
					__ATOMIC_RELAXED))
		return true;
	return mutex_lock_slow(m, deadline);
}

TPARKER_API bool tparker_mutex_lock_until(tparker_mutex_t *m, const TPARKER_DEADLINE_T_ *deadline)
{
	struct timespec buf;
	return mutex_lock_until(m, TP_LOT_DEADLINE(buf, deadline));
}

#ifdef TPARKER_TIME64_ABI_
TPARKER_API bool tparker_mutex_lock_until_time64(tparker_mutex_t *m,
						 const struct tparker_timespec64_ *deadline)
{
	struct timespec buf;
	return mutex_lock_until(m, TP_LOT_DEADLINE(buf, deadline));
}
#endif

struct unlock_ctx {
	tparker_mutex_t *m;
	bool force_fair;
};

static uintptr_t mutex_unlock_callback(void *arg, tparker_unpark_result_t r)
{
	struct unlock_ctx *c = arg;
	if (r.unparked_threads && (c->force_fair || r.be_fair)) {
		/* Handed over: the lock stays locked, for the woken thread. */
		if (!r.have_more_threads)
			__atomic_store_n(&c->m->state, LOCKED_BIT, __ATOMIC_RELAXED);
		return TOKEN_HANDOFF;
	}
	__atomic_store_n(&c->m->state, r.have_more_threads ? PARKED_BIT : 0, __ATOMIC_RELEASE);
	return TOKEN_NORMAL;
}

static __attribute__((noinline)) void mutex_unlock_slow(tparker_mutex_t *m, bool force_fair)
{
	if (!(__atomic_load_n(&m->state, __ATOMIC_RELAXED) & LOCKED_BIT))
		tp_lot_fatal("tparker_mutex_unlock: mutex %p is not locked", (void *)m);
	struct unlock_ctx c = {m, force_fair};
	tparker_lot_unpark_one((uintptr_t)m, mutex_unlock_callback, &c);
}

TPARKER_API void tparker_mutex_unlock(tparker_mutex_t *m)
{
	uint8_t locked = LOCKED_BIT;
	if (!__atomic_compare_exchange_n(&m->state, &locked, 0, false, __ATOMIC_RELEASE,
					 __ATOMIC_RELAXED))
		mutex_unlock_slow(m, false);
}

TPARKER_API void tparker_mutex_unlock_fair(tparker_mutex_t *m)
{
	uint8_t locked = LOCKED_BIT;
	if (!__atomic_compare_exchange_n(&m->state, &locked, 0, false, __ATOMIC_RELEASE,
					 __ATOMIC_RELAXED))
		mutex_unlock_slow(m, true);
}

/* Mark the mutex parked if it is locked: then waiters can be moved onto it. */
static bool mutex_mark_parked_if_locked(tparker_mutex_t *m)
{
	uint8_t state = __atomic_load_n(&m->state, __ATOMIC_RELAXED);
	for (;;) {
		if (!(state & LOCKED_BIT))
			return false;
		if (__atomic_compare_exchange_n(&m->state, &state, state | PARKED_BIT, true,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED))
			return true;
	}
}

/* ---- condition variable -------------------------------------------------------- */

struct cond_ctx {
	tparker_cond_t *c;
	tparker_mutex_t *m;
	bool bad_mutex, requeued;
};

static enum tparker_requeue_op signal_validate(void *arg)
{
	struct cond_ctx *x = arg;
	if (__atomic_load_n(&x->c->state, __ATOMIC_RELAXED) != (void *)x->m)
		return TPARKER_REQUEUE_ABORT;
	return mutex_mark_parked_if_locked(x->m) ? TPARKER_REQUEUE_ONE : TPARKER_REQUEUE_UNPARK_ONE;
}

static uintptr_t signal_callback(void *arg, enum tparker_requeue_op op, tparker_unpark_result_t r)
{
	(void)op;
	struct cond_ctx *x = arg;
	if (!r.have_more_threads)
		__atomic_store_n(&x->c->state, NULL, __ATOMIC_RELAXED);
	return TOKEN_NORMAL;
}

TPARKER_API bool tparker_cond_signal(tparker_cond_t *c)
{
	void *m = __atomic_load_n(&c->state, __ATOMIC_RELAXED);
	if (!m)
		return false;
	struct cond_ctx x = {c, m, false, false};
	tparker_unpark_result_t r = tparker_lot_unpark_requeue(
	    (uintptr_t)c, (uintptr_t)m, signal_validate, signal_callback, &x);
	return r.unparked_threads + r.requeued_threads != 0;
}

static enum tparker_requeue_op broadcast_validate(void *arg)
{
	struct cond_ctx *x = arg;
	if (__atomic_load_n(&x->c->state, __ATOMIC_RELAXED) != (void *)x->m)
		return TPARKER_REQUEUE_ABORT;
	/* Every waiter goes: none is left on the condition variable. */
	__atomic_store_n(&x->c->state, NULL, __ATOMIC_RELAXED);
	return mutex_mark_parked_if_locked(x->m) ? TPARKER_REQUEUE_ALL
						 : TPARKER_REQUEUE_UNPARK_ONE_REQUEUE_REST;
}

static uintptr_t broadcast_callback(void *arg, enum tparker_requeue_op op,
				    tparker_unpark_result_t r)
{
	struct cond_ctx *x = arg;
	/* The woken thread will lock the mutex; the moved ones wait on it. */
	if (op == TPARKER_REQUEUE_UNPARK_ONE_REQUEUE_REST && r.requeued_threads)
		__atomic_fetch_or(&x->m->state, PARKED_BIT, __ATOMIC_RELAXED);
	return TOKEN_NORMAL;
}

TPARKER_API size_t tparker_cond_broadcast(tparker_cond_t *c)
{
	void *m = __atomic_load_n(&c->state, __ATOMIC_RELAXED);
	if (!m)
		return 0;
	struct cond_ctx x = {c, m, false, false};
	tparker_unpark_result_t r = tparker_lot_unpark_requeue(
	    (uintptr_t)c, (uintptr_t)m, broadcast_validate, broadcast_callback, &x);
	return r.unparked_threads + r.requeued_threads;
}

static bool wait_validate(void *arg)
{
	struct cond_ctx *x = arg;
	void *state = __atomic_load_n(&x->c->state, __ATOMIC_RELAXED);
	if (!state) {
		__atomic_store_n(&x->c->state, (void *)x->m, __ATOMIC_RELAXED);
	} else if (state != (void *)x->m) {
		x->bad_mutex = true;
		return false;
	}
	return true;
}

static void wait_before_sleep(void *arg)
{
	struct cond_ctx *x = arg;
	tparker_mutex_unlock(x->m);
}

static void wait_timed_out(void *arg, uintptr_t key, bool was_last_thread)
{
	struct cond_ctx *x = arg;
	/* Moved onto the mutex's queue: a signal came, only the relock timed out. */
	x->requeued = key != (uintptr_t)x->c;
	if (!x->requeued && was_last_thread)
		__atomic_store_n(&x->c->state, NULL, __ATOMIC_RELAXED);
}

static bool cond_wait_until(tparker_cond_t *c, tparker_mutex_t *m, const struct timespec *deadline)
{
	struct cond_ctx x = {c, m, false, false};
	tparker_park_result_t r = tp_lot_park_ts((uintptr_t)c, wait_validate, wait_before_sleep,
						 wait_timed_out, &x, TOKEN_NORMAL, deadline);
	if (x.bad_mutex)
		tp_lot_fatal("tparker_cond_wait: condition variable %p used with two mutexes",
			     (void *)c);
	if (!(r.status == TPARKER_PARK_UNPARKED && r.unpark_token == TOKEN_HANDOFF))
		tparker_mutex_lock(m);
	return r.status == TPARKER_PARK_UNPARKED || x.requeued;
}

TPARKER_API bool tparker_cond_wait_until(tparker_cond_t *c, tparker_mutex_t *m,
					 const TPARKER_DEADLINE_T_ *deadline)
{
	struct timespec buf;
	return cond_wait_until(c, m, TP_LOT_DEADLINE(buf, deadline));
}

#ifdef TPARKER_TIME64_ABI_
TPARKER_API bool tparker_cond_wait_until_time64(tparker_cond_t *c, tparker_mutex_t *m,
						const struct tparker_timespec64_ *deadline)
{
	struct timespec buf;
	return cond_wait_until(c, m, TP_LOT_DEADLINE(buf, deadline));
}
#endif

TPARKER_API void tparker_cond_wait(tparker_cond_t *c, tparker_mutex_t *m)
{
	cond_wait_until(c, m, NULL);
}
