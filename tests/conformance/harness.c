/* SPDX-License-Identifier: MIT */
/*
 * The conformance suite's shared harness (see harness.h): clock and sleep
 * helpers, failures from other threads, the watchdog, bounded waits, and
 * the event, ping-pong and solo helpers the tests build on.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

int64_t hang_ns = 10 * NS_PER_S;
int64_t long_park_ns = 10 * NS_PER_S;
int64_t watchdog_ns = 15 * NS_PER_S;
const char *backend_name;
const tparker_backend_t *def;
unsigned long scale_down = 1;

/* strdup() is POSIX, not C11 (mingw hides it under -std=c11). */
static char *copy_string(const char *s)
{
	size_t n = strlen(s) + 1;
	char *c = malloc(n);

	if (c)
		memcpy(c, s, n);
	return c;
}

/* ---- time ---------------------------------------------------------------- */

struct timespec now_ts(void)
{
	return tp_now();
}

/* t + ns for ordinary (not huge) values; the result is normalised. */
struct timespec ts_add(struct timespec t, int64_t ns)
{
	int64_t sec = ns / NS_PER_S, nsec = ns % NS_PER_S;

	t.tv_sec += (time_t)sec;
	nsec += t.tv_nsec;
	if (nsec < 0) {
		nsec += NS_PER_S;
		t.tv_sec--;
	} else if (nsec >= NS_PER_S) {
		nsec -= NS_PER_S;
		t.tv_sec++;
	}
	t.tv_nsec = (long)nsec;
	return t;
}

