/* SPDX-License-Identifier: MIT */
/*
 * The spin backend's backoff sleeps never exceed 10 ms, and reach it: a
 * long-parked spin thread notices an unpark within 10 ms, and costs no more
 * wake-ups than that cap allows.
 *
 * The core sleeps with clock_nanosleep through the PLT, so the definition
 * in this program is the one it calls: it records, for the parked thread
 * only, every sleep requested (its absolute end minus the time of the
 * call) and then sleeps for real. A spin parker parks twice: until a
 * deadline 300 ms away, and until an unpark 250 ms later. The largest
 * request must be at most 10 ms and within 1 us of it (the step below the
 * cap is 8.192 ms, so this says the cap was reached; the microsecond is
 * the time between the core reading the clock and this program reading it
 * again, and the largest of some 50 requests is taken).
 * Exit 0 pass, 1 fail.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>

#include "tparker/tparker.h"

#include "../faults/harness.h"

#define CAP_NS 10000000

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

static tparker_t parker;
static atomic_bool parked;

static void *timed_main(void *arg)
{
	(void)arg;
	struct timespec d = tparker_deadline_after(300000000);
	recording = true;
	tparker_prepare_park(&parker);
	if (tparker_park_until(&parker, &d))
		tpt_fail("park_until returned true with no unparker");
	recording = false;
	return NULL;
}

static void *untimed_main(void *arg)
{
	(void)arg;
	recording = true;
	tparker_prepare_park(&parker);
	atomic_store(&parked, true);
	tparker_park(&parker);
	recording = false;
	return NULL;
}

int main(void)
{
	const tparker_backend_t *spin = tparker_backend_get("spin");
	pthread_t t;

	tpt_name = "spin-cap";
	tpt_backend = "spin";
	tpt_watchdog(30, "the parks");
	if (!spin || tparker_init_with(&parker, spin) != 0)
		tpt_fail("no spin parker");

	pthread_create(&t, NULL, timed_main, NULL);
	pthread_join(t, NULL);

	pthread_create(&t, NULL, untimed_main, NULL);
	while (!atomic_load(&parked))
		tpt_sleep_ns(1000000);
	tpt_sleep_ns(250000000);
	tparker_unpark(tparker_unpark_lock(&parker));
	pthread_join(t, NULL);
	tparker_destroy(&parker);

	int64_t n = atomic_load(&requests), max = atomic_load(&largest);
	printf("%lld backoff sleeps, the largest %.3f ms (cap %.3f ms)\n", (long long)n, max / 1e6,
	       CAP_NS / 1e6);
	if (n == 0)
		tpt_fail("no clock_nanosleep call seen: the core's call is not interposed");
	if (max > CAP_NS)
		tpt_fail("a backoff sleep of %.3f ms exceeds the %.3f ms cap", max / 1e6,
			 CAP_NS / 1e6);
	/* valgrind runs the few instructions between the two clock reads
	 * slowly: still far above the 8.192 ms step below the cap. */
	int64_t slack = tpt_under_valgrind() ? 100000 : 1000;
	if (max < CAP_NS - slack)
		tpt_fail("the backoff never reached its %.3f ms cap (largest %.3f ms)",
			 CAP_NS / 1e6, max / 1e6);
	return 0;
}
