/* SPDX-License-Identifier: MIT */
/*
 * A program's struct timespec against the library's, on an ABI whose
 * traditional time_t is 32 bits (glibc's __TIMESIZE == 32). This file is
 * built twice, with and without -D_TIME_BITS=64, and each program is linked
 * with the one libtparker of the build, whatever time_t that was built with.
 * Each checks, from its own clock_gettime() and its own struct timespec:
 *   - tparker_deadline_after(ns) is now + ns, saturating at its largest
 *     timespec;
 *   - a deadline a few ms ahead times out, never early, many times;
 *   - a past deadline returns false at once;
 *   - a far deadline (2100, the largest tv_sec, INT32_MAX, just past
 *     INT32_MAX) parks until another thread unparks it.
 * Every deadline it passes has its padding (32 bits beside tv_nsec in the
 * 64-bit layout) filled with garbage, as a program's may be.
 * Run as `time64-tNN <backend>`: exit 0 pass, 1 fail, 77 skip.
 */
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>

#include "tparker/tparker.h"

#include "../faults/harness.h"

#ifndef TPTEST_TIME_BITS
#error "build with -DTPTEST_TIME_BITS=32 or 64"
#endif
_Static_assert(sizeof(time_t) * CHAR_BIT == TPTEST_TIME_BITS,
	       "the program has the time_t its name says");

#define TIME_T_MAX ((time_t)((((time_t)1 << (sizeof(time_t) * CHAR_BIT - 2)) - 1) * 2 + 1))
#define TIME_T_MIN (-TIME_T_MAX - 1)
#define NS_PER_S   1000000000LL

/* Seconds and nanoseconds wide enough for either time_t, to compute with. */
struct tsll {
	long long sec;
	long nsec;
};

static struct tsll tsll_of(const struct timespec *t)
{
	return (struct tsll){(long long)t->tv_sec, t->tv_nsec};
}

static struct tsll now_ll(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return tsll_of(&t);
}

static int tsll_cmp(struct tsll a, struct tsll b)
{
	if (a.sec != b.sec)
		return a.sec < b.sec ? -1 : 1;
	return a.nsec < b.nsec ? -1 : a.nsec > b.nsec;
}

/* t + ns, saturating at this program's largest timespec. */
static struct tsll tsll_add(struct tsll t, uint64_t ns)
{
	long long sec = t.sec + (long long)(ns / NS_PER_S);
	long nsec = t.nsec + (long)(ns % NS_PER_S);
	if (nsec >= NS_PER_S) {
		nsec -= NS_PER_S;
		sec++;
	}
	if (sec > (long long)TIME_T_MAX)
		return (struct tsll){(long long)TIME_T_MAX, NS_PER_S - 1};
	return (struct tsll){sec, nsec};
}

/* Fill *t in place, padding first: a struct copy need not keep padding. */
static void ts_set(struct timespec *t, time_t sec, long nsec)
{
	memset(t, 0xA5, sizeof(*t));
	t->tv_sec = sec;
	t->tv_nsec = nsec;
}

static unsigned failures;

/* A failed check: reported (the first few of each kind), counted, and the
 * checks go on, so one run shows every kind of mistake. */
__attribute__((format(printf, 2, 3))) static void check_failed(unsigned *of_kind, const char *f,
							       ...)
{
	failures++;
	if (++*of_kind > 3)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, f);
	vsnprintf(msg, sizeof(msg), f, ap);
	va_end(ap);
	printf("FAIL %s %s: %s\n", tpt_name, tpt_backend, msg);
}

static const char *fmt(char *buf, size_t len, struct tsll t)
{
	snprintf(buf, len, "{%lld, %ld}", t.sec, t.nsec);
	return buf;
}

