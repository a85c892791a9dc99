/* SPDX-License-Identifier: MIT */
/*
 * What every file of the conformance suite shares: the backend under test,
 * the clock and sleep helpers, failures reported from other threads, the
 * watchdog and bounded waits, and the small protocol users the tests build
 * on (a one-waiter event, a ping-pong, one parked thread).
 *
 * A lost wakeup shows up as a hang, so nothing here waits without a bound:
 * parks use long deadlines where the protocol allows, every wait for another
 * thread is bounded, and a watchdog thread ends the process with a message
 * when a test stops making progress. CUnit is not thread-safe: other threads
 * record failures with thread_fail(), and the test's own thread turns them
 * into CUnit failures after joining them.
 */
#ifndef TPTEST_CONFORMANCE_HARNESS_H
#define TPTEST_CONFORMANCE_HARNESS_H

#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <CUnit/Basic.h>

#include <tparker/backend.h>
#include <tparker/tparker.h>

#include "port.h"

#define NS_PER_MS TP_NS_PER_MS
#define NS_PER_S  TP_NS_PER_S

#define TIME_T_MAX ((time_t)((((time_t)1 << (sizeof(time_t) * CHAR_BIT - 2)) - 1) * 2 + 1))
#define TIME_T_MIN (-TIME_T_MAX - 1)

/* A poll that comes round this late means the process was not running (a
 * machine busy with other work): that time does not count towards a hang. */
#define STALL_NS NS_PER_S
/* Upper bound on how late a timed-out park may return: generous, as the
 * machine may be busy; it catches units mixed up (ms for s), not slowness. */
#define LATE_NS (5 * NS_PER_S)

/* How long a wait for another thread may take before it counts as a hang:
 * far beyond any scheduling delay on a loaded 2-core machine. Tripled at
 * the reduced counts (valgrind, emulators), which run far slower. */
extern int64_t hang_ns;
/* Deadline of the parks that a lost wakeup would leave hanging. */
extern int64_t long_park_ns;
/* The watchdog outlasts long_park_ns, so that a timed-out park is reported
 * by its test before the watchdog gives up on the whole process. */
extern int64_t watchdog_ns;
/* The backend under test (argv[1]) and the library's default, the same. */
extern const char *backend_name;
extern const tparker_backend_t *def;
/* At the reduced counts (TPARKER_UNDER_VALGRIND) the loops run this many
 * times fewer rounds. */
extern unsigned long scale_down;

/* ---- time ------------------------------------------------------------------ */

/* The library's monotonic clock (deadlines are absolute on it). */
struct timespec now_ts(void);
/* t + ns for ordinary (not huge) values; the result is normalised. */
struct timespec ts_add(struct timespec t, int64_t ns);
bool ts_before(struct timespec a, struct timespec b);
/* a - b in ns, for timespecs close to each other. */
int64_t ts_diff(struct timespec a, struct timespec b);
/* At least the interval, even when signals interrupt it. */
void sleep_ns(int64_t ns);
void sleep_ms(long ms);
/* xorshift64*: plenty for choosing timings and victims. */
uint64_t rng_next(uint64_t *s);

/* ---- failures, hangs, watchdog --------------------------------------------- */

/* A failure seen on a thread other than the test's: printed now, handed to
 * CUnit by COLLECT_THREAD_FAILURES() on the test's thread. */
TP_PRINTF(1, 2) void thread_fail(const char *fmt, ...);
void collect_thread_failures(const char *file, unsigned line);
#define COLLECT_THREAD_FAILURES() collect_thread_failures(__FILE__, __LINE__)

/* CU_ASSERT with a message that says what was seen. */
TP_PRINTF(4, 5) void expect_impl(bool ok, const char *file, unsigned line, const char *fmt, ...);
#define EXPECT(cond, ...) expect_impl(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* A thread that does not come back cannot be joined, so the run cannot go
 * on: say what hung and end the process as failed. */
TP_PRINTF(1, 2) _Noreturn void hang(const char *fmt, ...);

/* Time spent waiting for other threads, less the time this process stood
 * still: a hang is declared only on time the watched threads could run. */
