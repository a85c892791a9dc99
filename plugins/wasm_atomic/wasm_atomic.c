/* SPDX-License-Identifier: MIT */
/*
 * WebAssembly with threads (Emscripten -pthread: shared memory, the atomics
 * feature): one 32-bit word per parker, the owner waits on it with
 * memory.atomic.wait32 and an unparker wakes it with memory.atomic.notify.
 * The word is UNPARKED, PARKED (owner awake) or SLEEPING (owner in wait32,
 * or about to be), as in plugins/common/word.h: only an unpark that finds
 * SLEEPING needs a notify, so an unpark that lands before the owner waits
 * costs nothing. Word protocol 1: the core and programs' inline code run
 * prepare_park, the early return of park and the PARKED -> UNPARKED unpark
 * themselves.
 *
 * No spinning before the wait: the clock is a call into JavaScript, and no
 * CPU number is known to tell a waker on our own CPU from one elsewhere.
 *
 * Not every thread may wait: a browser's main thread traps on wait32 (and
 * on Atomics.wait). The backend is chosen once, on the thread that starts
 * the program (a page's main thread, even with -sPROXY_TO_PTHREAD), and
 * serves every thread: one that may not block waits in Emscripten's own
 * emulation (emscripten_futex_wait), which busy-waits there and meanwhile
 * runs the calls other threads proxy to it, as Emscripten's mutexes do, so
 * that a worker that must reach the page's thread before it unparks can.
 * Workers wait in wait32. Node lets every thread wait, its main thread
 * included.
 *
 * V8 11.3's baseline compiler (Liftoff, node 20) clobbers values held in
 * registers across memory.atomic.wait32; programs link with
 * wasm/tparker-noliftoff.js (tparker.pc names it), which turns Liftoff off
 * before the module is compiled.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <math.h>
#include <sched.h>

#include <emscripten/threading.h>

#include "tparker/backend.h"

#if !defined(__EMSCRIPTEN__) || !defined(__EMSCRIPTEN_PTHREADS__) || !defined(__wasm_atomics__)
#error "the wasm_atomic backend needs WebAssembly threads: build with emcc -pthread"
#endif

/* Emscripten's own answer to "may this thread block in Atomics.wait?",
 * set for each thread when it starts: false only on a browser's main
 * thread (emscripten_futex_wait asks the same before it waits). */
int _emscripten_thread_supports_atomics_wait(void);

enum { WA_UNPARKED = TPARKER_WORD_UNPARKED, WA_PARKED = TPARKER_WORD_PARKED, WA_SLEEPING = 2 };

/* memory.atomic.wait32's results. */
enum { WA_WOKEN = 0, WA_NOT_EQUAL = 1, WA_TIMED_OUT = 2 };

/* One wait is at most an hour: the loop then waits again, so a deadline
 * decades ahead never reaches the engine as a huge i64. */
#define WA_WAIT_MAX_NS (3600LL * 1000000000LL)

struct wa_state {
	_Atomic uint32_t word;
	_Atomic int32_t waker_cpu; /* word protocol 1; no CPU is known here */
};

_Static_assert(offsetof(struct wa_state, word) == offsetof(struct tparker_word_v1, word) &&
		   offsetof(struct wa_state, waker_cpu) ==
		       offsetof(struct tparker_word_v1, waker_cpu),
	       "word protocol 1: the word, then the waker's CPU");
_Static_assert(sizeof(struct wa_state) <= TPARKER_STATE_MAX, "state fits");
_Static_assert(sizeof(_Atomic uint32_t) == sizeof(int32_t) && ATOMIC_INT_LOCK_FREE == 2,
	       "wait32 reads the word as a plain 32-bit integer");

/* wait32 takes the address of an i32: the word is one, lock-free. */
static inline int32_t *wa_addr(_Atomic uint32_t *word)
{
	return (int32_t *)(void *)word;
}

