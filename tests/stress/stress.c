/* SPDX-License-Identifier: MIT */
/*
 * Stress test of the parker protocol: waiter threads park with park() or
 * park_until() (a random deadline 0..2 ms away), waker threads take random
 * waiters off a shared queue and wake them with unpark_lock()/unpark().
 * Every unpark a waker delivers must be observed by its waiter exactly once;
 * a lost wakeup shows up as a stall, which the watchdog reports by naming
 * the stuck waiters, their backend and their state.
 *
 * Usage: stress <backend> [--handshakes N] [--threads T] [--wakers K] [--stall S]
 * Exit status: 0 pass, 1 fail, 77 skip (the default backend is not <backend>).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tparker/tparker.h"

#include "port.h"

#define MAX_WAKE_BATCH	   4
#define MAX_DEADLINE_NS	   2000000u
#define WATCHDOG_PERIOD_MS 100

enum wstate { W_IDLE, W_QUEUED, W_PARKED, W_TIMEOUT_PENDING, W_DONE };
static const char *const wstate_names[] = {
    [W_IDLE] = "idle",	   [W_QUEUED] = "queued",
    [W_PARKED] = "parked", [W_TIMEOUT_PENDING] = "timed-out-pending",
    [W_DONE] = "done",
};

enum wop { OP_NONE, OP_PREPARE_PARK, OP_PUSH, OP_PARK, OP_PARK_UNTIL, OP_TIMED_OUT, OP_CHECK };
static const char *const wop_names[] = {
    [OP_NONE] = "none",
    [OP_PREPARE_PARK] = "prepare_park",
    [OP_PUSH] = "push on queue",
    [OP_PARK] = "park",
    [OP_PARK_UNTIL] = "park_until",
    [OP_TIMED_OUT] = "timed_out (under lock)",
    [OP_CHECK] = "checking the wake",
};

struct waiter {
	tparker_t parker;
	unsigned index;
	/* Queue slot, -1 when not queued. Written under q_lock; the waiter
	 * also reads it without the lock after a wake, which is race-free
	 * only because the waker's writes before unpark_lock happen-before
	 * the return from park: exactly what the test checks. */
	int qpos;
	/* Unparks delivered to this waiter: written by wakers under q_lock,
	 * read by the waiter after its wake with the same reasoning. */
	uint64_t delivered;
	uint64_t observed, wakes, timeouts, raced;
	/* Copies for the watchdog, which must not touch the fields above. */
	atomic_uint state;
	atomic_uint last_op;
	atomic_uint_least64_t delivered_seen;
	atomic_uint_least64_t observed_seen;
	atomic_uint_least64_t deadline_ns; /* of the current park_until */
	atomic_uint_least64_t rounds;	   /* handshakes this waiter finished */
	uint64_t rng;
};

static struct {
	const char *backend;
	uint64_t handshakes;
	unsigned threads, wakers, stall_seconds;
	bool progress;

	tp_mutex_t q_lock;
	struct waiter **queue;
	unsigned qlen;

	struct waiter *waiters;
	atomic_uint_least64_t claimed;	/* handshakes handed out */
	atomic_uint_least64_t finished; /* handshakes completed: the progress mark */
	atomic_uint waiters_done;
	atomic_bool stop_watchdog;
} g = {.q_lock = TP_MUTEX_INIT};

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: cheap, good enough to pick waiters and deadlines. */
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 2685821657736338717ull;
}

static uint64_t now_ns(void)
{
	struct timespec ts = tp_now();
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

TP_PRINTF(2, 3) static void fail(struct waiter *w, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "FAIL stress %s: waiter %u: %s\n", g.backend, w ? w->index : 0u, msg);
	fflush(stderr);
	/* A broken protocol would only produce more noise: stop here. */
	_Exit(1);
}

static void lock_queue(void)
{
	tp_mutex_lock(&g.q_lock);
}

