/* SPDX-License-Identifier: MIT */
/*
 * WebAssembly without threads (no shared memory): the program is its only
 * thread, so a parked thread could only ever be woken by itself. An unpark
 * that came before the park (the word protocol's early return) works as
 * anywhere; a park that would have to wait stops the program with the cause
 * and the fix, rather than hang the page or node forever or spin in place.
 * A timed park waits its deadline out on the clock and times out, which is
 * all that can happen to it: nothing can unpark it meanwhile.
 *
 * Word protocol 1, with the word UNPARKED or PARKED only (as spin's): the
 * core and programs' inline code run prepare_park, the early return of park
 * and the unpark themselves.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <sched.h>

#include "tparker/backend.h"

#if !defined(__EMSCRIPTEN__) || defined(__EMSCRIPTEN_PTHREADS__)
#error "the wasm backend is for WebAssembly without threads (emcc without -pthread)"
#endif

struct wasm_state {
	_Atomic uint32_t word;
	_Atomic int32_t waker_cpu; /* word protocol 1; no CPU is known here */
};

_Static_assert(offsetof(struct wasm_state, word) == offsetof(struct tparker_word_v1, word) &&
		   offsetof(struct wasm_state, waker_cpu) ==
		       offsetof(struct tparker_word_v1, waker_cpu),
	       "word protocol 1: the word, then the waker's CPU");
_Static_assert(sizeof(struct wasm_state) <= TPARKER_STATE_MAX, "state fits");

static int wasm_probe(const struct tparker_host *host, char *why, size_t why_len)
{
	(void)host, (void)why, (void)why_len;
	return 0;
}

static int wasm_init(void *state)
{
	struct wasm_state *s = state;
	atomic_init(&s->word, TPARKER_WORD_UNPARKED);
	atomic_init(&s->waker_cpu, -1);
	return 0;
}

static void wasm_destroy(void *state)
{
	(void)state;
}

static void wasm_prepare_park(void *state)
{
	struct wasm_state *s = state;
	atomic_store_explicit(&s->word, TPARKER_WORD_PARKED, memory_order_relaxed);
}

static bool wasm_unparked(struct wasm_state *s)
{
	return atomic_load_explicit(&s->word, memory_order_acquire) == TPARKER_WORD_UNPARKED;
}

static void wasm_park(void *state)
{
	if (wasm_unparked(state))
		return;
	/* One write, so the line stays whole; then the same stop as every
	 * other fatal error of the library. */
	fputs("tparker wasm: a park without a deadline on WebAssembly without threads would "
	      "wait forever (no other thread exists to unpark this one); build the program "
	      "with threads (emcc -pthread, which brings the wasm_atomic backend)\n",
	      stderr);
	abort();
}

static bool wasm_park_until(void *state, const struct timespec *deadline)
{
	for (;;) {
		if (wasm_unparked(state))
			return true;
		struct timespec now = tparker_now();
		if (!tparker_ts_before(&now, deadline))
			return false;
		/* Relative: Emscripten's clock_nanosleep ignores TIMER_ABSTIME.
		 * An early return just goes round the loop. */
		struct timespec left = {deadline->tv_sec - now.tv_sec,
					deadline->tv_nsec - now.tv_nsec};
		if (left.tv_nsec < 0) {
			left.tv_nsec += 1000000000L;
			left.tv_sec--;
		}
		nanosleep(&left, NULL);
	}
}

static bool wasm_timed_out(void *state)
{
	return !wasm_unparked(state);
}

static bool wasm_unpark_lock(void *state, tparker_unpark_handle_t *h)
{
	struct wasm_state *s = state;
	(void)h;
	atomic_store_explicit(&s->word, TPARKER_WORD_UNPARKED, memory_order_release);
	/* Nobody sleeps: nothing is left for unpark to do. */
	return false;
}

static void wasm_unpark(const tparker_unpark_handle_t *h)
{
	(void)h;
}

static void wasm_thread_yield(void)
{
	sched_yield();
}

static const struct tparker_backend wasm_backend = {
    .version = TPARKER_BACKEND_ABI_VERSION,
    .size = sizeof(struct tparker_backend),
    .name = "wasm",
    .description = "WebAssembly without threads: an unpark before the park returns at once, "
		   "a park that would wait forever stops the program",
    .priority = 100,
    .state_size = sizeof(struct wasm_state),
    .cheap_to_construct = true,
    .probe = wasm_probe,
    .init = wasm_init,
    .destroy = wasm_destroy,
    .prepare_park = wasm_prepare_park,
    .park = wasm_park,
    .park_until = wasm_park_until,
    .timed_out = wasm_timed_out,
    .unpark_lock = wasm_unpark_lock,
    .unpark = wasm_unpark,
    .thread_yield = wasm_thread_yield,
    .word_protocol = TPARKER_WORD_PROTOCOL_V1,
};

TPARKER_BACKEND_DEFINE(wasm_backend)
