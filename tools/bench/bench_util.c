/* SPDX-License-Identifier: MIT */
/* Helpers every benchmark shares: clocks, statistics, parker storage, the
 * watchdog, the progress line. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "bench_os.h"

#define WATCHDOG_LIMIT_NS (5 * 1000000000ull)
#define WATCHDOG_POLL_NS  (100 * 1000000ull)

uint64_t bench_now_ns(void)
{
	/* The library's own clock, so deadlines and timings agree on every platform. */
	struct timespec t = tparker_now();
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

struct timespec bench_ts_add_ns(struct timespec t, uint64_t ns)
{
	t.tv_sec += (time_t)(ns / 1000000000u);
	t.tv_nsec += (long)(ns % 1000000000u);
	if (t.tv_nsec >= 1000000000L) {
		t.tv_nsec -= 1000000000L;
		t.tv_sec++;
	}
	return t;
}

int64_t bench_ts_diff_ns(const struct timespec *a, const struct timespec *b)
{
	return (int64_t)(a->tv_sec - b->tv_sec) * 1000000000 + (a->tv_nsec - b->tv_nsec);
}

/* ---- statistics ---------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double bench_median(double *v, size_t n)
{
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double bench_percentile(double *v, size_t n, double q)
{
	if (n == 0)
		return NAN;
	/* Nearest rank: a value that was actually observed. */
	size_t rank = (size_t)(q * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

/* ---- parker storage --------------------------------------------------------------
 * Each parker on its own cache lines, so no benchmark measures false sharing
 * between neighbouring parkers. */

void *bench_parker_new(const struct bench_variant *v)
{
	size_t size =
	    (v->parker_size + BENCH_PARKER_ALIGN - 1) / BENCH_PARKER_ALIGN * BENCH_PARKER_ALIGN;
	void *p = bench_aligned_alloc(BENCH_PARKER_ALIGN, size);
	if (!p)
		bench_fail("%s: out of memory", v->name);
	memset(p, 0, size);
	int err = v->ops->init(v, p);
	if (err)
		bench_fail("%s: init failed: %s", v->name, strerror(err));
	return p;
}

void bench_parker_free(const struct bench_variant *v, void *p)
{
	v->ops->destroy(p);
	bench_aligned_free(p);
}

/* ---- progress line ------------------------------------------------------------ */

static bool progress_shown;

void bench_progress(const char *bench, unsigned round, unsigned rounds, const char *variant,
		    unsigned done, unsigned total)
{
	if (!isatty(STDERR_FILENO))
		return;
	fprintf(stderr, "\r\033[Kbench: %3u%%  %-16s round %u/%u  %s",
		total ? 100 * done / total : 0, bench, round, rounds, variant);
	fflush(stderr);
	progress_shown = true;
}

void bench_progress_clear(void)
{
	if (progress_shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		progress_shown = false;
	}
}

/* ---- failure and watchdog ------------------------------------------------------ */

static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(const char *) ctx_bench = "setup";
static _Atomic(const char *) ctx_variant = "-";
static atomic_uint_fast64_t progress_count;
static atomic_bool watchdog_guarded, watchdog_hung;

_Noreturn void bench_fail(const char *fmt, ...)
{
	/* Only the first failure speaks; other threads may be stuck forever,
	 * so leave without waiting for them. */
	pthread_mutex_lock(&fail_lock);
	bench_progress_clear();
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "tparker bench: FAIL: %s\n", msg);
	fflush(stderr);
	fflush(stdout);
	_exit(1);
}

void bench_tick(void)
{
	atomic_fetch_add_explicit(&progress_count, 1, memory_order_relaxed);
}

void bench_set_context(const char *bench, const char *variant)
{
	atomic_store(&ctx_bench, bench);
	atomic_store(&ctx_variant, variant);
	bench_tick();
}

static void *watchdog(void *arg)
{
	(void)arg;
	uint64_t last = atomic_load_explicit(&progress_count, memory_order_relaxed);
	uint64_t since = bench_now_ns();
	for (;;) {
		bench_sleep_ns(WATCHDOG_POLL_NS);
		uint64_t now = bench_now_ns();
		uint64_t seen = atomic_load_explicit(&progress_count, memory_order_relaxed);
		if (seen != last) {
			last = seen;
			since = now;
		} else if (now - since >= WATCHDOG_LIMIT_NS && atomic_load(&watchdog_guarded)) {
			atomic_store(&watchdog_hung, true);
			since = now;
		} else if (now - since >= WATCHDOG_LIMIT_NS) {
			bench_fail("%s: %s: no progress for 5 s: a parked thread was never woken "
				   "(lost wakeup)",
				   atomic_load(&ctx_variant), atomic_load(&ctx_bench));
		}
	}
	return NULL;
}

void bench_watchdog_guard(bool on)
{
	atomic_store(&watchdog_hung, false);
	atomic_store(&watchdog_guarded, on);
	bench_tick();
}

bool bench_watchdog_hung(void)
{
	return atomic_load(&watchdog_hung);
}

void bench_watchdog_start(void)
{
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int err = pthread_create(&t, &attr, watchdog, NULL);
	pthread_attr_destroy(&attr);
	if (err)
		bench_fail("cannot start the watchdog thread: %s", strerror(err));
}

/* ---- waiting on a counter ---------------------------------------------------------
 * Outside the timed regions: spin a little, then yield, then sleep, so the
 * benchmark's own threads get the CPUs of this small machine. */

void bench_wait_count(atomic_uint *count, unsigned target)
{
	for (unsigned i = 0; atomic_load_explicit(count, memory_order_acquire) < target; i++) {
		if (i < 64)
			tparker_cpu_relax();
		else if (i < 128)
			sched_yield();
		else
			bench_sleep_ns(20000);
	}
}