/*
 * The Liftoff miscompile, looked for where it shows: a value held across a
 * wait that returns at once (the word does not hold the value waited for,
 * and a timeout of 0 keeps even a miscompiled wait from blocking). No loop:
 * a clobbered loop counter would never end it. Liftoff compiles this the
 * first time it runs, so a program on such an engine without
 * tparker-noliftoff.js gets a wrong sum here, and the probe declines rather
 * than let parks lose their state.
 */
static __attribute__((noinline)) int32_t wa_wait_keeps(_Atomic uint32_t *word, int32_t value)
{
	int32_t *w = wa_addr(word);
	int32_t a = __builtin_wasm_memory_atomic_wait32(w, WA_PARKED, 0);
	int32_t b = __builtin_wasm_memory_atomic_wait32(w, WA_PARKED, 0);
	int32_t c = __builtin_wasm_memory_atomic_wait32(w, WA_PARKED, 0);
	return value + a + b + c;
}

/* Whether wait32 keeps values here: 0 not known yet, 1 yes, -1 no. Found
 * by the probe when it runs on a thread that may block, else by the first
 * wait of one (a page's main thread cannot run the test). */
static _Atomic int wa_wait32_ok;

/* What came back for 42 in the check that said no. */
static _Atomic int32_t wa_wait32_got;

static int wa_wait32_check(void)
{
	int ok = atomic_load_explicit(&wa_wait32_ok, memory_order_relaxed);
	if (ok == 0) {
		_Atomic uint32_t word = WA_UNPARKED;
		int32_t got = wa_wait_keeps(&word, 42) - 3 * WA_NOT_EQUAL;
		ok = got == 42 ? 1 : -1;
		atomic_store_explicit(&wa_wait32_got, got, memory_order_relaxed);
		atomic_store_explicit(&wa_wait32_ok, ok, memory_order_relaxed);
	}
	return ok;
}

/* Wait while the word is SLEEPING, at most ns (< 0: no limit); any return
 * is only a reason to look at the word again. wait32 where this thread may
 * block and the engine keeps values across it; else Emscripten's own wait,
 * which on a page's main thread busy-waits and runs the calls proxied to
 * it, and elsewhere keeps wait32 out of this function. */
static void wa_wait(_Atomic uint32_t *word, int64_t ns)
{
	if (_emscripten_thread_supports_atomics_wait() && wa_wait32_check() > 0)
		__builtin_wasm_memory_atomic_wait32(wa_addr(word), WA_SLEEPING, ns);
	else
		emscripten_futex_wait(word, WA_SLEEPING, ns < 0 ? INFINITY : (double)ns / 1e6);
}

static int wa_probe(const struct tparker_host *host, char *why, size_t why_len)
{
	(void)host;
	/* A thread that may not block cannot run the check (wait32 traps
	 * there, whatever its timeout); it is left to the first wait of a
	 * thread that may, which then falls back to Emscripten's wait. */
	if (!_emscripten_thread_supports_atomics_wait())
		return 0;
	if (wa_wait32_check() < 0) {
		snprintf(why, why_len,
			 "this engine miscompiles memory.atomic.wait32 (a value kept across it "
			 "came back as %d, not %d: V8 11.3's Liftoff, node 20): link with "
			 "--pre-js tparker-noliftoff.js (pkg-config --libs tparker) or run "
			 "node --no-liftoff",
			 (int)atomic_load_explicit(&wa_wait32_got, memory_order_relaxed), 42);
		return ENOTSUP;
	}
	return 0;
}

static int wa_init(void *state)
{
	struct wa_state *s = state;
	atomic_init(&s->word, WA_UNPARKED);
	atomic_init(&s->waker_cpu, -1);
	return 0;
}

static void wa_destroy(void *state)
{
	(void)state;
}

static void wa_prepare_park(void *state)
{
	struct wa_state *s = state;
	/* Relaxed: the owner publishes the parker under the caller's queue
	 * lock, which orders this store before any unparker's exchange. */
	atomic_store_explicit(&s->word, WA_PARKED, memory_order_relaxed);
}