static void unlock_queue(void)
{
	tp_mutex_unlock(&g.q_lock);
}

/* Under q_lock. */
static void queue_push(struct waiter *w)
{
	w->qpos = (int)g.qlen;
	g.queue[g.qlen++] = w;
}

/* Under q_lock. */
static void queue_remove(struct waiter *w)
{
	unsigned i = (unsigned)w->qpos;
	struct waiter *last = g.queue[--g.qlen];
	g.queue[i] = last;
	last->qpos = (int)i;
	w->qpos = -1;
}

static void set_state(struct waiter *w, enum wstate s, enum wop op)
{
	atomic_store_explicit(&w->state, s, memory_order_relaxed);
	atomic_store_explicit(&w->last_op, op, memory_order_relaxed);
}

/* A wake, seen by the waiter: the waker dequeued it and counted one more
 * delivered unpark, and nothing else happened since. */
static void observe_wake(struct waiter *w, const char *how)
{
	w->observed++;
	w->wakes++;
	if (w->qpos != -1)
		fail(w, "%s, but the waiter is still queued (a wake nobody delivered)", how);
	if (w->delivered != w->observed)
		fail(w, "%s: %" PRIu64 " unparks delivered but %" PRIu64 " observed (%s)", how,
		     w->delivered, w->observed, w->delivered > w->observed ? "lost" : "duplicated");
	atomic_store_explicit(&w->observed_seen, w->observed, memory_order_relaxed);
}

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;

	while (atomic_fetch_add_explicit(&g.claimed, 1, memory_order_relaxed) < g.handshakes) {
		uint64_t r = rng_next(&w->rng);
		bool timed = r & 1;
		uint64_t ns = (r >> 1) % (MAX_DEADLINE_NS + 1);

		set_state(w, W_IDLE, OP_PREPARE_PARK);
		tparker_prepare_park(&w->parker);
		lock_queue();
		set_state(w, W_QUEUED, OP_PUSH);
		queue_push(w);
		unlock_queue();

		if (!timed) {
			set_state(w, W_PARKED, OP_PARK);
			tparker_park(&w->parker);
			set_state(w, W_PARKED, OP_CHECK);
			observe_wake(w, "park returned");
		} else {
			struct timespec d = tparker_deadline_after(ns);
			atomic_store_explicit(&w->deadline_ns, ns, memory_order_relaxed);
			set_state(w, W_PARKED, OP_PARK_UNTIL);
			if (tparker_park_until(&w->parker, &d)) {
				set_state(w, W_PARKED, OP_CHECK);
				observe_wake(w, "park_until returned true");
			} else {
				struct timespec now = tp_now();
				if (now.tv_sec < d.tv_sec ||
				    (now.tv_sec == d.tv_sec && now.tv_nsec < d.tv_nsec))
					fail(w, "park_until returned false before its deadline");
				set_state(w, W_TIMEOUT_PENDING, OP_TIMED_OUT);
				lock_queue();
				if (tparker_timed_out(&w->parker)) {
					if (w->qpos < 0)
						fail(w, "timed_out() is true but a waker dequeued "
							"the waiter (its unpark would be lost)");
					queue_remove(w);
					w->timeouts++;
				} else {
					observe_wake(w, "timed_out() is false");
					w->raced++;
				}
				unlock_queue();
			}
		}
		atomic_fetch_add_explicit(&w->rounds, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&g.finished, 1, memory_order_relaxed);
	}
	set_state(w, W_DONE, OP_NONE);
	atomic_fetch_add_explicit(&g.waiters_done, 1, memory_order_release);
	return NULL;
}