static void check_deadline_after(void)
{
	static const uint64_t cases[] = {
	    0,
	    1,
	    999999999u,
	    1000000000u,
	    1500000000u,
	    3600u * 1000000000ull,
	    (uint64_t)INT32_MAX * 1000000000u,
	    UINT64_MAX / 2,
	    UINT64_MAX,
	};
	unsigned bad = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int round = 0; round < 100; round++) {
			struct tsll lo = tsll_add(now_ll(), cases[i]);
			struct timespec d = tparker_deadline_after(cases[i]);
			struct tsll hi = tsll_add(now_ll(), cases[i]);
			struct tsll got = tsll_of(&d);
			char a[64], b[64], c[64];
			if (got.nsec < 0 || got.nsec >= NS_PER_S || tsll_cmp(got, lo) < 0 ||
			    tsll_cmp(got, hi) > 0)
				check_failed(&bad,
					     "tparker_deadline_after(%llu) = %s, expected between "
					     "%s and %s",
					     (unsigned long long)cases[i], fmt(a, sizeof(a), got),
					     fmt(b, sizeof(b), lo), fmt(c, sizeof(c), hi));
		}
	}
	if (TPTEST_TIME_BITS == 32) {
		struct timespec d = tparker_deadline_after(UINT64_MAX);
		if (d.tv_sec != TIME_T_MAX || d.tv_nsec != NS_PER_S - 1)
			check_failed(&bad,
				     "tparker_deadline_after(UINT64_MAX) = {%lld, %ld}, expected "
				     "the largest timespec",
				     (long long)d.tv_sec, d.tv_nsec);
	}
	if (!bad)
		printf("ok: tparker_deadline_after is now + ns (%zu cases)\n",
		       sizeof(cases) / sizeof(cases[0]));
}

/* A real timeout: false, not before the deadline, and timed_out agrees. */
static void expect_timeout(tparker_t *p, const struct timespec *d, const char *what, unsigned *bad)
{
	char a[64];
	tparker_prepare_park(p);
	bool woken = tparker_park_until(p, d);
	struct tsll after = now_ll();
	if (woken)
		check_failed(bad, "%s: park_until(%s) returned true with no unparker", what,
			     fmt(a, sizeof(a), tsll_of(d)));
	else if (tsll_cmp(after, tsll_of(d)) < 0)
		check_failed(bad, "%s: park_until(%s) timed out %.3f ms early", what,
			     fmt(a, sizeof(a), tsll_of(d)),
			     ((double)(tsll_of(d).sec - after.sec) * 1e3 +
			      (double)(tsll_of(d).nsec - after.nsec) / 1e6));
	else if (!tparker_timed_out(p))
		check_failed(bad, "%s: timed_out() is false with no unparker", what);
}

static void check_short_deadlines(tparker_t *p)
{
	enum { ROUNDS = 40 };
	unsigned bad = 0;
	tpt_watchdog(30, "deadlines a few ms ahead");
	for (int i = 0; i < ROUNDS; i++) {
		struct timespec d;
		if (i % 2) {
			/* 1 to 4 ms from the program's own clock. */
			struct tsll t = tsll_add(now_ll(), (uint64_t)(1 + i % 4) * 1000000u);
			ts_set(&d, (time_t)t.sec, t.nsec);
		} else {
			struct timespec a = tparker_deadline_after(2000000u);
			ts_set(&d, a.tv_sec, a.tv_nsec);
		}
		expect_timeout(p, &d, i % 2 ? "now + a few ms" : "tparker_deadline_after(2 ms)",
			       &bad);
	}
	if (!bad)
		printf("ok: %d deadlines a few ms ahead time out, none early\n", ROUNDS);
	else
		printf("FAIL %s %s: %u of %d deadlines a few ms ahead went wrong\n", tpt_name,
		       tpt_backend, bad, ROUNDS);
}

static void check_past_deadlines(tparker_t *p)
{
	struct tsll now = now_ll();
	const struct {
		const char *what;
		time_t sec;
		long nsec;
	} cases[] = {
	    {"{0, 0}", 0, 0},
	    {"{-1, 0}", -1, 0},
	    {"{-1, 999999999}", -1, 999999999},
	    {"now - 1 s", (time_t)(now.sec - 1), now.nsec},
	    {"{TIME_T_MIN, 0}", TIME_T_MIN, 0},
	    {"{INT32_MIN, 0}", (time_t)INT32_MIN, 0},
	};
	unsigned bad = 0;
	tpt_watchdog(30, "past deadlines");
	/* Through the name's address too: it is the program's layout's symbol. */
	bool (*until)(tparker_t *, const struct timespec *) = tparker_park_until;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int how = 0; how < 2; how++) {
			struct timespec d;
			ts_set(&d, cases[i].sec, cases[i].nsec);
			struct tsll start = now_ll();
			tparker_prepare_park(p);
			bool woken = how ? until(p, &d) : tparker_park_until(p, &d);
			struct tsll took = now_ll();
			if (woken)
				check_failed(&bad, "past deadline %s: park_until returned true",
					     cases[i].what);
			else if (!tparker_timed_out(p))
				check_failed(&bad, "past deadline %s: timed_out() is false",
					     cases[i].what);
			/* Generous: it catches a deadline read as a later one. */
			if (tsll_cmp(took, tsll_add(start, 2 * NS_PER_S)) > 0)
				check_failed(&bad, "past deadline %s: park_until took over 2 s",
					     cases[i].what);
		}
	}
	if (!bad)
		printf("ok: %zu past deadlines return false at once\n",
		       sizeof(cases) / sizeof(cases[0]));
}