/* Move PARKED to SLEEPING; false when an unparker got there first. */
static bool wa_announce_sleep(struct wa_state *s, uint32_t seen)
{
	uint32_t expected = WA_PARKED;

	if (seen == WA_SLEEPING)
		return true;
	return atomic_compare_exchange_strong_explicit(&s->word, &expected, WA_SLEEPING,
						       memory_order_relaxed, memory_order_relaxed);
}

static void wa_park(void *state)
{
	struct wa_state *s = state;

	for (;;) {
		uint32_t v = atomic_load_explicit(&s->word, memory_order_acquire);
		if (v == WA_UNPARKED)
			return;
		/* Woken, not-equal or a spurious return: the loop reads the
		 * word again either way. */
		if (wa_announce_sleep(s, v))
			wa_wait(&s->word, -1);
	}
}

/* Nanoseconds from now to the deadline, > 0, or 0 when it has passed. */
static int64_t wa_ns_left(const struct timespec *deadline)
{
	struct timespec now = tparker_now();

	if (!tparker_ts_before(&now, deadline))
		return 0;
	int64_t sec = (int64_t)deadline->tv_sec - (int64_t)now.tv_sec;
	if (sec >= WA_WAIT_MAX_NS / 1000000000LL)
		return WA_WAIT_MAX_NS;
	return sec * 1000000000LL + (deadline->tv_nsec - now.tv_nsec);
}

static bool wa_park_until(void *state, const struct timespec *deadline)
{
	struct wa_state *s = state;

	for (;;) {
		uint32_t v = atomic_load_explicit(&s->word, memory_order_acquire);
		if (v == WA_UNPARKED)
			return true;
		/* Recomputed after every return of the wait: the engine's
		 * timer and this clock are not the same, so a timeout it
		 * reports is only a reason to look again, and the deadline is
		 * never met early. */
		int64_t left = wa_ns_left(deadline);
		if (left == 0)
			return false;
		if (wa_announce_sleep(s, v))
			wa_wait(&s->word, left);
	}
}

static bool wa_timed_out(void *state)
{
	struct wa_state *s = state;
	return atomic_load_explicit(&s->word, memory_order_relaxed) != WA_UNPARKED;
}

static bool wa_unpark_lock(void *state, tparker_unpark_handle_t *h)
{
	struct wa_state *s = state;

	/* Before the exchange: after it the owner may free the parker. */
	atomic_store_explicit(&s->waker_cpu, -1, memory_order_relaxed);
	uint32_t old = atomic_exchange_explicit(&s->word, WA_UNPARKED, memory_order_release);
	h->addr = &s->word;
	return old == WA_SLEEPING;
}

static void wa_unpark(const tparker_unpark_handle_t *h)
{
	/* The owner may have freed the parker: a notify of memory nobody
	 * waits on wakes nobody, and one that reaches a new owner of the
	 * address is a spurious wakeup its loop absorbs. Emscripten's wake:
	 * wait32's notify, and the end of a page's main thread's emulated
	 * wait on this address (it also sees the word change by itself). */
	emscripten_futex_wake(h->addr, 1);
}

static void wa_thread_yield(void)
{
	sched_yield();
}

static const struct tparker_backend wa_backend = {
    .version = TPARKER_BACKEND_ABI_VERSION,
    .size = sizeof(struct tparker_backend),
    .name = "wasm_atomic",
    .description = "WebAssembly threads: memory.atomic.wait32/notify on a 32-bit word",
    .priority = 300,
    .state_size = sizeof(struct wa_state),
    .cheap_to_construct = true,
    .probe = wa_probe,
    .init = wa_init,
    .destroy = wa_destroy,
    .prepare_park = wa_prepare_park,
    .park = wa_park,
    .park_until = wa_park_until,
    .timed_out = wa_timed_out,
    .unpark_lock = wa_unpark_lock,
    .unpark = wa_unpark,
    .thread_yield = wa_thread_yield,
    .word_protocol = TPARKER_WORD_PROTOCOL_V1,
};

TPARKER_BACKEND_DEFINE(wa_backend)