bool ts_before(struct timespec a, struct timespec b)
{
	return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

/* a - b in ns, for timespecs close to each other. */
int64_t ts_diff(struct timespec a, struct timespec b)
{
	return (int64_t)(a.tv_sec - b.tv_sec) * NS_PER_S + (a.tv_nsec - b.tv_nsec);
}

/* Sleeps the whole interval even when signals interrupt it. */
void sleep_ns(int64_t ns)
{
	tp_sleep_ns(ns);
}

void sleep_ms(long ms)
{
	sleep_ns((int64_t)ms * NS_PER_MS);
}

uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: plenty for choosing timings and victims. */
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* ---- failures, hangs, watchdog ------------------------------------------- */

#define MAX_THREAD_FAILS 32

static tp_mutex_t fail_lock = TP_MUTEX_INIT;
static char *thread_fails[MAX_THREAD_FAILS];
static unsigned n_thread_fails, n_thread_fails_dropped;
static _Atomic(const char *) current_test = "(none)";

static void vreport(const char *prefix, const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	fprintf(stderr, "\n  %s%s\n", prefix, buf);
}

/* A failure seen on a thread other than the test's: printed now, handed to
 * CUnit by collect_thread_failures(). */
void thread_fail(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n  FAIL (thread): %s\n", buf);
	tp_mutex_lock(&fail_lock);
	if (n_thread_fails < MAX_THREAD_FAILS)
		thread_fails[n_thread_fails++] = copy_string(buf);
	else
		n_thread_fails_dropped++;
	tp_mutex_unlock(&fail_lock);
}

void collect_thread_failures(const char *file, unsigned line)
{
	tp_mutex_lock(&fail_lock);
	for (unsigned i = 0; i < n_thread_fails; i++) {
		CU_assertImplementation(CU_FALSE, line, thread_fails[i] ? thread_fails[i] : "?",
					file, "", CU_FALSE);
		free(thread_fails[i]);
	}
	if (n_thread_fails_dropped)
		CU_assertImplementation(CU_FALSE, line, "more thread failures (not kept)", file, "",
					CU_FALSE);
	n_thread_fails = n_thread_fails_dropped = 0;
	tp_mutex_unlock(&fail_lock);
}

/* CU_ASSERT with a message that says what was seen. */
void expect_impl(bool ok, const char *file, unsigned line, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (ok) {
		CU_assertImplementation(CU_TRUE, line, "", file, "", CU_FALSE);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n  FAIL: %s\n", buf);
	CU_assertImplementation(CU_FALSE, line, buf, file, "", CU_FALSE);
}

/* A thread that does not come back cannot be joined, so the run cannot go
 * on: say what hung and end the process as failed. */
_Noreturn void hang(const char *fmt, ...)
{
	char prefix[160];
	va_list ap;

	snprintf(prefix, sizeof(prefix), "HANG (conformance-%s, test \"%s\"): ", backend_name,
		 atomic_load(&current_test));
	va_start(ap, fmt);
	vreport(prefix, fmt, ap);
	va_end(ap);
	fflush(NULL);
	_Exit(1);
}

void patience_init(struct patience *p)
{
	p->start = p->last = now_ts();
	p->stalled = 0;
}

int64_t patience_waited(struct patience *p)
{
	struct timespec t = now_ts();
	int64_t gap = ts_diff(t, p->last);

	if (gap > STALL_NS)
		p->stalled += gap;
	p->last = t;
	return ts_diff(t, p->start) - p->stalled;
}

static atomic_ulong wd_progress;
static atomic_bool wd_armed;

void progress(void)
{
	atomic_fetch_add_explicit(&wd_progress, 1, memory_order_relaxed);
}

/* Catches a hang in the test's own thread (a park that never returns),
 * which no bounded wait can. */
static void *watchdog_main(void *arg)
{
	unsigned long last = 0;
	struct patience waited;

	(void)arg;
	patience_init(&waited);
	for (;;) {
		sleep_ms(100);
		unsigned long p = atomic_load_explicit(&wd_progress, memory_order_relaxed);
		if (p != last || !atomic_load(&wd_armed)) {
			last = p;
			patience_init(&waited);
		} else if (patience_waited(&waited) > watchdog_ns) {
			hang("watchdog: no progress for %lld s (a lost wakeup, or a park that "
			     "ignores "
			     "its deadline)",
			     (long long)(watchdog_ns / NS_PER_S));
		}
	}
	return NULL;
}

void watchdog_start(void)
{
	tp_thread_t wd;

	start_thread(&wd, watchdog_main, NULL);
	tp_thread_detach(wd);
}

static struct timespec test_started;

void test_setup(void)
{
	test_started = now_ts();
}

void test_teardown(void)
{
	atomic_store(&wd_armed, false);
	printf("(%.2f s) ", (double)ts_diff(now_ts(), test_started) / NS_PER_S);
}

void begin_test(const char *name)
{
	atomic_store(&current_test, name);
	progress();
	atomic_store(&wd_armed, true);
}

/* Polls a flag another thread sets; hangs the run after hang_ns. */
void await_flag(atomic_bool *flag, const char *what)
{
	struct patience waited;

	patience_init(&waited);
	while (!atomic_load_explicit(flag, memory_order_acquire)) {
		if (patience_waited(&waited) > hang_ns)
			hang("%s: still waiting after %lld s", what,
			     (long long)(hang_ns / NS_PER_S));
		sleep_ns(50000);
	}
	progress();
}

/* Polls a flag for up to ms; true when it was set. */
bool flag_within(atomic_bool *flag, long ms)
{
	struct timespec until = ts_add(now_ts(), (int64_t)ms * NS_PER_MS);

	while (!atomic_load_explicit(flag, memory_order_acquire)) {
		if (!ts_before(now_ts(), until))
			return false;
		sleep_ns(50000);
	}
	return true;
}

void start_thread(tp_thread_t *t, void *(*fn)(void *), void *arg)
{
	tp_thread_start(t, fn, arg);
}

void join_thread(tp_thread_t t)
{
	tp_thread_join(t);
	progress();
}

void init_parker(tparker_t *p, const tparker_backend_t *b)
{
	int err = tparker_init_with(p, b);

	if (err) {
		fprintf(stderr, "tparker_init_with(%s): %s\n", tparker_backend_name(b),
			strerror(err));
		exit(1);
	}
}

/* ---- a one-waiter queue: the protocol as a wait queue uses it ------------ */

static void event_init(struct event *e)
{
	tp_mutex_init(&e->lock);
	e->waiter = NULL;
	e->set = false;
}

/* true once signalled; false when timeout_ns passed first. */
static bool event_wait(struct event *e, tparker_t *p, uint64_t timeout_ns, unsigned long *parks)
{
	tp_mutex_lock(&e->lock);
	if (e->set) {
		e->set = false;
		tp_mutex_unlock(&e->lock);
		return true;
	}
	tparker_prepare_park(p);
	e->waiter = p;
	tp_mutex_unlock(&e->lock);
	(*parks)++;

	struct timespec deadline = tparker_deadline_after(timeout_ns);
	if (tparker_park_until(p, &deadline))
		return true;
	tp_mutex_lock(&e->lock);
	bool timed_out = tparker_timed_out(p);
	if (timed_out)
		e->waiter = NULL;
	tp_mutex_unlock(&e->lock);
	return !timed_out;
}

static void event_signal(struct event *e)
{
	tp_mutex_lock(&e->lock);
	tparker_t *p = e->waiter;
	if (!p) {
		e->set = true;
		tp_mutex_unlock(&e->lock);
		return;
	}
	e->waiter = NULL;
	tparker_unpark_handle_t h = tparker_unpark_lock(p);
	tp_mutex_unlock(&e->lock);
	tparker_unpark(h);
}

/* ---- ping-pong ------------------------------------------------------------- */

static void *pingpong_main(void *arg)
{
	struct pp_arg *a = arg;
	struct pingpong *pp = a->pp;
	int me = a->side, other = 1 - a->side;
	unsigned long i;

	for (i = 0; i < pp->rounds && !atomic_load(&pp->stop); i++) {
		if (me == 0)
			event_signal(&pp->ev[other]);
		if (!event_wait(&pp->ev[me], &pp->parker[me], (uint64_t)long_park_ns,
				&pp->parks[me])) {
			thread_fail("%s: side %d, round %lu of %lu: not woken within %lld s "
				    "(lost wakeup)",
				    pp->name, me, i, pp->rounds,
				    (long long)(long_park_ns / NS_PER_S));
			atomic_store(&pp->stop, true);
			event_signal(&pp->ev[other]);
			break;
		}
		if (me == 1)
			event_signal(&pp->ev[other]);
		if ((i & 1023) == 0)
			progress();
	}
	pp->done[me] = i;
	return NULL;
}

void pingpong_start(struct pingpong *pp, struct pp_arg args[2], const char *name,
		    const tparker_backend_t *b0, const tparker_backend_t *b1, unsigned long rounds)
{
	pp->name = name;
	pp->rounds = rounds;
	atomic_init(&pp->stop, false);
	for (int i = 0; i < 2; i++) {
		event_init(&pp->ev[i]);
		init_parker(&pp->parker[i], i ? b1 : b0);
		pp->parks[i] = pp->done[i] = 0;
		args[i].pp = pp;
		args[i].side = i;
	}
	for (int i = 0; i < 2; i++)
		start_thread(&pp->thread[i], pingpong_main, &args[i]);
}

void pingpong_finish(struct pingpong *pp)
{
	for (int i = 0; i < 2; i++)
		join_thread(pp->thread[i]);
	COLLECT_THREAD_FAILURES();
	EXPECT(pp->done[0] == pp->rounds && pp->done[1] == pp->rounds,
	       "%s: %lu and %lu of %lu round trips done", pp->name, pp->done[0], pp->done[1],
	       pp->rounds);
	printf("[%s: %lu round trips, %lu + %lu parks] ", pp->name, pp->rounds, pp->parks[0],
	       pp->parks[1]);
	for (int i = 0; i < 2; i++) {
		tparker_destroy(&pp->parker[i]);
		tp_mutex_destroy(&pp->ev[i].lock);
	}
}

/* ---- one parked thread, unparked by the test ------------------------------ */

void *solo_owner(void *arg)
{
	struct solo *s = arg;

	tparker_prepare_park(&s->parker);
	tp_mutex_lock(&s->lock);
	s->queued = &s->parker;
	tp_mutex_unlock(&s->lock);
	atomic_store(&s->published, true);
	switch (s->mode) {
	case SOLO_PARK:
		tparker_park(&s->parker);
		s->result = true;
		break;
	case SOLO_UNTIL:
		s->result = tparker_park_until(&s->parker, &s->deadline);
		break;
	case SOLO_UNTIL_NULL:
		s->result = tparker_park_until(&s->parker, NULL);
		break;
	}
	s->early = !atomic_load(&s->released);
	atomic_store(&s->returned, true);
	return NULL;
}

void solo_start(struct solo *s, tp_thread_t *t, enum solo_mode mode, struct timespec deadline)
{
	memset(s, 0, sizeof(*s));
	tp_mutex_init(&s->lock);
	init_parker(&s->parker, def);
	s->mode = mode;
	s->deadline = deadline;
	atomic_init(&s->published, false);
	atomic_init(&s->released, false);
	atomic_init(&s->returned, false);
	start_thread(t, solo_owner, s);
}

void solo_release(struct solo *s, const char *what)
{
	atomic_store(&s->released, true);
	tp_mutex_lock(&s->lock);
	tparker_t *p = s->queued;
	s->queued = NULL;
	tparker_unpark_handle_t h = tparker_unpark_lock(p);
	tp_mutex_unlock(&s->lock);
	tparker_unpark(h);
	await_flag(&s->returned, what);
}

/* Another thread parks (mode, deadline) and must stay parked for hold_ms,
 * until this thread unparks it; then it must return true. */
void solo_run(const char *what, enum solo_mode mode, struct timespec deadline, long hold_ms)
{
	struct solo s;
	tp_thread_t t;

	solo_start(&s, &t, mode, deadline);
	await_flag(&s.published, what);
	sleep_ms(hold_ms);
	bool returned_early = atomic_load(&s.returned);
	solo_release(&s, what);
	join_thread(t);

	EXPECT(!returned_early && !s.early,
	       "%s: park returned (%s) within %ld ms although nobody unparked it", what,
	       s.result ? "true" : "false", hold_ms);
	EXPECT(s.result, "%s: park_until returned false although unparked", what);
	tparker_destroy(&s.parker);
	tp_mutex_destroy(&s.lock);
}
