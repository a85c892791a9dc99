/* SPDX-License-Identifier: MIT */
/*
 * The parking lot: wait queues keyed by address, on top of the parker.
 *
 * Names and semantics are those of parking_lot_core 0.9's functions of the
 * same names. A thread parks on a key (an address the caller controls) after
 * a validate callback, run under the key's queue lock, agreed; an unparker
 * takes threads off a key's queue, under that lock, and hands each a token.
 * Callbacks run on the calling thread, must not unwind (no longjmp out of
 * them) and may not call into the lot, except before_sleep, which may call
 * the unpark functions but not park. NULL callbacks take the defaults
 * (validate: true; before_sleep, timed_out: nothing; unpark callbacks:
 * token 0; filter: unpark every thread); tparker_lot_unpark_requeue's
 * validate is required. park returns UNPARKED only after an unpark chose
 * this thread: there are no spurious returns. Deadlines are absolute
 * CLOCK_MONOTONIC times, as for tparker_park_until().
 *
 * A thread's first park may allocate (its queue entry and a larger table of
 * queues); later parks never do.
 */
#ifndef TPARKER_LOT_H
#define TPARKER_LOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <tparker/tparker.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The timed calls of lot.h and sync.h take a struct timespec, and so follow
 * tparker.h's scheme for the two timespec layouts of a glibc ABI whose
 * traditional time_t is 32 bits: the library exports each twice (NAME for
 * the traditional layout, NAME_time64 for the 64-bit one) and these headers
 * bind NAME to the symbol of the including program's layout. Elsewhere
 * there is one layout and only NAME.
 */
#ifndef TPARKER_DEADLINE_T_
#if defined(TPARKER_TIME_DECLS_) && defined(TPARKER_BUILDING_CORE)
#define TPARKER_DEADLINE_T_ struct tparker_timespec32_
#define TPARKER_T64_(name)
#elif defined(TPARKER_TIME_DECLS_) && (defined(__GNUC__) || defined(__clang__))
#define TPARKER_DEADLINE_T_ struct timespec
#define TPARKER_T64_(name) TPARKER_TIME64_(name)
#else
#define TPARKER_DEADLINE_T_ struct timespec
#define TPARKER_T64_(name)
#endif
#endif
#if defined(TPARKER_TIME_DECLS_) && !defined(TPARKER_BUILDING_CORE) && \
	!(defined(__GNUC__) || defined(__clang__))
#define tparker_lot_park tparker_lot_park_time64
#define tparker_wait     tparker_wait_time64
#endif

typedef struct tparker_unpark_result {
	size_t unparked_threads;
	size_t requeued_threads;
	/* Threads with this key may still be queued, computed as
	 * parking_lot_core 0.9's code does (set by requeue's REQUEUE_ONE and
	 * UNPARK_ONE and by a filter's SKIP or STOP even when nothing was
	 * unparked). */
	bool have_more_threads;
	/* True about once every 0.5 ms per queue, at random: a lock should
	 * then hand itself over to the woken thread. */
	bool be_fair;
} tparker_unpark_result_t;

enum tparker_park_status { TPARKER_PARK_UNPARKED, TPARKER_PARK_INVALID, TPARKER_PARK_TIMED_OUT };

typedef struct tparker_park_result {
	enum tparker_park_status status;
	uintptr_t unpark_token; /* when UNPARKED: what the unparker's callback returned */
} tparker_park_result_t;

enum tparker_requeue_op {
	TPARKER_REQUEUE_ABORT,
	TPARKER_REQUEUE_UNPARK_ONE_REQUEUE_REST,
	TPARKER_REQUEUE_ALL,
	TPARKER_REQUEUE_UNPARK_ONE,
	TPARKER_REQUEUE_ONE
};

enum tparker_filter_op { TPARKER_FILTER_UNPARK, TPARKER_FILTER_SKIP, TPARKER_FILTER_STOP };

#if defined(__cplusplus) && __cplusplus >= 201103L
static_assert(sizeof(enum tparker_park_status) == sizeof(int) &&
		  sizeof(enum tparker_requeue_op) == sizeof(int) &&
		  sizeof(enum tparker_filter_op) == sizeof(int),
	      "the lot's enums are int-sized in the ABI");
