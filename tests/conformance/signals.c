/* SPDX-License-Identifier: MIT */
/*
 * Signals (POSIX only): a parked thread hammered with SIGUSR1 (no
 * SA_RESTART, so blocking calls fail with EINTR) stays parked until its
 * unpark, and a timeout under signals is never early.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

/* ---- signal storm --------------------------------------------------------- */

#define STORM_MIN_SIGNALS 200
#define STORM_MAX_MS	  5000L

static atomic_ulong signals_seen;

static void on_sigusr1(int sig)
{
	(void)sig;
	atomic_fetch_add_explicit(&signals_seen, 1, memory_order_relaxed);
}

struct storm {
	pthread_t target; /* what tp_thread_t is on POSIX */
	atomic_bool stop;
	unsigned long sent;
};

static void *storm_main(void *arg)
{
	struct storm *s = arg;

	while (!atomic_load(&s->stop)) {
		if (pthread_kill(s->target, SIGUSR1) == 0)
			s->sent++;
		sleep_ns(100000);
	}
	return NULL;
}

/* solo_run(), with SIGUSR1 hammering the parked thread throughout. */
static void storm_solo(const char *what, enum solo_mode mode, struct timespec deadline,
		       long hold_ms)
{
	struct solo s;
	struct storm st;
	tp_thread_t t, sender;

	unsigned long seen0 = atomic_load(&signals_seen);
	solo_start(&s, &t, mode, deadline);
	st.target = t;
	st.sent = 0;
	atomic_init(&st.stop, false);
	start_thread(&sender, storm_main, &st);
	await_flag(&s.published, what);
	/* At least hold_ms and STORM_MIN_SIGNALS signals, unless the machine
	 * is too busy to deliver them within STORM_MAX_MS. */
	struct timespec t0 = now_ts();
	while (ts_diff(now_ts(), t0) < (int64_t)hold_ms * NS_PER_MS ||
	       (atomic_load(&signals_seen) - seen0 < STORM_MIN_SIGNALS &&
		ts_diff(now_ts(), t0) < STORM_MAX_MS * NS_PER_MS))
		sleep_ms(5);
	bool returned_early = atomic_load(&s.returned);

	solo_release(&s, what);
	/* The target is not joined before the sender stops: its id stays
	 * valid for pthread_kill. */
	atomic_store(&st.stop, true);
	join_thread(sender);
	join_thread(t);
	unsigned long seen = atomic_load(&signals_seen) - seen0;

	EXPECT(!returned_early && !s.early,
	       "%s: park returned (%s) under signals although nobody unparked it", what,
	       s.result ? "true" : "false");
	EXPECT(s.result, "%s: park_until returned false although unparked", what);
	EXPECT(seen > 0, "%s: no signal arrived (%lu sent)", what, st.sent);
	printf("[%s: %lu signals] ", what, seen);
	tparker_destroy(&s.parker);
	tp_mutex_destroy(&s.lock);
}

struct storm_timeout {
	tparker_t parker;
	struct timespec deadline, after;
	bool result;
	atomic_bool returned;
};

static void *storm_timeout_owner(void *arg)
{
	struct storm_timeout *s = arg;

	tparker_prepare_park(&s->parker);
	s->deadline = tparker_deadline_after(200 * NS_PER_MS);
	s->result = tparker_park_until(&s->parker, &s->deadline);
	s->after = now_ts();
	if (!s->result)
		tparker_timed_out(&s->parker);
	atomic_store(&s->returned, true);
	return NULL;
}

void test_signal_storm(void)
{
	struct sigaction sa, old;

	begin_test("signal storm");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigusr1;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: blocking calls fail with EINTR */
	CU_ASSERT_FATAL(sigaction(SIGUSR1, &sa, &old) == 0);

	storm_solo("park() under signals", SOLO_PARK, (struct timespec){0, 0}, 300);
	storm_solo("park_until(10 s) under signals", SOLO_UNTIL,
		   tparker_deadline_after((uint64_t)long_park_ns), 300);

	/* A timeout under signals: never early. */
	for (int i = 0; i < 2; i++) {
		struct storm_timeout s;
		struct storm st;
		tp_thread_t t, sender;

		memset(&s, 0, sizeof(s));
		init_parker(&s.parker, def);
		atomic_init(&s.returned, false);
		st.sent = 0;
		atomic_init(&st.stop, false);
		start_thread(&t, storm_timeout_owner, &s);
		st.target = t;
		start_thread(&sender, storm_main, &st);
		await_flag(&s.returned, "park_until(200 ms) under signals");
		atomic_store(&st.stop, true);
		join_thread(sender);
		join_thread(t);
		EXPECT(!s.result, "park_until(200 ms) under signals: returned true with nobody "
				  "unparking");
		EXPECT(!ts_before(s.after, s.deadline),
		       "park_until(200 ms) under signals: returned %lld ns early",
		       (long long)ts_diff(s.deadline, s.after));
		EXPECT(ts_diff(s.after, s.deadline) < LATE_NS,
		       "park_until(200 ms) under signals: returned %lld ns late",
		       (long long)ts_diff(s.after, s.deadline));
		tparker_destroy(&s.parker);
	}
	sigaction(SIGUSR1, &old, NULL);
	COLLECT_THREAD_FAILURES();
}
