/* SPDX-License-Identifier: MIT */
/*
 * Deadlines and timeouts: short timeouts are never early and not
 * absurdly late, past and non-normalised deadlines return at once, huge
 * ones do not wrap into the past, tparker_deadline_after() saturates, a
 * NULL deadline is park(), and tparker_timed_out() tells a real timeout
 * from an unparker that reached the parker after the deadline.
 */
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "harness.h"

/* ---- short timeouts ------------------------------------------------------- */

void test_timeouts(void)
{
	static const int64_t delays_ns[] = {NS_PER_MS, 5 * NS_PER_MS, 20 * NS_PER_MS};
	tparker_t p;

	begin_test("timeouts");
	init_parker(&p, def);
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < sizeof(delays_ns) / sizeof(delays_ns[0]); i++) {
			tparker_prepare_park(&p);
			struct timespec deadline = ts_add(now_ts(), delays_ns[i]);
			bool r = tparker_park_until(&p, &deadline);
			struct timespec after = now_ts();
			int64_t late = ts_diff(after, deadline);
			EXPECT(!r, "park_until(now + %lld ns) returned true with nobody unparking",
			       (long long)delays_ns[i]);
			EXPECT(late >= 0, "park_until(now + %lld ns) returned %lld ns early",
			       (long long)delays_ns[i], (long long)-late);
			EXPECT(late < LATE_NS, "park_until(now + %lld ns) returned %lld ns late",
			       (long long)delays_ns[i], (long long)late);
			EXPECT(tparker_timed_out(&p), "timed_out false after a real timeout");
			progress();
		}
	}

	/* The same through tparker_deadline_after(). */
	tparker_prepare_park(&p);
	struct timespec deadline = tparker_deadline_after(3 * NS_PER_MS);
	EXPECT(!tparker_park_until(&p, &deadline), "deadline_after(3 ms): returned true");
	EXPECT(!ts_before(now_ts(), deadline), "deadline_after(3 ms): returned early");
	tparker_destroy(&p);
}

/* ---- past deadlines ------------------------------------------------------- */

static void expect_past(tparker_t *p, struct timespec deadline, const char *what)
{
	int64_t fastest = INT64_MAX;

	/* "At once": under half a second, so that a past deadline taken for
	 * a relative one (a 1 s wait) fails. The fastest of three tries
	 * counts, so that one preemption on a busy machine does not. */
	for (int i = 0; i < 3 && fastest >= NS_PER_S / 2; i++) {
		tparker_prepare_park(p);
		struct timespec t0 = now_ts();
		bool r = tparker_park_until(p, &deadline);
		int64_t took = ts_diff(now_ts(), t0);
		if (took < fastest)
			fastest = took;
		EXPECT(!r, "%s: park_until returned true with nobody unparking", what);
		EXPECT(tparker_timed_out(p), "%s: timed_out false after a real timeout", what);
		progress();
	}
	EXPECT(fastest < NS_PER_S / 2, "%s: a past deadline took %lld ns", what,
	       (long long)fastest);
}

void test_past_deadlines(void)
{
	tparker_t p;

	begin_test("past deadlines");
	init_parker(&p, def);
	struct timespec now = now_ts();
	expect_past(&p, ts_add(now, -NS_PER_S), "now - 1 s");
	expect_past(&p, ts_add(now, -1), "now - 1 ns");
	expect_past(&p, now, "now");
	expect_past(&p, (struct timespec){0, 0}, "{0, 0}");
	expect_past(&p, (struct timespec){0, 999999999}, "{0, 999999999}");
	expect_past(&p, (struct timespec){1, 0}, "{1, 0}");
	for (int i = 0; i < 1000; i++) {
		tparker_prepare_park(&p);
		struct timespec zero = {0, 0};
		if (tparker_park_until(&p, &zero)) {
			EXPECT(false, "{0, 0}, round %d: returned true", i);
			break;
		}
	}
	tparker_destroy(&p);
}

/* ---- huge deadlines ------------------------------------------------------- */

/* ts + ns, saturating at {TIME_T_MAX, 999999999}. */
static struct timespec ts_add_sat(struct timespec t, uint64_t ns)
{
	uint64_t sec = ns / NS_PER_S;

	t.tv_nsec += (long)(ns % NS_PER_S);
	if (t.tv_nsec >= NS_PER_S) {
		t.tv_nsec -= NS_PER_S;
		sec++;
	}
	if (sec > (uint64_t)(TIME_T_MAX - t.tv_sec))
		return (struct timespec){TIME_T_MAX, 999999999};
	t.tv_sec += (time_t)sec;
	return t;
}

