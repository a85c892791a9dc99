/* SPDX-License-Identifier: MIT */
/*
 * The parker protocol on one backend of the Windows build, named in argv[1]
 * (waitonaddress, keyed, spin): unpark before park, a ping-pong between two
 * threads, timeouts that are never early, a wake during a long timed wait,
 * a deadline too far for any Windows timeout, and timed waits racing
 * unparks (the keyed backend's lost race). Built twice: with the inline
 * fast paths of <tparker/tparker.h> and with TPARKER_NO_INLINE.
 * Exit 0 pass, 1 fail.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <windows.h>

#include "tparker/backend.h"
#include "tparker/tparker.h"

static int failures;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

static const tparker_backend_t *backend;

/* A one-entry queue under a lock, as the protocol in <tparker/tparker.h>
 * wants: the owner publishes its parker, a waker takes it. */
struct queue {
	SRWLOCK lock;
	tparker_t *slot;
};

static void publish(struct queue *q, tparker_t *p)
{
	AcquireSRWLockExclusive(&q->lock);
	q->slot = p;
	ReleaseSRWLockExclusive(&q->lock);
}

/* Wake whoever is queued; false when nobody is. */
static bool wake_one(struct queue *q)
{
	AcquireSRWLockExclusive(&q->lock);
	tparker_t *p = q->slot;
	q->slot = NULL;
	tparker_unpark_handle_t h = {NULL, NULL};
	if (p)
		h = tparker_unpark_lock(p);
	ReleaseSRWLockExclusive(&q->lock);
	if (p)
		tparker_unpark(h);
	return p != NULL;
}

static void wake_one_blocking(struct queue *q)
{
	while (!wake_one(q))
		SwitchToThread();
}

static double ms_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/* ---- unpark before park --------------------------------------------------- */

static void test_unpark_first(void)
{
	tparker_t p;
	CHECK(tparker_init_with(&p, backend) == 0);
	tparker_prepare_park(&p);
	tparker_unpark(tparker_unpark_lock(&p));
	tparker_park(&p); /* returns at once */
	tparker_prepare_park(&p);
	tparker_unpark(tparker_unpark_lock(&p));
	struct timespec d = tparker_deadline_after(10ull * 1000000000ull);
	CHECK(tparker_park_until(&p, &d));
	CHECK(!tparker_timed_out(&p));
	tparker_destroy(&p);
}

/* ---- ping-pong ------------------------------------------------------------ */

#define ROUNDS 2000
static struct queue q_main, q_worker;

static DWORD WINAPI pong(void *arg)
{
	(void)arg;
	tparker_t p;
	if (tparker_init_with(&p, backend) != 0)
		return 1;
	for (int i = 0; i < ROUNDS; i++) {
		tparker_prepare_park(&p);
		publish(&q_worker, &p);
		wake_one_blocking(&q_main);
		tparker_park(&p);
	}
	tparker_destroy(&p);
	return 0;
}

static void test_ping_pong(void)
{
	tparker_t p;
	CHECK(tparker_init_with(&p, backend) == 0);
	HANDLE t = CreateThread(NULL, 0, pong, NULL, 0, NULL);
	CHECK(t != NULL);
	if (!t)
		return;
	struct timespec t0 = tparker_now();
	for (int i = 0; i < ROUNDS; i++) {
		tparker_prepare_park(&p);
		publish(&q_main, &p);
		wake_one_blocking(&q_worker);
		tparker_park(&p);
	}
	struct timespec t1 = tparker_now();
	WaitForSingleObject(t, INFINITE);
	DWORD code = 1;
	GetExitCodeThread(t, &code);
	CloseHandle(t);
	CHECK(code == 0);
	tparker_destroy(&p);
	printf("ping-pong: %d rounds, %.1f us per round\n", ROUNDS,
	       ms_between(&t0, &t1) * 1e3 / ROUNDS);
}

/* ---- timeouts ------------------------------------------------------------- */

static void test_timeout_never_early(void)
{
	tparker_t p;
	CHECK(tparker_init_with(&p, backend) == 0);
	for (int i = 0; i < 5; i++) {
		uint64_t ns = (uint64_t)(1 + 7 * i) * 1000000u; /* 1 .. 29 ms */
		struct timespec start = tparker_now();
		struct timespec d = tparker_deadline_after(ns);
		tparker_prepare_park(&p);
		CHECK(!tparker_park_until(&p, &d));
		struct timespec end = tparker_now();
		CHECK(!tparker_ts_before(&end, &d)); /* never early */
		CHECK(ms_between(&start, &end) < 5000.0);
		CHECK(tparker_timed_out(&p));
	}
	/* A deadline already past returns at once. */
	struct timespec past = {0, 0};
	tparker_prepare_park(&p);
	CHECK(!tparker_park_until(&p, &past));
	tparker_destroy(&p);
}

