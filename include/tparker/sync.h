/* SPDX-License-Identifier: MIT */
/*
 * A mutex of one byte and a condition variable of one pointer, on the
 * parking lot (parking_lot's RawMutex and Condvar): all-zero initialisers,
 * nothing to destroy. The mutex spins a little, then parks; it is
 * eventually fair: about every 0.5 ms an unlock hands the lock to the
 * thread it wakes, so no thread starves. Deadlines are absolute
 * CLOCK_MONOTONIC times. Unlocking an unlocked mutex, or waiting on a
 * condition variable with two mutexes at once, aborts with a message.
 */
#ifndef TPARKER_SYNC_H
#define TPARKER_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <tparker/lot.h>
#include <tparker/tparker.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The timed calls follow lot.h's scheme for two timespec layouts. */
#if defined(TPARKER_TIME_DECLS_) && !defined(TPARKER_BUILDING_CORE) && \
	!(defined(__GNUC__) || defined(__clang__))
#define tparker_mutex_lock_until tparker_mutex_lock_until_time64
#define tparker_cond_wait_until  tparker_cond_wait_until_time64
#endif

typedef struct tparker_mutex {
	uint8_t state;
} tparker_mutex_t;
#define TPARKER_MUTEX_INIT                                                                         \
	{                                                                                          \
		0                                                                                  \
	}

TPARKER_API void tparker_mutex_lock(tparker_mutex_t *m);
/* true: the lock was free and is now the caller's. */
TPARKER_API bool tparker_mutex_trylock(tparker_mutex_t *m);
/* true: locked; false: the deadline passed first. */
/* clang-format off */
TPARKER_API bool tparker_mutex_lock_until(tparker_mutex_t *m,
	const TPARKER_DEADLINE_T_ *deadline) TPARKER_T64_(tparker_mutex_lock_until);
#if defined(TPARKER_TIME_DECLS_) && defined(TPARKER_BUILDING_CORE)
TPARKER_API bool tparker_mutex_lock_until_time64(tparker_mutex_t *m,
	const struct tparker_timespec64_ *deadline);
#endif
/* clang-format on */
TPARKER_API void tparker_mutex_unlock(tparker_mutex_t *m);
/* Unlock and hand the lock to the next waiter, if any. */
TPARKER_API void tparker_mutex_unlock_fair(tparker_mutex_t *m);

typedef struct tparker_cond {
	void *state;
} tparker_cond_t;
#define TPARKER_COND_INIT                                                                          \
	{                                                                                          \
		0                                                                                  \
	}

/* Unlock m, wait for a signal, lock m again. No spurious wakeups from the
 * library itself, but callers should loop on their predicate as usual. */
TPARKER_API void tparker_cond_wait(tparker_cond_t *c, tparker_mutex_t *m);
/* As tparker_cond_wait; false when the deadline passed first (m is locked
 * again either way). */
/* clang-format off */
TPARKER_API bool tparker_cond_wait_until(tparker_cond_t *c, tparker_mutex_t *m,
	const TPARKER_DEADLINE_T_ *deadline) TPARKER_T64_(tparker_cond_wait_until);
#if defined(TPARKER_TIME_DECLS_) && defined(TPARKER_BUILDING_CORE)
TPARKER_API bool tparker_cond_wait_until_time64(tparker_cond_t *c, tparker_mutex_t *m,
	const struct tparker_timespec64_ *deadline);
#endif
/* clang-format on */
/* Wake one waiter: true when a thread was woken (or moved onto the mutex). */
TPARKER_API bool tparker_cond_signal(tparker_cond_t *c);
/* Wake all waiters: one is woken, the rest move onto the mutex's queue
 * while it is locked (no thundering herd). How many were woken or moved. */
TPARKER_API size_t tparker_cond_broadcast(tparker_cond_t *c);

#ifdef __cplusplus
}
#endif

#endif /* TPARKER_SYNC_H */
