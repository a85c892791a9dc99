/* SPDX-License-Identifier: MIT */
/*
 * The parking lot, the mutex and the condition variable never allocate
 * after a thread's first park. That first park makes the thread's queue
 * entry (one block, freed at thread exit) and may grow the lot's table (one
 * more block); every later park and unpark of the thread, tparker_wait and
 * wake, the mutex's and the condition variable's slow paths included, must
 * make no allocator call: an allocator's own lock may be built on them. A
 * thread that never parked may unpark, wake, signal and unlock without
 * allocating too (it never needs an entry).
 *
 * Like alloc.c, the program defines the malloc family itself and counts the
 * calls each thread makes while a flag is set. WORKERS threads first park
 * once (counted apart: it must allocate, which also shows the counter sees
 * the library's calls), then, counted, run the lot's timed park, a
 * tparker_wait/wake ping-pong in pairs, a contended mutex (a holder sleeps
 * so the others park) with unlock_fair now and then, and a one-slot queue
 * on the mutex and a condition variable (signal, broadcast, timed waits).
 * Then a thread that never parked wakes a waiter, counted.
 *
 * Usage: alloc-lot <backend>; exit 0 pass, 1 fail, 77 skip (under valgrind
 * or a sanitizer, which replace the allocator).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "tparker/lot.h"
#include "tparker/sync.h"
#include "tparker/tparker.h"

#include "../faults/harness.h"
#include "counting.h"

#define WORKERS 8 /* even: the ping-pong runs in pairs */
#define ROUNDS	200
#define ITEMS	400 /* through the one-slot queue, in all */

#ifndef ALLOC_SANITIZED
static pthread_barrier_t barrier;

static bool never_valid(void *ctx)
{
	(void)ctx;
	return false;
}

/* The mutex, with a plain counter it guards. */
static tparker_mutex_t mtx = TPARKER_MUTEX_INIT;
static unsigned long guarded;

/* The one-slot queue. */
static tparker_mutex_t qm = TPARKER_MUTEX_INIT;
static tparker_cond_t not_empty = TPARKER_COND_INIT, not_full = TPARKER_COND_INIT;
static int slot_full;
static unsigned long produced, consumed;

/* The ping-pong words, one per pair. */
static _Atomic uint32_t pingpong[WORKERS / 2];

struct worker {
	pthread_t thread;
	int id;
	unsigned first_calls, calls;
	bool timed_out;
};

static struct worker workers[WORKERS];

static void ping_pong(int id)
{
	_Atomic uint32_t *w = &pingpong[id / 2];
	uint32_t mine = (uint32_t)(id & 1);
	for (uint32_t r = 0; r < ROUNDS; r++) {
		uint32_t turn = 2 * r + mine, v;
		while ((v = atomic_load(w)) != turn)
			tparker_wait(w, &v, sizeof(v), NULL);
		atomic_store(w, turn + 1);
		tparker_wake_one(w);
	}
}

static void contend(int id)
{
	for (int r = 0; r < ROUNDS; r++) {
		tparker_mutex_lock(&mtx);
		guarded++;
		/* Now and then hold it long enough that the others park. */
		if (r % 50 == id)
			tpt_sleep_ns(2000000);
		if (r % 7 == 0)
			tparker_mutex_unlock_fair(&mtx);
		else
			tparker_mutex_unlock(&mtx);
		if (r % 10 == 0) {
			struct timespec d = tparker_deadline_after(100000);
			if (tparker_mutex_lock_until(&mtx, &d)) {
				guarded++;
				tparker_mutex_unlock(&mtx);
			}
		}
	}
}