void test_deadline_after(void)
{
	static const uint64_t values[] = {
	    0,
	    1,
	    999999999,
	    1000000000,
	    1500000000,
	    (uint64_t)3600 * NS_PER_S + 999999999,
	    UINT64_MAX / 2,
	    UINT64_MAX - 1,
	    UINT64_MAX,
	};

	begin_test("deadline_after");
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		struct timespec before = now_ts();
		struct timespec d = tparker_deadline_after(values[i]);
		struct timespec after = now_ts();
		struct timespec lo = ts_add_sat(before, values[i]);
		struct timespec hi = ts_add_sat(after, values[i]);
		EXPECT(d.tv_nsec >= 0 && d.tv_nsec < NS_PER_S,
		       "deadline_after(%llu): tv_nsec %ld not normalised",
		       (unsigned long long)values[i], (long)d.tv_nsec);
		EXPECT(!ts_before(d, before), "deadline_after(%llu) = {%lld, %ld} is before now",
		       (unsigned long long)values[i], (long long)d.tv_sec, (long)d.tv_nsec);
		EXPECT(!ts_before(d, lo) && !ts_before(hi, d),
		       "deadline_after(%llu) = {%lld, %ld}, expected between {%lld, %ld} and "
		       "{%lld, %ld}",
		       (unsigned long long)values[i], (long long)d.tv_sec, (long)d.tv_nsec,
		       (long long)lo.tv_sec, (long)lo.tv_nsec, (long long)hi.tv_sec,
		       (long)hi.tv_nsec);
	}
	/* deadline_after(0) is now: between two readings of the clock. */
	struct timespec before = now_ts();
	struct timespec d = tparker_deadline_after(0);
	struct timespec after = now_ts();
	EXPECT(!ts_before(d, before) && !ts_before(after, d),
	       "deadline_after(0) is %lld ns after a clock reading that came %lld ns after it",
	       (long long)ts_diff(d, before), (long long)ts_diff(after, before));
}

void test_huge_deadlines(void)
{
	struct huge_case {
		const char *what;
		struct timespec d;
	} cases[16];
	size_t n = 0;

	begin_test("huge deadlines");
	cases[n++] =
	    (struct huge_case){"deadline_after(UINT64_MAX)", tparker_deadline_after(UINT64_MAX)};
	cases[n++] = (struct huge_case){"deadline_after(UINT64_MAX / 2)",
					tparker_deadline_after(UINT64_MAX / 2)};
	cases[n++] = (struct huge_case){"{TIME_T_MAX, 999999999}", {TIME_T_MAX, 999999999}};
	cases[n++] = (struct huge_case){"{TIME_T_MAX, 0}", {TIME_T_MAX, 0}};
	cases[n++] = (struct huge_case){"{TIME_T_MAX - 1, 999999999}", {TIME_T_MAX - 1, 999999999}};
	cases[n++] = (struct huge_case){"{INT32_MAX, 999999999}", {INT32_MAX, 999999999}};
	if (sizeof(time_t) >= 8) {
		/* Around the largest ktime_t (INT64_MAX ns) and where a
		 * conversion to ns would overflow. */
		cases[n++] = (struct huge_case){"{(time_t)1 << 32, 0}", {(time_t)4294967296LL, 0}};
		cases[n++] = (struct huge_case){"{9223372036, 854775807}",
						{(time_t)9223372036LL, 854775807}};
		cases[n++] = (struct huge_case){"{9223372036, 854775808}",
						{(time_t)9223372036LL, 854775808}};
		cases[n++] = (struct huge_case){"{9223372037, 0}", {(time_t)9223372037LL, 0}};
		cases[n++] = (struct huge_case){"{18446744074, 0}", {(time_t)18446744074LL, 0}};
	}
	for (size_t i = 0; i < n; i++) {
		solo_run(cases[i].what, SOLO_UNTIL, cases[i].d, 50);
		COLLECT_THREAD_FAILURES();
	}
}

/* ---- non-normalised deadlines, NULL deadline ----------------------------- */