struct patience {
	struct timespec start, last;
	int64_t stalled;
};

void patience_init(struct patience *p);
int64_t patience_waited(struct patience *p);

/* Tells the watchdog the run moves on. */
void progress(void);
/* Catches a hang in the test's own thread (a park that never returns),
 * which no bounded wait can. */
void watchdog_start(void);
/* CUnit's per-test setup and teardown: the time each test took. */
void test_setup(void);
void test_teardown(void);
/* First thing in every test: names it for hang reports, arms the watchdog. */
void begin_test(const char *name);

/* Polls a flag another thread sets; hangs the run after hang_ns. */
void await_flag(atomic_bool *flag, const char *what);
/* Polls a flag for up to ms; true when it was set. */
bool flag_within(atomic_bool *flag, long ms);

void start_thread(tp_thread_t *t, void *(*fn)(void *), void *arg);
void join_thread(tp_thread_t t);
/* tparker_init_with(), or the end of the run. */
void init_parker(tparker_t *p, const tparker_backend_t *b);

/* ---- a one-waiter queue: the protocol as a wait queue uses it -------------- */

/*
 * An event with one waiter: a signal wakes the queued waiter, or is kept
 * for the next wait when nobody is queued. The waiter calls prepare_park
 * before it publishes itself; the signaller unparks in two phases.
 */
struct event {
	tp_mutex_t lock;
	tparker_t *waiter; /* under lock */
	bool set;	   /* under lock */
};

/* ---- ping-pong: two threads wake each other through two events ------------- */

struct pingpong {
	const char *name;
	unsigned long rounds;
	struct event ev[2];
	tparker_t parker[2];
	atomic_bool stop;
	unsigned long parks[2], done[2];
	tp_thread_t thread[2];
};

struct pp_arg {
	struct pingpong *pp;
	int side;
};

/* Side 0 parks on b0, side 1 on b1. */
void pingpong_start(struct pingpong *pp, struct pp_arg args[2], const char *name,
		    const tparker_backend_t *b0, const tparker_backend_t *b1, unsigned long rounds);
/* Joins both sides and checks every round trip was done. */
void pingpong_finish(struct pingpong *pp);

/* ---- one parked thread, unparked by the test ------------------------------- */

enum solo_mode { SOLO_PARK, SOLO_UNTIL, SOLO_UNTIL_NULL };

struct solo {
	tp_mutex_t lock;
	tparker_t parker;
	tparker_t *queued; /* under lock */
	enum solo_mode mode;
	struct timespec deadline;
	atomic_bool published, released, returned;
	bool result, early; /* the owner's, read after join */
};

/* The parked thread of struct solo: publishes its parker, parks (mode,
 * deadline), records whether it returned before the release. */
void *solo_owner(void *arg);
/* Initialise *s (its parker on the default backend) and start its owner
 * in *t. */
void solo_start(struct solo *s, tp_thread_t *t, enum solo_mode mode, struct timespec deadline);
/* Unpark the owner as a waker does (released first, so that a return
 * before it counts as early), then wait until park has returned. */
void solo_release(struct solo *s, const char *what);
/* Another thread parks (mode, deadline) and must stay parked for hold_ms,
 * until this thread unparks it; then it must return true. */
void solo_run(const char *what, enum solo_mode mode, struct timespec deadline, long hold_ms);

/* ---- the tests, by file ------------------------------------------------------ */

/* fastpath.c */
void test_unpark_before_park(void);
#if defined(__linux__)
void test_waker_cpu(void);
#endif
void test_pingpong(void);
void test_memory_ordering(void);
/* deadlines.c */
void test_timeouts(void);
void test_past_deadlines(void);
void test_deadline_after(void);
void test_huge_deadlines(void);
void test_odd_deadlines(void);
void test_timed_out(void);
/* torture.c */
void test_torture(void);
/* signals.c (POSIX only) */
void test_signal_storm(void);
/* lifetime.c */
void test_init_destroy(void);
void test_init_with_invalid(void);
void test_thread_yield(void);
void test_lifetime(void);
/* side-by-side.c */
void test_side_by_side(void);
/* relock.c */
void test_relock(void);

#endif
