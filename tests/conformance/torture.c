/* SPDX-License-Identifier: MIT */
/*
 * Wake order and storms: waiters parking with and without deadlines on
 * one shared queue, a waker popping them in random order at an uneven
 * pace; every delivered unpark is observed exactly once, a timed-out
 * waiter takes itself off the queue, nobody wakes while still queued.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

/* ---- queue torture -------------------------------------------------------- */

#define TORTURE_WAITERS 8
#define TORTURE_MS	2500

enum tw_state { TW_RUNNING, TW_PARK, TW_PARK_UNTIL, TW_CHECK, TW_DONE };
static const char *const tw_state_names[] = {"running", "in park()", "in park_until()",
					     "checking timed_out", "done"};

struct torture;

struct tw {
	tparker_t parker;
	struct torture *t;
	unsigned idx;
	tp_thread_t thread;
	atomic_int state;
	atomic_ulong progress;
	unsigned long observed, timeouts, raced; /* the waiter's, read after join */
	bool queued;				 /* under t->lock */
	unsigned long delivered;		 /* under t->lock */
};

struct torture {
	tp_mutex_t lock;
	unsigned queue[TORTURE_WAITERS]; /* under lock */
	unsigned len;			 /* under lock */
	struct tw w[TORTURE_WAITERS];
	atomic_bool stop;
	atomic_int exited;
	unsigned long pops;
};

static void torture_remove(struct torture *t, unsigned idx)
{
	for (unsigned i = 0; i < t->len; i++) {
		if (t->queue[i] == idx) {
			t->queue[i] = t->queue[--t->len];
			return;
		}
	}
	thread_fail("torture: waiter %u timed out but is not in the queue", idx);
}

static void *torture_waiter(void *arg)
{
	struct tw *w = arg;
	struct torture *t = w->t;
	uint64_t rng = 0x9E3779B97F4A7C15ULL * (w->idx + 1);

	while (!atomic_load(&t->stop)) {
		bool woken;

		tparker_prepare_park(&w->parker);
		tp_mutex_lock(&t->lock);
		if (w->queued) {
			tp_mutex_unlock(&t->lock);
			thread_fail("torture: waiter %u is queued twice", w->idx);
			break;
		}
		w->queued = true;
		t->queue[t->len++] = w->idx;
		tp_mutex_unlock(&t->lock);

		uint64_t x = rng_next(&rng);
		if (x % 3 == 0) {
			atomic_store(&w->state, TW_PARK);
			tparker_park(&w->parker);
			woken = true;
		} else {
			struct timespec d = tparker_deadline_after((x >> 8) % (2 * NS_PER_MS + 1));
			atomic_store(&w->state, TW_PARK_UNTIL);
			woken = tparker_park_until(&w->parker, &d);
			if (!woken) {
				atomic_store(&w->state, TW_CHECK);
				tp_mutex_lock(&t->lock);
				if (tparker_timed_out(&w->parker)) {
					torture_remove(t, w->idx);
					w->queued = false;
					w->timeouts++;
				} else {
					woken = true;
					w->raced++;
				}
				tp_mutex_unlock(&t->lock);
			}
		}
		if (woken) {
			w->observed++;
			tp_mutex_lock(&t->lock);
			bool queued = w->queued;
			tp_mutex_unlock(&t->lock);
			if (queued) {
				thread_fail("torture: waiter %u woke while still queued "
					    "(a wakeup nobody sent)",
					    w->idx);
				break;
			}
		}
		atomic_store(&w->state, TW_RUNNING);
		atomic_fetch_add(&w->progress, 1);
	}
	atomic_store(&w->state, TW_DONE);
	atomic_fetch_add(&t->exited, 1);
	return NULL;
}

