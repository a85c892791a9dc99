/* SPDX-License-Identifier: MIT */
/*
 * The spin backend's backoff sleeps grow to a cap that follows the number
 * of spin threads asleep in a park (1.25 ms each, 100 ms at most), never
 * more, and reach it: a lone parked thread notices an unpark within
 * 1.25 ms, 8 parked threads within 10 ms, and 80 or more wake no more often
 * than every 100 ms.
 *
 * The core sleeps with clock_nanosleep through the PLT, so the definition
 * in this program is the one it calls: it records, for the parked threads
 * only, every sleep requested (its absolute end minus the time of the
 * call) and then sleeps for real. Three groups park in turn, on their own
 * spin parkers: 1 thread (until a deadline 300 ms away, then until an
 * unpark 250 ms later), 8 threads and 81 threads (one past the 80 that
 * reach the largest cap; until an unpark 400 ms later). For each, the
 * largest request must be at most the group's cap and within 1 us of it
 * (the step below each cap is under 80% of it, so this says the cap was
 * reached; the microsecond is the time between the core reading the clock
 * and this program reading it again).
 * Exit 0 pass, 1 fail.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>

#include "tparker/tparker.h"

#include "../faults/harness.h"


/* The call that takes this program's struct timespec: the time64 one on a 32-bit
 * ABI built with a 64-bit time_t. */
#ifdef SYS_clock_nanosleep_time64
#define NANOSLEEP_CALL                                                                             \
	(sizeof(time_t) > sizeof(long) ? SYS_clock_nanosleep_time64 : SYS_clock_nanosleep)
#else
#define NANOSLEEP_CALL SYS_clock_nanosleep
#endif

static __thread bool recording;
static _Atomic int64_t largest, requests;

int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req, struct timespec *rem)
{
	if (recording) {
		int64_t ns = (int64_t)req->tv_sec * 1000000000 + req->tv_nsec;
		if (flags & TIMER_ABSTIME) {
			struct timespec now;
			clock_gettime(clock, &now);
			ns -= (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
		}
		atomic_fetch_add(&requests, 1);
		int64_t old = atomic_load(&largest);
		while (ns > old && !atomic_compare_exchange_weak(&largest, &old, ns))
			;
	}
	int saved = errno;
	long r = syscall(NANOSLEEP_CALL, clock, flags, req, rem);
	int err = r == 0 ? 0 : errno;
	errno = saved;
	return err;
}

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

#define GROUP_MAX 81

static tparker_t parkers[GROUP_MAX];
static atomic_int parked;

static void *timed_main(void *arg)
{
	(void)arg;
	struct timespec d = tparker_deadline_after(300000000);
	recording = true;
	tparker_prepare_park(&parkers[0]);
	if (tparker_park_until(&parkers[0], &d))
		tpt_fail("park_until returned true with no unparker");
	recording = false;
	return NULL;
}

static void *untimed_main(void *arg)
{
	tparker_t *p = arg;
	recording = true;
	tparker_prepare_park(p);
	atomic_fetch_add(&parked, 1);
	tparker_park(p);
	recording = false;
	return NULL;
}

/* n threads park on their own spin parkers for park_ns; the largest sleep
 * any of them asked for must be cap_ns, within slack. */
static void group(const tparker_backend_t *spin, int n, int64_t park_ns, int64_t cap_ns)
{
	pthread_t t[GROUP_MAX];

	atomic_store(&requests, 0);
	atomic_store(&largest, 0);
	atomic_store(&parked, 0);
	for (int i = 0; i < n; i++)
		if (tparker_init_with(&parkers[i], spin) != 0)
			tpt_fail("no spin parker");
	if (n == 1) {
		pthread_create(&t[0], NULL, timed_main, NULL);
		pthread_join(t[0], NULL);
	}
	for (int i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, untimed_main, &parkers[i]) != 0)
			tpt_fail("cannot create thread %d of %d", i + 1, n);
	while (atomic_load(&parked) < n)
		tpt_sleep_ns(1000000);
	tpt_sleep_ns(park_ns);
	for (int i = 0; i < n; i++)
		tparker_unpark(tparker_unpark_lock(&parkers[i]));
	for (int i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		tparker_destroy(&parkers[i]);
	}

	int64_t reqs = atomic_load(&requests), max = atomic_load(&largest);
	printf("%d parked: %lld backoff sleeps, the largest %.3f ms (cap %.3f ms)\n", n,
	       (long long)reqs, max / 1e6, cap_ns / 1e6);
	if (reqs == 0)
		tpt_fail("no clock_nanosleep call seen: the core's call is not interposed");
	if (max > cap_ns)
		tpt_fail("%d parked: a backoff sleep of %.3f ms exceeds the %.3f ms cap", n,
			 max / 1e6, cap_ns / 1e6);
	/* valgrind and ThreadSanitizer run the few instructions between the
	 * two clock reads slowly: still far above the step below the cap. */
	int64_t slack = tpt_under_valgrind() || UNDER_TSAN ? 100000 : 1000;
	if (max < cap_ns - slack)
		tpt_fail("%d parked: the backoff never reached its %.3f ms cap (largest %.3f ms)",
			 n, cap_ns / 1e6, max / 1e6);
}

int main(void)
{
	const tparker_backend_t *spin = tparker_backend_get("spin");

	tpt_name = "spin-cap";
	tpt_backend = "spin";
	tpt_watchdog(30, "the parks");
	if (!spin)
		tpt_fail("no spin backend");
	group(spin, 1, 250000000, 1250000);
	group(spin, 8, 250000000, 10000000);
	group(spin, GROUP_MAX, 400000000, 100000000);
	return 0;
}