#elif !defined(__cplusplus) && defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
_Static_assert(sizeof(enum tparker_park_status) == sizeof(int) &&
		   sizeof(enum tparker_requeue_op) == sizeof(int) &&
		   sizeof(enum tparker_filter_op) == sizeof(int),
	       "the lot's enums are int-sized in the ABI");
#endif

/*
 * Park the calling thread on key: under the queue lock, validate(ctx)
 * (false: return INVALID at once); queue the thread with park_token; release
 * the lock; before_sleep(ctx); sleep until unparked (UNPARKED with the
 * unparker's token) or until deadline (NULL: none) passes. On a timeout,
 * under the lock of the queue the thread is then in (after any requeue),
 * timed_out(ctx, that key, whether no other thread with that key is left)
 * runs and park returns TIMED_OUT.
 */
/* clang-format off */
TPARKER_API tparker_park_result_t tparker_lot_park(uintptr_t key,
	bool (*validate)(void *ctx), void (*before_sleep)(void *ctx),
	void (*timed_out)(void *ctx, uintptr_t key, bool was_last_thread), void *ctx,
	uintptr_t park_token, const TPARKER_DEADLINE_T_ *deadline) TPARKER_T64_(tparker_lot_park);
#if defined(TPARKER_TIME_DECLS_) && defined(TPARKER_BUILDING_CORE)
TPARKER_API tparker_park_result_t tparker_lot_park_time64(uintptr_t key,
	bool (*validate)(void *ctx), void (*before_sleep)(void *ctx),
	void (*timed_out)(void *ctx, uintptr_t key, bool was_last_thread), void *ctx,
	uintptr_t park_token, const struct tparker_timespec64_ *deadline);
#endif
/* clang-format on */

/* Unpark the first thread parked on key. callback(ctx, result) runs under
 * the queue lock, also when no thread was there; its return value is the
 * woken thread's unpark_token. Returns what the callback saw. */
TPARKER_API tparker_unpark_result_t tparker_lot_unpark_one(
    uintptr_t key, uintptr_t (*callback)(void *ctx, tparker_unpark_result_t r), void *ctx);

/* Unpark every thread parked on key, each with unpark_token; how many. */
TPARKER_API size_t tparker_lot_unpark_all(uintptr_t key, uintptr_t unpark_token);

/* Under the locks of both queues, validate(ctx) (required) picks the op;
 * then threads of key_from are unparked or moved, in order, to the end of
 * key_to's queue, and callback(ctx, op, result) returns the token of the
 * thread woken, if any. ABORT does nothing (the callback does not run). */
TPARKER_API tparker_unpark_result_t tparker_lot_unpark_requeue(
    uintptr_t key_from, uintptr_t key_to, enum tparker_requeue_op (*validate)(void *ctx),
    uintptr_t (*callback)(void *ctx, enum tparker_requeue_op op, tparker_unpark_result_t r),
    void *ctx);

/* filter(ctx, park_token) runs for each thread of key, in order: UNPARK
 * takes it, SKIP leaves it, STOP leaves it and ends the scan. Then
 * callback(ctx, result) returns the token every taken thread gets. */
TPARKER_API tparker_unpark_result_t tparker_lot_unpark_filter(
    uintptr_t key, enum tparker_filter_op (*filter)(void *ctx, uintptr_t park_token),
    uintptr_t (*callback)(void *ctx, tparker_unpark_result_t r), void *ctx);

/*
 * Wait on any address, on every backend: when the size bytes at addr (1, 2,
 * 4 or 8, aligned to size) equal those at expected, sleep until
 * tparker_wake_one/all(addr) or until deadline (NULL: none). Returns false
 * only when the deadline passed. A waker that changes the value before
 * waking never loses a waiter. Other sizes or a misaligned addr abort.
 */
/* clang-format off */
TPARKER_API bool tparker_wait(const void *addr, const void *expected, size_t size,
	const TPARKER_DEADLINE_T_ *deadline) TPARKER_T64_(tparker_wait);
#if defined(TPARKER_TIME_DECLS_) && defined(TPARKER_BUILDING_CORE)
TPARKER_API bool tparker_wait_time64(const void *addr, const void *expected, size_t size,
	const struct tparker_timespec64_ *deadline);
#endif
/* clang-format on */
TPARKER_API void tparker_wake_one(const void *addr);
TPARKER_API void tparker_wake_all(const void *addr);

#ifdef __cplusplus
}
#endif

#endif /* TPARKER_LOT_H */