static void *waker_main(void *arg)
{
	uint64_t rng = (uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
	unsigned idle = 0;

	while (atomic_load_explicit(&g.waiters_done, memory_order_acquire) < g.threads) {
		tparker_unpark_handle_t h[MAX_WAKE_BATCH];
		unsigned n = 0;

		struct waiter *batch[MAX_WAKE_BATCH];
		lock_queue();
		if (g.qlen > 0) {
			unsigned want = 1 + (unsigned)(rng_next(&rng) % MAX_WAKE_BATCH);
			while (n < want && g.qlen > 0) {
				struct waiter *w = g.queue[rng_next(&rng) % g.qlen];
				queue_remove(w);
				w->delivered++;
				atomic_store_explicit(&w->delivered_seen, w->delivered,
						      memory_order_relaxed);
				batch[n++] = w;
			}
			/* unpark_lock in index order. Varying orders would be no
			 * deadlock (a waker holding a pthread-backend parker's
			 * mutex releases it without waiting for anything), but
			 * ThreadSanitizer's lock-order check cannot know that. */
			for (unsigned i = 1; i < n; i++) {
				struct waiter *t = batch[i];
				unsigned j = i;
				for (; j > 0 && batch[j - 1]->index > t->index; j--)
					batch[j] = batch[j - 1];
				batch[j] = t;
			}
			for (unsigned i = 0; i < n; i++)
				h[i] = tparker_unpark_lock(&batch[i]->parker);
		}
		unlock_queue();
		for (unsigned i = 0; i < n; i++)
			tparker_unpark(h[i]);

		/* Now and then a waker dawdles, so that deadlines expire while
		 * waiters are queued and timeouts race with unpark_lock. An
		 * empty queue gives the waiters the CPU (two cores only). */
		if (n > 0) {
			idle = 0;
			uint64_t r = rng_next(&rng);
			if (r % 32 == 0)
				tp_sleep_ns((int64_t)((r >> 8) % 1000000));
		} else if (++idle < 16) {
			tp_yield();
		} else {
			tp_sleep_ns(20000);
		}
	}
	return NULL;
}

static void dump_stuck(const char *what, double stalled_s, long stuck)
{
	fprintf(stderr,
		"FAIL stress %s: %s for %.1f s (%" PRIu64 " of %" PRIu64
		" handshakes done); waiters:\n",
		g.backend, what, stalled_s, atomic_load(&g.finished), g.handshakes);
	/* The queue lock tells which waiters are queued, unless a stuck
	 * thread holds it. */
	bool locked = false;
	for (int i = 0; i < 100 && !locked; i++) {
		locked = tp_mutex_trylock(&g.q_lock);
		if (!locked) {
			tp_sleep_ns(1000000);
		}
	}
	for (unsigned i = 0; i < g.threads; i++) {
		struct waiter *w = &g.waiters[i];
		unsigned s = atomic_load_explicit(&w->state, memory_order_relaxed);
		unsigned op = atomic_load_explicit(&w->last_op, memory_order_relaxed);
		uint64_t del = atomic_load_explicit(&w->delivered_seen, memory_order_relaxed);
		uint64_t obs = atomic_load_explicit(&w->observed_seen, memory_order_relaxed);
		if (s == W_DONE)
			continue;
		fprintf(stderr,
			"  waiter %u: backend %s, state %s, last op %s, delivered %" PRIu64
			", observed %" PRIu64 "%s",
			i, g.backend, wstate_names[s], wop_names[op], del, obs,
			del != obs ? " (an unpark delivered, not observed)" : "");
		if (op == OP_PARK_UNTIL)
			fprintf(stderr, ", park_until deadline was %" PRIu64 " ns ahead",
				atomic_load_explicit(&w->deadline_ns, memory_order_relaxed));
		if (locked)
			fprintf(stderr, ", %s", w->qpos >= 0 ? "on the queue" : "not queued");
		fprintf(stderr, "%s\n", (long)i == stuck ? "  <- STUCK" : "");
	}
	if (!locked)
		fprintf(stderr, "  (the queue lock stayed held: a thread is stuck holding it)\n");
	fflush(stderr);
}

/* A stall: no handshake at all (a stuck waker, or every waiter lost), or
 * one waiter that makes no progress while the others do (one lost wakeup:
 * a queued waiter is picked within microseconds). */
static void *watchdog_main(void *arg)
{
	(void)arg;
	uint64_t stall_ns = (uint64_t)g.stall_seconds * 1000000000u;
	uint64_t start = now_ns(), last = 0, last_change = start, last_report = start;
	uint64_t *w_last = calloc(g.threads, sizeof(*w_last));
	uint64_t *w_change = calloc(g.threads, sizeof(*w_change));
	if (!w_last || !w_change) {
		fprintf(stderr, "FAIL: out of memory\n");
		_Exit(1);
	}
	for (unsigned i = 0; i < g.threads; i++)
		w_change[i] = start;

	while (!atomic_load(&g.stop_watchdog)) {
		tp_sleep_ns(WATCHDOG_PERIOD_MS * 1000000LL);
		uint64_t cur = atomic_load(&g.finished), t = now_ns();
		if (cur != last) {
			last = cur;
			last_change = t;
		} else if (t - last_change > stall_ns) {
			dump_stuck("no handshake at all", (double)(t - last_change) / 1e9, -1);
			_Exit(1);
		}
		for (unsigned i = 0; i < g.threads; i++) {
			struct waiter *w = &g.waiters[i];
			uint64_t r = atomic_load_explicit(&w->rounds, memory_order_relaxed);
			if (r != w_last[i] ||
			    atomic_load_explicit(&w->state, memory_order_relaxed) == W_DONE) {
				w_last[i] = r;
				w_change[i] = t;
			} else if (t - w_change[i] > stall_ns) {
				char what[64];
				snprintf(what, sizeof(what), "waiter %u made no progress", i);
				dump_stuck(what, (double)(t - w_change[i]) / 1e9, (long)i);
				_Exit(1);
			}
		}
		if (g.progress && t - last_report > 10000000000u) {
			last_report = t;
			fprintf(stderr, "stress %s: %" PRIu64 " of %" PRIu64 " handshakes\n",
				g.backend, cur, g.handshakes);
		}
	}
	free(w_last);
	free(w_change);
	return NULL;
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s <backend> [--handshakes N] [--threads T] [--wakers K] "
		"[--stall SECONDS]\n",
		argv0);
	exit(1);
}