void test_odd_deadlines(void)
{
	tparker_t p;
	char what[96];

	begin_test("non-normalised deadlines");
	init_parker(&p, def);
	struct timespec now = now_ts();
	static const long bad_nsec[] = {-1, NS_PER_S, LONG_MAX, LONG_MIN, -NS_PER_S};
	for (size_t i = 0; i < sizeof(bad_nsec) / sizeof(bad_nsec[0]); i++) {
		snprintf(what, sizeof(what), "{now - 2 s, %ld}", bad_nsec[i]);
		expect_past(&p, (struct timespec){now.tv_sec - 2, bad_nsec[i]}, what);
		snprintf(what, sizeof(what), "{0, %ld}", bad_nsec[i]);
		expect_past(&p, (struct timespec){0, bad_nsec[i]}, what);
	}
	expect_past(&p, (struct timespec){-1, 0}, "{-1, 0}");
	expect_past(&p, (struct timespec){-1, 999999999}, "{-1, 999999999}");
	expect_past(&p, (struct timespec){-1, LONG_MAX}, "{-1, LONG_MAX}");
	expect_past(&p, (struct timespec){-now.tv_sec - 10, 0}, "{-(now + 10), 0}");
	expect_past(&p, (struct timespec){TIME_T_MIN, 0}, "{TIME_T_MIN, 0}");
	expect_past(&p, (struct timespec){TIME_T_MIN, LONG_MIN}, "{TIME_T_MIN, LONG_MIN}");
	expect_past(&p, (struct timespec){TIME_T_MIN, LONG_MAX}, "{TIME_T_MIN, LONG_MAX}");

	/* tv_nsec above range is clamped to 999999999 in the same second:
	 * neither carried into seconds (a far deadline) nor cut to 0 (early). */
	static const long high_nsec[] = {LONG_MAX, NS_PER_S};
	for (size_t i = 0; i < sizeof(high_nsec) / sizeof(high_nsec[0]); i++) {
		struct timespec base = now_ts();
		struct timespec d = {base.tv_sec, high_nsec[i]};
		struct timespec clamped = {base.tv_sec, 999999999};
		tparker_prepare_park(&p);
		bool r = tparker_park_until(&p, &d);
		struct timespec after = now_ts();
		EXPECT(!r, "{now.sec, %ld}: returned true with nobody unparking", high_nsec[i]);
		EXPECT(!ts_before(after, clamped),
		       "{now.sec, %ld}: returned %lld ns before now.sec + 0.999999999",
		       high_nsec[i], (long long)ts_diff(clamped, after));
		EXPECT(ts_diff(after, clamped) < LATE_NS,
		       "{now.sec, %ld}: returned %lld ns after now.sec + 0.999999999", high_nsec[i],
		       (long long)ts_diff(after, clamped));
		progress();
	}
	/* Negative tv_nsec is clamped to 0: now.sec + 1 exactly. */
	{
		struct timespec base = now_ts();
		struct timespec d = {base.tv_sec + 1, -1};
		struct timespec clamped = {base.tv_sec + 1, 0};
		tparker_prepare_park(&p);
		bool r = tparker_park_until(&p, &d);
		struct timespec after = now_ts();
		EXPECT(!r, "{now.sec + 1, -1}: returned true with nobody unparking");
		EXPECT(!ts_before(after, clamped), "{now.sec + 1, -1}: returned %lld ns early",
		       (long long)ts_diff(clamped, after));
		EXPECT(ts_diff(after, clamped) < LATE_NS,
		       "{now.sec + 1, -1}: returned %lld ns late",
		       (long long)ts_diff(after, clamped));
		progress();
	}
	tparker_destroy(&p);

	/* Far non-normalised deadlines wait for the unpark. */
	now = now_ts();
	solo_run("{now + 3600 s, LONG_MAX}", SOLO_UNTIL,
		 (struct timespec){now.tv_sec + 3600, LONG_MAX}, 30);
	solo_run("{now + 3600 s, -1}", SOLO_UNTIL, (struct timespec){now.tv_sec + 3600, -1}, 30);
	solo_run("{TIME_T_MAX, LONG_MAX}", SOLO_UNTIL, (struct timespec){TIME_T_MAX, LONG_MAX}, 30);
	solo_run("{TIME_T_MAX, LONG_MIN}", SOLO_UNTIL, (struct timespec){TIME_T_MAX, LONG_MIN}, 30);
	/* A NULL deadline is park(). */
	solo_run("park_until(NULL)", SOLO_UNTIL_NULL, (struct timespec){0, 0}, 50);
	solo_run("park()", SOLO_PARK, (struct timespec){0, 0}, 50);
	COLLECT_THREAD_FAILURES();
}

