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
 * SPIN_YIELD_STEPS sched_yield()s, then sleeps from 1 us doubling up to a
 * cap that grows with the number of spin threads asleep in a park, process
 * wide: SPIN_SLEEP_PER_THREAD_NS each, from SPIN_SLEEP_MIN_CAP_NS (a lone
 * parked thread) to SPIN_SLEEP_MAX_CAP_NS. Together the sleepers then wake
 * about 800 times a second whatever their number, up to 80 of them (the
 * cost of 8 threads under the former fixed 10 ms cap, about 20 ms of CPU a
 * second on a 2-core VM): few parked threads notice an unpark within
 * 1.25 ms, 8 within 10 ms, and 1000 parked threads wake 10 000 times a
 * second rather than starve the machine (a 1 ms cap for all of them did). */
#define SPIN_PAUSE_STEPS	 10
#define SPIN_YIELD_STEPS	 10
#define SPIN_SLEEP_PER_THREAD_NS 1250000L
#define SPIN_SLEEP_MIN_CAP_NS	 SPIN_SLEEP_PER_THREAD_NS
#define SPIN_SLEEP_MAX_CAP_NS	 100000000L

/* Spin threads in the sleep phase of a park, this one included. */
static _Atomic uint32_t spin_sleepers;

static long spin_sleep_cap(uint32_t sleepers)
{
	if (sleepers >= SPIN_SLEEP_MAX_CAP_NS / SPIN_SLEEP_PER_THREAD_NS)
		return SPIN_SLEEP_MAX_CAP_NS;
	long cap = (long)sleepers * SPIN_SLEEP_PER_THREAD_NS;
	return cap < SPIN_SLEEP_MIN_CAP_NS ? SPIN_SLEEP_MIN_CAP_NS : cap;
}

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
static bool spin_wait_counted(struct spin_state *s, const struct timespec *deadline,
			      bool *counted)
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
			uint32_t sleepers =
			    *counted ? atomic_load_explicit(&spin_sleepers, memory_order_relaxed)
				     : atomic_fetch_add_explicit(&spin_sleepers, 1,
								 memory_order_relaxed) +
					   1;
			*counted = true;
			long cap = spin_sleep_cap(sleepers);
			if (sleep_ns > cap)
				sleep_ns = cap; /* others have left: wake sooner */
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
			sleep_ns = sleep_ns < cap / 2 ? sleep_ns * 2 : cap;
		}
	}
}

static bool spin_wait(struct spin_state *s, const struct timespec *deadline)
{
	bool counted = false;
	bool unparked = spin_wait_counted(s, deadline, &counted);
	if (counted)
		atomic_fetch_sub_explicit(&spin_sleepers, 1, memory_order_relaxed);
	return unparked;
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