static uint64_t parse_num(const char *argv0, const char *s, uint64_t min, uint64_t max)
{
	char *end;
	errno = 0;
	/* Accept 1e7 as well as 10000000. */
	double v = strtod(s, &end);
	if (errno || *end || v < (double)min || v > (double)max)
		usage(argv0);
	return (uint64_t)v;
}

static void start(tp_thread_t *t, void *(*fn)(void *), void *arg)
{
	tp_thread_start(t, fn, arg);
}

int main(int argc, char **argv)
{
	if (argc < 2 || argv[1][0] == '-')
		usage(argv[0]);
	g.backend = argv[1];
	g.handshakes = 200000;
	g.threads = 8;
	g.wakers = 2;
	g.stall_seconds = 10;
	for (int i = 2; i < argc; i += 2) {
		if (i + 1 >= argc)
			usage(argv[0]);
		if (strcmp(argv[i], "--handshakes") == 0)
			g.handshakes = parse_num(argv[0], argv[i + 1], 1, UINT64_MAX / 2);
		else if (strcmp(argv[i], "--threads") == 0)
			g.threads = (unsigned)parse_num(argv[0], argv[i + 1], 1, 4096);
		else if (strcmp(argv[i], "--wakers") == 0)
			g.wakers = (unsigned)parse_num(argv[0], argv[i + 1], 1, 64);
		else if (strcmp(argv[i], "--stall") == 0)
			g.stall_seconds = (unsigned)parse_num(argv[0], argv[i + 1], 1, 3600);
		else
			usage(argv[0]);
	}
	g.progress = g.handshakes >= 1000000;

	const char *have = tparker_backend_name(tparker_default_backend());
	if (strcmp(have, g.backend) != 0) {
		printf("SKIP stress %s: the default backend is %s (%s)\n", g.backend, have,
		       tparker_default_reason());
		return 77;
	}

	g.waiters = tp_aligned_alloc(_Alignof(struct waiter), g.threads * sizeof(*g.waiters));
	g.queue = calloc(g.threads, sizeof(*g.queue));
	if (!g.waiters || !g.queue) {
		fprintf(stderr, "FAIL: out of memory\n");
		return 1;
	}
	memset(g.waiters, 0, g.threads * sizeof(*g.waiters));
	uint64_t seed = now_ns();
	for (unsigned i = 0; i < g.threads; i++) {
		struct waiter *w = &g.waiters[i];
		int err = tparker_init(&w->parker);
		if (err) {
			fprintf(stderr, "FAIL: tparker_init: %s\n", strerror(err));
			return 1;
		}
		w->index = i;
		w->qpos = -1;
		w->rng = seed + i * 0x9E3779B97F4A7C15ull + 1;
	}

	tp_thread_t dog, *wt = calloc(g.threads, sizeof(*wt)), *kt = calloc(g.wakers, sizeof(*kt));
	if (!wt || !kt) {
		fprintf(stderr, "FAIL: out of memory\n");
		return 1;
	}
	uint64_t t0 = now_ns();
	start(&dog, watchdog_main, NULL);
	for (unsigned i = 0; i < g.wakers; i++)
		start(&kt[i], waker_main, (void *)(uintptr_t)(seed + i));
	for (unsigned i = 0; i < g.threads; i++)
		start(&wt[i], waiter_main, &g.waiters[i]);
	for (unsigned i = 0; i < g.threads; i++)
		tp_thread_join(wt[i]);
	for (unsigned i = 0; i < g.wakers; i++)
		tp_thread_join(kt[i]);
	double secs = (double)(now_ns() - t0) / 1e9;
	atomic_store(&g.stop_watchdog, true);
	tp_thread_join(dog);

	/* All threads are joined: the plain fields are safe to read. */
	uint64_t wakes = 0, timeouts = 0, raced = 0, lost = 0;
	for (unsigned i = 0; i < g.threads; i++) {
		struct waiter *w = &g.waiters[i];
		if (w->delivered != w->observed) {
			fprintf(stderr,
				"FAIL stress %s: waiter %u: %" PRIu64 " unparks delivered, %" PRIu64
				" observed\n",
				g.backend, i, w->delivered, w->observed);
			lost++;
		}
		wakes += w->wakes;
		timeouts += w->timeouts;
		raced += w->raced;
		tparker_destroy(&w->parker);
	}
	if (g.qlen != 0) {
		fprintf(stderr, "FAIL stress %s: %u waiters left on the queue\n", g.backend,
			g.qlen);
		lost++;
	}
	if (wakes + timeouts != g.handshakes) {
		fprintf(stderr,
			"FAIL stress %s: %" PRIu64 " wakes + %" PRIu64 " timeouts != %" PRIu64
			" handshakes\n",
			g.backend, wakes, timeouts, g.handshakes);
		lost++;
	}
	if (lost)
		return 1;
	printf("stress %s: %" PRIu64 " handshakes (%" PRIu64 " wakes, %" PRIu64
	       " timeouts) across %u threads, 0 lost\n",
	       g.backend, g.handshakes, wakes, timeouts, g.threads);
	printf("stress %s: %u waiters, %u wakers, %.2f s, %.0f handshakes/s; %" PRIu64
	       " deadlines expired after unpark_lock (timed_out() false)\n",
	       g.backend, g.threads, g.wakers, secs, (double)g.handshakes / secs, raced);
	free(wt);
	free(kt);
	free(g.queue);
	tp_aligned_free(g.waiters);
	return 0;
}