/* ---- timed_out ------------------------------------------------------------ */

struct racer {
	tp_mutex_t *lock;
	tparker_t **queued;
	long delay_ms; /* between unpark_lock and unpark */
	atomic_bool locked, done;
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;

	tp_mutex_lock(r->lock);
	tparker_t *p = *r->queued;
	*r->queued = NULL;
	tparker_unpark_handle_t h = {NULL, NULL};
	if (p)
		h = tparker_unpark_lock(p);
	tp_mutex_unlock(r->lock);
	if (!p)
		thread_fail("racer: the queue was empty");
	atomic_store(&r->locked, true);
	if (r->delay_ms)
		sleep_ms(r->delay_ms);
	if (p)
		tparker_unpark(h);
	atomic_store(&r->done, true);
	return NULL;
}

void test_timed_out(void)
{
	tp_mutex_t lock = TP_MUTEX_INIT;
	tparker_t *queued = NULL;
	tparker_t p;

	begin_test("timed_out");
	init_parker(&p, def);

	/* A real timeout: timed_out says so, the owner takes itself off. */
	for (int i = 0; i < 5; i++) {
		tparker_prepare_park(&p);
		tp_mutex_lock(&lock);
		queued = &p;
		tp_mutex_unlock(&lock);
		struct timespec d = tparker_deadline_after((uint64_t)i * NS_PER_MS);
		EXPECT(!tparker_park_until(&p, &d), "real timeout %d: returned true", i);
		tp_mutex_lock(&lock);
		bool to = tparker_timed_out(&p);
		if (to)
			queued = NULL;
		tp_mutex_unlock(&lock);
		EXPECT(to, "real timeout %d: timed_out returned false", i);
	}

	/* An unparker reaches the parker between the timeout and the owner's
	 * look under the queue lock: timed_out must say false, and the
	 * parker must come out of it clean. */
	for (int i = 0; i < 20; i++) {
		struct racer r = {.lock = &lock, .queued = &queued, .delay_ms = i % 3};
		atomic_init(&r.locked, false);
		atomic_init(&r.done, false);
		tp_thread_t t;

		tparker_prepare_park(&p);
		tp_mutex_lock(&lock);
		queued = &p;
		tp_mutex_unlock(&lock);
		struct timespec d = tparker_deadline_after((uint64_t)(i % 4) * NS_PER_MS);
		EXPECT(!tparker_park_until(&p, &d), "race %d: returned true before any unpark", i);
		start_thread(&t, racer_main, &r);
		await_flag(&r.locked, "racer's unpark_lock");
		tp_mutex_lock(&lock);
		bool to = tparker_timed_out(&p);
		bool still_queued = queued == &p;
		if (to)
			queued = NULL;
		tp_mutex_unlock(&lock);
		EXPECT(!to,
		       "race %d: timed_out returned true after an unparker reached the "
		       "parker",
		       i);
		EXPECT(!still_queued, "race %d: still queued", i);
		/* Odd rounds start the next park before the racer's unpark. */
		if (i % 2 == 0)
			await_flag(&r.done, "racer's unpark");

		/* No wakeup is left over: nobody unparks, so this times out. */
		tparker_prepare_park(&p);
		tp_mutex_lock(&lock);
		queued = &p;
		tp_mutex_unlock(&lock);
		struct timespec d2 = tparker_deadline_after(3 * NS_PER_MS);
		bool r2 = tparker_park_until(&p, &d2);
		struct timespec after = now_ts();
		tp_mutex_lock(&lock);
		bool to2 = tparker_timed_out(&p);
		if (to2)
			queued = NULL;
		tp_mutex_unlock(&lock);
		join_thread(t);
		EXPECT(!r2 && to2,
		       "race %d: the next park returned %s, timed_out %s, with nobody unparking "
		       "(a stale wakeup)",
		       i, r2 ? "true" : "false", to2 ? "true" : "false");
		EXPECT(!ts_before(after, d2), "race %d: the next park returned early", i);
	}
	tparker_destroy(&p);
	COLLECT_THREAD_FAILURES();

	/* An unpark before the deadline: true, and not before the unpark. */
	solo_run("unpark before a 5 s deadline", SOLO_UNTIL, tparker_deadline_after(5 * NS_PER_S),
		 20);
	COLLECT_THREAD_FAILURES();
}