static struct queue q_timed;

static DWORD WINAPI wake_later(void *arg)
{
	(void)arg;
	Sleep(20);
	wake_one_blocking(&q_timed);
	return 0;
}

/* A wake during a timed wait, with a near deadline and with ones farther
 * than any relative Windows timeout (DWORD milliseconds, or 100 ns units in
 * 64 bits): the conversion must neither overflow into the past nor wrap. */
static void test_wake_during_timed_wait(void)
{
	const struct timespec deadlines[] = {
	    tparker_deadline_after(10ull * 1000000000ull),
	    {tparker_now().tv_sec + 60 * 24 * 3600, 0}, /* beyond 2^32 ms */
	    {(time_t)INT64_MAX / 2, 0},
	    {(time_t)INT64_MAX, 999999999L},
	};
	for (size_t i = 0; i < sizeof(deadlines) / sizeof(deadlines[0]); i++) {
		tparker_t p;
		CHECK(tparker_init_with(&p, backend) == 0);
		tparker_prepare_park(&p);
		publish(&q_timed, &p);
		HANDLE t = CreateThread(NULL, 0, wake_later, NULL, 0, NULL);
		CHECK(t != NULL);
		if (!t)
			return;
		struct timespec start = tparker_now();
		CHECK(tparker_park_until(&p, &deadlines[i]));
		struct timespec end = tparker_now();
		CHECK(ms_between(&start, &end) >= 15.0); /* it did wait for the wake */
		CHECK(!tparker_timed_out(&p));
		WaitForSingleObject(t, INFINITE);
		CloseHandle(t);
		tparker_destroy(&p);
	}
}

/* ---- timed waits racing unparks ------------------------------------------- */

#define RACES 1000
static struct queue q_race;
static atomic_bool race_done;

static DWORD WINAPI race_waker(void *arg)
{
	(void)arg;
	unsigned n = 0;
	while (!atomic_load(&race_done)) {
		if (!wake_one(&q_race) || (++n & 7) == 0)
			SwitchToThread();
	}
	return 0;
}

/* Each wait either times out with the parker still queued (a real timeout)
 * or was reached by the waker; tparker_timed_out() under the queue lock
 * tells which. A keyed backend that loses the race without taking the
 * pending release would leave the waker blocked: the test then hangs and
 * Meson's timeout fails it. */
static void test_timeout_races(void)
{
	tparker_t p;
	CHECK(tparker_init_with(&p, backend) == 0);
	atomic_store(&race_done, false);
	HANDLE t = CreateThread(NULL, 0, race_waker, NULL, 0, NULL);
	CHECK(t != NULL);
	if (!t)
		return;
	int timeouts = 0, wakes = 0;
	for (int i = 0; i < RACES; i++) {
		tparker_prepare_park(&p);
		publish(&q_race, &p);
		struct timespec d = tparker_deadline_after((uint64_t)(i % 50) * 2000u);
		if (tparker_park_until(&p, &d)) {
			/* Only an unparker ends a wait with true, and it took
			 * the parker off the queue first. (A keyed backend that
			 * left a release pending would end this wait with it.) */
			AcquireSRWLockExclusive(&q_race.lock);
			bool queued = q_race.slot == &p;
			bool timed_out = tparker_timed_out(&p);
			ReleaseSRWLockExclusive(&q_race.lock);
			CHECK(!queued && !timed_out);
			wakes++;
			continue;
		}
		AcquireSRWLockExclusive(&q_race.lock);
		bool queued = q_race.slot == &p;
		if (queued)
			q_race.slot = NULL;
		bool timed_out = tparker_timed_out(&p);
		ReleaseSRWLockExclusive(&q_race.lock);
		CHECK(timed_out == queued);
		if (timed_out)
			timeouts++;
		else
			wakes++;
	}
	atomic_store(&race_done, true);
	WaitForSingleObject(t, INFINITE);
	CloseHandle(t);
	tparker_destroy(&p);
	printf("races: %d wakes, %d timeouts\n", wakes, timeouts);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s BACKEND\n", argv[0]);
		return 1;
	}
	InitializeSRWLock(&q_main.lock);
	InitializeSRWLock(&q_worker.lock);
	InitializeSRWLock(&q_timed.lock);
	InitializeSRWLock(&q_race.lock);
	backend = tparker_backend_get(argv[1]);
	if (!backend) {
		fprintf(stderr, "%s: %s\n", argv[1], tparker_backend_error());
		return 1;
	}
	CHECK(strcmp(tparker_backend_name(backend), argv[1]) == 0);
	test_unpark_first();
	test_ping_pong();
	test_timeout_never_early();
	test_wake_during_timed_wait();
	test_timeout_races();
	printf("%s: %s\n", argv[1], failures ? "FAIL" : "ok");
	fflush(stdout);
	return failures ? 1 : 0;
}