static void *torture_waker(void *arg)
{
	struct torture *t = arg;
	uint64_t rng = 0xD1B54A32D192ED03ULL;

	/* Runs until every waiter has left: after stop, waiters inside
	 * park() still need their unpark. */
	while (atomic_load(&t->exited) < TORTURE_WAITERS) {
		uint64_t x = rng_next(&rng);
		tp_mutex_lock(&t->lock);
		if (t->len == 0) {
			tp_mutex_unlock(&t->lock);
			tp_yield();
			continue;
		}
		unsigned at = (unsigned)(x % t->len);
		struct tw *w = &t->w[t->queue[at]];
		t->queue[at] = t->queue[--t->len];
		w->queued = false;
		w->delivered++;
		t->pops++;
		tparker_unpark_handle_t h = tparker_unpark_lock(&w->parker);
		tp_mutex_unlock(&t->lock);
		tparker_unpark(h);
		progress();
		/* Pace unevenly so that some parks time out, some race. */
		if ((x >> 40) % 4 == 0)
			sleep_ns((int64_t)((x >> 20) % 300000));
		else
			tp_yield();
	}
	return NULL;
}

void test_torture(void)
{
	static struct torture t;
	tp_thread_t waker;

	begin_test("queue torture");
	memset(&t, 0, sizeof(t));
	tp_mutex_init(&t.lock);
	atomic_init(&t.stop, false);
	atomic_init(&t.exited, 0);
	for (unsigned i = 0; i < TORTURE_WAITERS; i++) {
		struct tw *w = &t.w[i];
		init_parker(&w->parker, def);
		w->t = &t;
		w->idx = i;
		atomic_init(&w->state, TW_RUNNING);
		atomic_init(&w->progress, 0);
	}
	for (unsigned i = 0; i < TORTURE_WAITERS; i++)
		start_thread(&t.w[i].thread, torture_waiter, &t.w[i]);
	start_thread(&waker, torture_waker, &t);

	/* Watch each waiter: one that makes no progress for hang_ns is stuck
	 * (a lost wakeup) and the run cannot go on. */
	unsigned long last[TORTURE_WAITERS] = {0};
	struct patience waited[TORTURE_WAITERS];
	struct timespec start = now_ts();
	for (unsigned i = 0; i < TORTURE_WAITERS; i++)
		patience_init(&waited[i]);
	while (atomic_load(&t.exited) < TORTURE_WAITERS) {
		sleep_ms(20);
		struct timespec now = now_ts();
		if (!atomic_load(&t.stop) && ts_diff(now, start) >= TORTURE_MS * NS_PER_MS)
			atomic_store(&t.stop, true);
		for (unsigned i = 0; i < TORTURE_WAITERS; i++) {
			unsigned long p = atomic_load(&t.w[i].progress);
			int state = atomic_load(&t.w[i].state);
			if (p != last[i] || state == TW_DONE) {
				last[i] = p;
				patience_init(&waited[i]);
			} else if (patience_waited(&waited[i]) > hang_ns) {
				int queued = -1;
				if (tp_mutex_trylock(&t.lock) == 0) {
					queued = t.w[i].queued;
					tp_mutex_unlock(&t.lock);
				}
				hang("torture: waiter %u stuck for %lld s %s (queued: %s) after "
				     "%lu rounds",
				     i, (long long)(hang_ns / NS_PER_S), tw_state_names[state],
				     queued < 0 ? "unknown, queue locked"
				     : queued	? "yes"
						: "no",
				     p);
			}
		}
	}
	for (unsigned i = 0; i < TORTURE_WAITERS; i++)
		join_thread(t.w[i].thread);
	join_thread(waker);
	COLLECT_THREAD_FAILURES();

	unsigned long wakes = 0, timeouts = 0, raced = 0;
	for (unsigned i = 0; i < TORTURE_WAITERS; i++) {
		struct tw *w = &t.w[i];
		EXPECT(w->observed == w->delivered,
		       "torture: waiter %u observed %lu wakeups, %lu unparks were delivered", i,
		       w->observed, w->delivered);
		EXPECT(!w->queued, "torture: waiter %u left queued", i);
		wakes += w->observed;
		timeouts += w->timeouts;
		raced += w->raced;
		tparker_destroy(&w->parker);
	}
	EXPECT(t.len == 0, "torture: %u waiters left in the queue", t.len);
	EXPECT(wakes > 0, "torture: no wakeup at all");
	printf("[%lu wakeups, %lu timeouts, %lu raced] ", wakes, timeouts, raced);
	tp_mutex_destroy(&t.lock);
}
