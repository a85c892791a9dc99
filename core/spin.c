/* SPDX-License-Identifier: MIT */
/* The built-in spin backend: works wherever C11 atomics do. It spins with
 * the CPU's pause hint, then yields, then sleeps for exponentially longer
 * (capped) intervals, so a thread parked for long costs little CPU. */
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "internal.h"

/* Word protocol 1 (<tparker/backend.h>): `parked` is the word, 0 or 1 only
 * (a spinning owner polls it, so it never needs an unpark call), and the
 * core runs the fast steps on it itself. */
struct spin_state {
	_Atomic uint32_t parked;
	_Atomic int32_t waker_cpu; /* kept for the protocol; unused here */
};
_Static_assert(sizeof(struct spin_state) <= TPARKER_STATE_MAX, "spin state fits");
_Static_assert(offsetof(struct spin_state, parked) == offsetof(struct tparker_word_v1, word) &&
		   offsetof(struct spin_state, waker_cpu) ==
		       offsetof(struct tparker_word_v1, waker_cpu),
	       "spin state is laid out as word protocol 1");

/* Backoff: 2^0 .. 2^(SPIN_PAUSE_STEPS-1) pauses per step, then
 * SPIN_YIELD_STEPS sched_yield()s, then sleeps from 1 us doubling up to
 * SPIN_SLEEP_MAX_NS (1, 2, 4 ... 8192 us, then 10 ms each). The cap trades
 * wake latency of a long-parked thread (at most ~10 ms) against idle cost:
 * at 1 ms, 1000 parked threads woke a million times a second and starved a
 * 2-core machine. */
#define SPIN_PAUSE_STEPS  10
#define SPIN_YIELD_STEPS  10
#define SPIN_SLEEP_MAX_NS 10000000L

static int spin_probe(const struct tparker_host *host, char *why, size_t why_len)
{
	(void)host, (void)why, (void)why_len;
	return 0;
}

static int spin_init(void *state)
{
	struct spin_state *s = state;
	atomic_init(&s->parked, TPARKER_WORD_UNPARKED);
	atomic_init(&s->waker_cpu, -1);
	return 0;
}

static void spin_destroy(void *state)
{
	(void)state;
}

static void spin_prepare_park(void *state)
{
	struct spin_state *s = state;
	atomic_store_explicit(&s->parked, TPARKER_WORD_PARKED, memory_order_relaxed);
}

/* Wait until unparked (true) or until the deadline, if any, passes (false). */
static bool spin_wait(struct spin_state *s, const struct timespec *deadline)
{
	long sleep_ns = 1000;
	for (unsigned step = 0;; step++) {
		if (atomic_load_explicit(&s->parked, memory_order_acquire) == TPARKER_WORD_UNPARKED)
			return true;
		struct timespec now = tparker_now();
		if (deadline && !tparker_ts_before(&now, deadline))
			return false;
		if (step < SPIN_PAUSE_STEPS) {
			for (unsigned i = 0; i < (1u << step); i++)
				tparker_cpu_relax();
		} else if (step < SPIN_PAUSE_STEPS + SPIN_YIELD_STEPS) {
			tp_os_yield();
		} else {
			struct timespec until = now;
			until.tv_nsec += sleep_ns;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_nsec -= 1000000000L;
				until.tv_sec++;
			}
			if (deadline && tparker_ts_before(deadline, &until))
				until = *deadline;
			/* Absolute sleep: EINTR just goes round the loop. */
			tp_os_sleep_until(&until);
			/* Capped after doubling, so that no sleep exceeds the cap
			 * and the cap itself is reached. */
			sleep_ns =
			    sleep_ns < SPIN_SLEEP_MAX_NS / 2 ? sleep_ns * 2 : SPIN_SLEEP_MAX_NS;
		}
	}
}

static void spin_park(void *state)
{
	spin_wait(state, NULL);
}

static bool spin_park_until(void *state, const struct timespec *deadline)
{
	return spin_wait(state, deadline);
}

static bool spin_timed_out(void *state)
{
	struct spin_state *s = state;
	return atomic_load_explicit(&s->parked, memory_order_relaxed) != TPARKER_WORD_UNPARKED;
}

static bool spin_unpark_lock(void *state, tparker_unpark_handle_t *h)
{
	struct spin_state *s = state;
	(void)h;
	atomic_store_explicit(&s->parked, TPARKER_WORD_UNPARKED, memory_order_release);
	/* The parked thread polls: nothing is left for unpark to do. */
	return false;
}

static void spin_unpark(const tparker_unpark_handle_t *h)
{
	(void)h;
}

static void spin_thread_yield(void)
{
	tp_os_yield();
}

const struct tparker_backend tp_spin_backend = {
    .version = TPARKER_BACKEND_ABI_VERSION,
    .size = sizeof(struct tparker_backend),
    .name = "spin",
    .description = "built-in: spins, yields, then sleeps with exponential backoff; "
		   "works everywhere",
    .priority = 0,
    .state_size = sizeof(struct spin_state),
    .cheap_to_construct = true,
    .probe = spin_probe,
    .init = spin_init,
    .destroy = spin_destroy,
    .prepare_park = spin_prepare_park,
    .park = spin_park,
    .park_until = spin_park_until,
    .timed_out = spin_timed_out,
    .unpark_lock = spin_unpark_lock,
    .unpark = spin_unpark,
    .thread_yield = spin_thread_yield,
    .word_protocol = TPARKER_WORD_PROTOCOL_V1,
};