/* Even workers produce, odd ones consume, ITEMS / (WORKERS / 2) each. */
static void queue(int id)
{
	const unsigned long n = ITEMS / (WORKERS / 2);
	for (unsigned long i = 0; i < n; i++) {
		tparker_mutex_lock(&qm);
		if (id % 2 == 0) {
			while (slot_full) {
				struct timespec d = tparker_deadline_after(200000);
				tparker_cond_wait_until(&not_full, &qm, &d);
			}
			slot_full = 1;
			produced++;
			if (i % 3 == 0)
				tparker_cond_broadcast(&not_empty);
			else
				tparker_cond_signal(&not_empty);
		} else {
			while (!slot_full)
				tparker_cond_wait(&not_empty, &qm);
			slot_full = 0;
			consumed++;
			tparker_cond_signal(&not_full);
		}
		tparker_mutex_unlock(&qm);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	/* The first park: it makes the thread's entry. */
	count_start();
	tparker_lot_park((uintptr_t)w, never_valid, NULL, NULL, NULL, 0, NULL);
	w->first_calls = count_stop();
	pthread_barrier_wait(&barrier);

	count_start();
	struct timespec d = tparker_deadline_after(1000000);
	tparker_park_result_t r = tparker_lot_park((uintptr_t)w, NULL, NULL, NULL, NULL, 0, &d);
	w->timed_out = r.status == TPARKER_PARK_TIMED_OUT;
	ping_pong(w->id);
	contend(w->id);
	queue(w->id);
	w->calls = count_stop();
	pthread_barrier_wait(&barrier);
	return NULL;
}

/* A thread that never parked wakes a parked one. */
static _Atomic uint32_t sleeper_word;
static _Atomic bool sleeper_in;

static void *sleeper_main(void *arg)
{
	(void)arg;
	tparker_lot_park((uintptr_t)&sleeper_word, never_valid, NULL, NULL, NULL, 0, NULL);
	atomic_store(&sleeper_in, true);
	uint32_t v;
	while ((v = atomic_load(&sleeper_word)) == 0)
		tparker_wait(&sleeper_word, &v, sizeof(v), NULL);
	return NULL;
}

static void *fresh_waker_main(void *arg)
{
	unsigned *calls = arg;
	count_start();
	atomic_store(&sleeper_word, 1);
	tparker_wake_all(&sleeper_word);
	/* The unlock's slow path with nobody queued, and signals to nobody. */
	tparker_mutex_t m = TPARKER_MUTEX_INIT;
	tparker_cond_t c = TPARKER_COND_INIT;
	tparker_mutex_lock(&m);
	tparker_cond_signal(&c);
	tparker_cond_broadcast(&c);
	tparker_mutex_unlock(&m);
	tparker_lot_unpark_one((uintptr_t)&m, NULL, NULL);
	tparker_lot_unpark_all((uintptr_t)&m, 0);
	*calls = count_stop();
	return NULL;
}

int main(int argc, char **argv)
{
	tpt_start("alloc-lot", argc, argv);
	if (tpt_under_valgrind()) {
		printf("SKIP alloc-lot %s: valgrind replaces the counting allocator\n",
		       tpt_backend);
		return TPT_SKIP;
	}
	tpt_watchdog(60, "the lot's allocation count");

	unsigned seen = 0;
	pthread_t t;
	pthread_create(&t, NULL, self_check_main, &seen);
	pthread_join(t, NULL);
	if (seen != 2)
		tpt_fail("the counting allocator saw %u of 2 calls: it does not interpose malloc",
			 seen);

	unsigned failures = 0;
	pthread_barrier_init(&barrier, NULL, WORKERS);
	for (int i = 0; i < WORKERS; i++) {
		workers[i].id = i;
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0)
			tpt_fail("pthread_create failed");
	}
	unsigned first = 0, later = 0;
	for (int i = 0; i < WORKERS; i++) {
		pthread_join(workers[i].thread, NULL);
		first += workers[i].first_calls;
		later += workers[i].calls;
		if (!workers[i].first_calls)
			tpt_fail("worker %d: its first park made no allocator call: the counter "
				 "does not see the library's",
				 i);
		if (!workers[i].timed_out)
			tpt_fail("worker %d: a lot park with nobody to unpark it did not time out",
				 i);
	}
	pthread_barrier_destroy(&barrier);
	if (guarded < (unsigned long)WORKERS * ROUNDS || produced != ITEMS || consumed != ITEMS)
		tpt_fail("the mutex or the queue lost count: %lu increments, %lu/%lu items",
			 guarded, produced, consumed);
	printf("first    %d threads: %u allocator call(s) in their first park (allowed)\n", WORKERS,
	       first);
	printf("later    %d threads: %u allocator call(s) in %d rounds of parks, waits, "
	       "mutex and condvar\n",
	       WORKERS, later, ROUNDS);
	if (later) {
		fprintf(stderr, "FAIL alloc-lot %s: %u allocator call(s) after the first park\n",
			tpt_backend, later);
		failures++;
	}

	pthread_t sleeper, waker;
	unsigned fresh = 0;
	pthread_create(&sleeper, NULL, sleeper_main, NULL);
	while (!atomic_load(&sleeper_in))
		tpt_sleep_ns(100000);
	tpt_sleep_ns(2000000);
	pthread_create(&waker, NULL, fresh_waker_main, &fresh);
	pthread_join(waker, NULL);
	pthread_join(sleeper, NULL);
	printf("fresh    1 thread that never parked: %u allocator call(s) waking, "
	       "unlocking, signalling\n",
	       fresh);
	if (fresh) {
		fprintf(stderr, "FAIL alloc-lot %s: %u allocator call(s) in a fresh waker\n",
			tpt_backend, fresh);
		failures++;
	}
	return failures ? 1 : 0;
}
#else
int main(int argc, char **argv)
{
	tpt_start("alloc-lot", argc, argv);
	printf("SKIP alloc-lot %s: a sanitizer's allocator cannot be interposed on\n", tpt_backend);
	return TPT_SKIP;
}
#endif
