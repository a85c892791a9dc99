/* SPDX-License-Identifier: MIT */
/*
 * Mutual exclusion by count: THREADS threads each add 1 to a plain counter
 * ROUNDS times under one tparker_mutex_t; the total must be exact (a lost
 * update means two holders at once) and the mutex's byte 0 at the end (a
 * PARKED bit left set with nobody queued is harmless but a LOCKED one is a
 * lost unlock). Every 64th round also takes the lock with lock_until or
 * trylock and unlocks with unlock_fair, so the handover path runs too.
 *
 * Usage: mutex-count <backend> THREADS ROUNDS; exit 0 pass, 1 fail, 77 skip.
 * Under valgrind the rounds are divided by 50.
 */
#include <pthread.h>

#include "tparker/sync.h"
#include "tparker/tparker.h"

#include "../faults/harness.h"

static tparker_mutex_t mtx = TPARKER_MUTEX_INIT;
static unsigned long counter, extra;
static unsigned long rounds;

static void *count_main(void *arg)
{
	(void)arg;
	for (unsigned long i = 0; i < rounds; i++) {
		if (i % 64 == 63) {
			struct timespec d = tparker_deadline_after(1000000000);
			bool got = i % 128 == 127 ? tparker_mutex_trylock(&mtx)
						  : tparker_mutex_lock_until(&mtx, &d);
			if (got) {
				counter++;
				extra++;
				tparker_mutex_unlock_fair(&mtx);
			}
		}
		tparker_mutex_lock(&mtx);
		counter++; /* a plain increment: lost when exclusion fails */
		tparker_mutex_unlock(&mtx);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	tpt_start("mutex-count", argc, argv);
	if (argc != 4)
		tpt_fail("usage: mutex-count <backend> THREADS ROUNDS");
	unsigned long nthreads = strtoul(argv[2], NULL, 10);
	rounds = strtoul(argv[3], NULL, 10);
	if (nthreads == 0 || nthreads > 256 || rounds == 0)
		tpt_fail("bad THREADS or ROUNDS");
	if (tpt_under_valgrind())
		rounds = rounds / 50 + 1;
	/* A lost wakeup stalls the run: fail instead of waiting. */
	tpt_watchdog(600, "the mutex count");

	pthread_t t[256];
	uint64_t t0 = tpt_now_ns();
	for (unsigned long i = 0; i < nthreads; i++)
		if (pthread_create(&t[i], NULL, count_main, NULL) != 0)
			tpt_fail("pthread_create failed");
	for (unsigned long i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	uint64_t ns = tpt_now_ns() - t0;

	unsigned long want = nthreads * rounds + extra;
	printf("%lu threads x %lu increments (+%lu fair handovers): counter %lu, %.2f s, "
	       "%.0f ns per lock+unlock\n",
	       nthreads, rounds, extra, counter, ns / 1e9, (double)ns / (double)want);
	if (counter != want)
		tpt_fail("counter %lu, want %lu: two threads held the mutex at once", counter,
			 want);
	if (mtx.state & 1)
		tpt_fail("the mutex is still locked at the end (byte %u)", mtx.state);
	return 0;
}