struct waker {
	tparker_t *p;
	atomic_bool parking;
};

static void *waker_main(void *arg)
{
	struct waker *w = arg;
	while (!atomic_load(&w->parking))
		tpt_sleep_ns(100000);
	/* Long enough for the owner to be asleep in the backend. */
	tpt_sleep_ns(20000000);
	tparker_unpark(tparker_unpark_lock(w->p));
	return NULL;
}

static void check_far_deadlines(tparker_t *p)
{
	struct {
		const char *what;
		struct timespec d;
	} cases[8];
	size_t n = 0;
	ts_set(&cases[n].d, TIME_T_MAX, 999999999);
	cases[n++].what = "{TIME_T_MAX, 999999999}";
	ts_set(&cases[n].d, TIME_T_MAX, 0);
	cases[n++].what = "{TIME_T_MAX, 0}";
	ts_set(&cases[n].d, (time_t)INT32_MAX, 999999999);
	cases[n++].what = "{INT32_MAX, 999999999}";
	struct timespec a = tparker_deadline_after(UINT64_MAX);
	ts_set(&cases[n].d, a.tv_sec, a.tv_nsec);
	cases[n++].what = "tparker_deadline_after(UINT64_MAX)";
	a = tparker_deadline_after(3600u * 1000000000ull);
	ts_set(&cases[n].d, a.tv_sec, a.tv_nsec);
	cases[n++].what = "tparker_deadline_after(1 h)";
#if TPTEST_TIME_BITS == 64
	/* 2100-01-01 as seconds: far on any clock. */
	ts_set(&cases[n].d, (time_t)4102444800LL, 0);
	cases[n++].what = "{4102444800 (2100), 0}";
	ts_set(&cases[n].d, (time_t)INT32_MAX + 1, 0);
	cases[n++].what = "{INT32_MAX + 1, 0}";
#endif
	unsigned bad = 0;
	tpt_watchdog(30, "far deadlines");
	for (size_t i = 0; i < n; i++) {
		struct waker w = {.p = p};
		pthread_t t;
		tparker_prepare_park(p);
		if (pthread_create(&t, NULL, waker_main, &w) != 0)
			tpt_fail("pthread_create failed");
		atomic_store(&w.parking, true);
		bool woken = tparker_park_until(p, &cases[i].d);
		pthread_join(t, NULL);
		if (!woken)
			check_failed(&bad,
				     "far deadline %s: park_until returned false, not woken by "
				     "the unpark",
				     cases[i].what);
	}
	if (!bad)
		printf("ok: %zu far deadlines park until unparked\n", n);
}

int main(int argc, char **argv)
{
	tpt_start(TPTEST_TIME_BITS == 64 ? "time64-t64" : "time64-t32", argc, argv);
	printf("sizeof(time_t) %zu, sizeof(struct timespec) %zu, backend %s\n", sizeof(time_t),
	       sizeof(struct timespec), tpt_backend);
	tparker_t p;
	if (tparker_init(&p) != 0)
		tpt_fail("tparker_init failed");
	check_deadline_after();
	check_short_deadlines(&p);
	check_past_deadlines(&p);
	check_far_deadlines(&p);
	tparker_destroy(&p);
	if (failures)
		printf("FAIL %s %s: %u failed check(s)\n", tpt_name, tpt_backend, failures);
	return failures ? 1 : 0;
}
