/* SPDX-License-Identifier: MIT */
/*
 * The parker protocol (the README's "The protocol"), run unchanged against every backend.
 *
 * Usage: test-conformance <backend>. Meson runs it once per backend with
 * TPARKER_BACKEND=<backend>,spin; when the library chose another backend
 * (the one asked for is unusable here) the run is skipped with exit 77.
 *
 * A lost wakeup shows up as a hang, so nothing here waits without a bound:
 * parks use long deadlines where the protocol allows, every wait for another
 * thread is bounded, and a watchdog thread ends the process with a message
 * when a test stops making progress. CUnit is not thread-safe: other threads
 * record failures with thread_fail(), and the test's own thread turns them
 * into CUnit failures after joining them.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include <tparker/backend.h>
#include <tparker/tparker.h>

#define NS_PER_MS 1000000LL
#define NS_PER_S  1000000000LL

#define TIME_T_MAX ((time_t)((((time_t)1 << (sizeof(time_t) * CHAR_BIT - 2)) - 1) * 2 + 1))
#define TIME_T_MIN (-TIME_T_MAX - 1)

/* How long a wait for another thread may take before it counts as a hang:
 * far beyond any scheduling delay on a loaded 2-core machine. Tripled under
 * valgrind, which runs one thread at a time. */
static int64_t hang_ns = 10 * NS_PER_S;
/* Deadline of the parks that a lost wakeup would leave hanging. */
static int64_t long_park_ns = 10 * NS_PER_S;
/* The watchdog outlasts long_park_ns, so that a timed-out park is reported
 * by its test before the watchdog gives up on the whole process. */
static int64_t watchdog_ns = 15 * NS_PER_S;
/* A poll that comes round this late means the process was not running (a
 * machine busy with other work): that time does not count towards a hang. */
#define STALL_NS NS_PER_S
/* Upper bound on how late a timed-out park may return: generous, as the
 * machine may be busy; it catches units mixed up (ms for s), not slowness. */
#define LATE_NS (5 * NS_PER_S)

static const char *backend_name;
static const tparker_backend_t *def;
/* Under valgrind (meson test --setup valgrind) the loops run this many
 * times fewer rounds. */
static unsigned long scale_down = 1;

/* ---- time ---------------------------------------------------------------- */

static struct timespec now_ts(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t;
}

/* t + ns for ordinary (not huge) values; the result is normalised. */
static struct timespec ts_add(struct timespec t, int64_t ns)
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

static bool ts_before(struct timespec a, struct timespec b)
{
	return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

/* a - b in ns, for timespecs close to each other. */
static int64_t ts_diff(struct timespec a, struct timespec b)
{
	return (int64_t)(a.tv_sec - b.tv_sec) * NS_PER_S + (a.tv_nsec - b.tv_nsec);
}

/* Sleeps the whole interval even when signals interrupt it. */
static void sleep_ns(int64_t ns)
{
	struct timespec until = ts_add(now_ts(), ns);

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
		;
}

static void sleep_ms(long ms)
{
	sleep_ns((int64_t)ms * NS_PER_MS);
}

static uint64_t rng_next(uint64_t *s)
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

static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
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
__attribute__((format(printf, 1, 2))) static void thread_fail(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n  FAIL (thread): %s\n", buf);
	pthread_mutex_lock(&fail_lock);
	if (n_thread_fails < MAX_THREAD_FAILS)
		thread_fails[n_thread_fails++] = strdup(buf);
	else
		n_thread_fails_dropped++;
	pthread_mutex_unlock(&fail_lock);
}

static void collect_thread_failures(const char *file, unsigned line)
{
	pthread_mutex_lock(&fail_lock);
	for (unsigned i = 0; i < n_thread_fails; i++) {
		CU_assertImplementation(CU_FALSE, line, thread_fails[i] ? thread_fails[i] : "?",
					file, "", CU_FALSE);
		free(thread_fails[i]);
	}
	if (n_thread_fails_dropped)
		CU_assertImplementation(CU_FALSE, line, "more thread failures (not kept)", file, "",
					CU_FALSE);
	n_thread_fails = n_thread_fails_dropped = 0;
	pthread_mutex_unlock(&fail_lock);
}
#define COLLECT_THREAD_FAILURES() collect_thread_failures(__FILE__, __LINE__)

/* CU_ASSERT with a message that says what was seen. */
__attribute__((format(printf, 4, 5))) static void expect_impl(bool ok, const char *file,
							      unsigned line, const char *fmt, ...)
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
#define EXPECT(cond, ...) expect_impl(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* A thread that does not come back cannot be joined, so the run cannot go
 * on: say what hung and end the process as failed. */
__attribute__((format(printf, 1, 2))) static _Noreturn void hang(const char *fmt, ...)
{
	char prefix[160];
	va_list ap;

	snprintf(prefix, sizeof(prefix), "HANG (conformance-%s, test \"%s\"): ", backend_name,
		 atomic_load(&current_test));
	va_start(ap, fmt);
	vreport(prefix, fmt, ap);
	va_end(ap);
	fflush(NULL);
	_exit(1);
}

/* Time spent waiting for other threads, less the time this process stood
 * still: a hang is declared only on time the watched threads could run. */
struct patience {
	struct timespec start, last;
	int64_t stalled;
};

static void patience_init(struct patience *p)
{
	p->start = p->last = now_ts();
	p->stalled = 0;
}

static int64_t patience_waited(struct patience *p)
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

static void progress(void)
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

static struct timespec test_started;

static void test_setup(void)
{
	test_started = now_ts();
}

static void test_teardown(void)
{
	atomic_store(&wd_armed, false);
	printf("(%.2f s) ", (double)ts_diff(now_ts(), test_started) / NS_PER_S);
}

static void begin_test(const char *name)
{
	atomic_store(&current_test, name);
	progress();
	atomic_store(&wd_armed, true);
}

/* Polls a flag another thread sets; hangs the run after hang_ns. */
static void await_flag(atomic_bool *flag, const char *what)
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
static bool flag_within(atomic_bool *flag, long ms)
{
	struct timespec until = ts_add(now_ts(), (int64_t)ms * NS_PER_MS);

	while (!atomic_load_explicit(flag, memory_order_acquire)) {
		if (!ts_before(now_ts(), until))
			return false;
		sleep_ns(50000);
	}
	return true;
}

static void start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	int err = pthread_create(t, NULL, fn, arg);

	if (err) {
		fprintf(stderr, "pthread_create: %s\n", strerror(err));
		exit(1);
	}
}

static void join_thread(pthread_t t)
{
	pthread_join(t, NULL);
	progress();
}

static void init_parker(tparker_t *p, const tparker_backend_t *b)
{
	int err = tparker_init_with(p, b);

	if (err) {
		fprintf(stderr, "tparker_init_with(%s): %s\n", tparker_backend_name(b),
			strerror(err));
		exit(1);
	}
}

/* ---- a one-waiter queue: the protocol as a wait queue uses it ------------ */

/*
 * An event with one waiter: a signal wakes the queued waiter, or is kept
 * for the next wait when nobody is queued. The waiter calls prepare_park
 * before it publishes itself; the signaller unparks in two phases.
 */
struct event {
	pthread_mutex_t lock;
	tparker_t *waiter; /* under lock */
	bool set;	   /* under lock */
};

static void event_init(struct event *e)
{
	pthread_mutex_init(&e->lock, NULL);
	e->waiter = NULL;
	e->set = false;
}

/* true once signalled; false when timeout_ns passed first. */
static bool event_wait(struct event *e, tparker_t *p, uint64_t timeout_ns, unsigned long *parks)
{
	pthread_mutex_lock(&e->lock);
	if (e->set) {
		e->set = false;
		pthread_mutex_unlock(&e->lock);
		return true;
	}
	tparker_prepare_park(p);
	e->waiter = p;
	pthread_mutex_unlock(&e->lock);
	(*parks)++;

	struct timespec deadline = tparker_deadline_after(timeout_ns);
	if (tparker_park_until(p, &deadline))
		return true;
	pthread_mutex_lock(&e->lock);
	bool timed_out = tparker_timed_out(p);
	if (timed_out)
		e->waiter = NULL;
	pthread_mutex_unlock(&e->lock);
	return !timed_out;
}

static void event_signal(struct event *e)
{
	pthread_mutex_lock(&e->lock);
	tparker_t *p = e->waiter;
	if (!p) {
		e->set = true;
		pthread_mutex_unlock(&e->lock);
		return;
	}
	e->waiter = NULL;
	tparker_unpark_handle_t h = tparker_unpark_lock(p);
	pthread_mutex_unlock(&e->lock);
	tparker_unpark(h);
}

/* ---- ping-pong ------------------------------------------------------------- */

struct pingpong {
	const char *name;
	unsigned long rounds;
	struct event ev[2];
	tparker_t parker[2];
	atomic_bool stop;
	unsigned long parks[2], done[2];
	pthread_t thread[2];
};

struct pp_arg {
	struct pingpong *pp;
	int side;
};

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

static void pingpong_start(struct pingpong *pp, struct pp_arg args[2], const char *name,
			   const tparker_backend_t *b0, const tparker_backend_t *b1,
			   unsigned long rounds)
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

static void pingpong_finish(struct pingpong *pp)
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
		pthread_mutex_destroy(&pp->ev[i].lock);
	}
}

/* ---- one parked thread, unparked by the test ------------------------------ */

enum solo_mode { SOLO_PARK, SOLO_UNTIL, SOLO_UNTIL_NULL };

struct solo {
	pthread_mutex_t lock;
	tparker_t parker;
	tparker_t *queued; /* under lock */
	enum solo_mode mode;
	struct timespec deadline;
	atomic_bool published, released, returned;
	bool result, early; /* the owner's, read after join */
};

static void *solo_owner(void *arg)
{
	struct solo *s = arg;

	tparker_prepare_park(&s->parker);
	pthread_mutex_lock(&s->lock);
	s->queued = &s->parker;
	pthread_mutex_unlock(&s->lock);
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

/* Another thread parks (mode, deadline) and must stay parked for hold_ms,
 * until this thread unparks it; then it must return true. */
static void solo_run(const char *what, enum solo_mode mode, struct timespec deadline, long hold_ms)
{
	struct solo s;
	pthread_t t;

	memset(&s, 0, sizeof(s));
	pthread_mutex_init(&s.lock, NULL);
	init_parker(&s.parker, def);
	s.mode = mode;
	s.deadline = deadline;
	atomic_init(&s.published, false);
	atomic_init(&s.released, false);
	atomic_init(&s.returned, false);
	start_thread(&t, solo_owner, &s);
	await_flag(&s.published, what);
	sleep_ms(hold_ms);
	bool returned_early = atomic_load(&s.returned);

	atomic_store(&s.released, true);
	pthread_mutex_lock(&s.lock);
	tparker_t *p = s.queued;
	s.queued = NULL;
	tparker_unpark_handle_t h = tparker_unpark_lock(p);
	pthread_mutex_unlock(&s.lock);
	tparker_unpark(h);
	await_flag(&s.returned, what);
	join_thread(t);

	EXPECT(!returned_early && !s.early,
	       "%s: park returned (%s) within %ld ms although nobody unparked it", what,
	       s.result ? "true" : "false", hold_ms);
	EXPECT(s.result, "%s: park_until returned false although unparked", what);
	tparker_destroy(&s.parker);
	pthread_mutex_destroy(&s.lock);
}

/* ---- 1. unpark before park ------------------------------------------------ */

static void test_unpark_before_park(void)
{
	tparker_t p;

	begin_test("unpark before park");
	init_parker(&p, def);

	/* A fresh parker is unparked: nothing to wait for. */
	struct timespec d = tparker_deadline_after(5 * NS_PER_S);
	EXPECT(tparker_park_until(&p, &d), "fresh parker: park_until returned false");

	for (int i = 0; i < 1000; i++) {
		struct timespec t0 = now_ts();
		tparker_prepare_park(&p);
		tparker_unpark(tparker_unpark_lock(&p));
		d = tparker_deadline_after(5 * NS_PER_S);
		bool r = tparker_park_until(&p, &d);
		int64_t took = ts_diff(now_ts(), t0);
		if (!r || took > NS_PER_S) {
			EXPECT(false,
			       "round %d: park_until after an unpark returned %s after %lld ns", i,
			       r ? "true" : "false", (long long)took);
			break;
		}
		/* park() too: it must return (the watchdog says when not). */
		tparker_prepare_park(&p);
		tparker_unpark(tparker_unpark_lock(&p));
		tparker_park(&p);
		progress();
	}
	/* The parker keeps working after all that. */
	tparker_prepare_park(&p);
	d = tparker_deadline_after(2 * NS_PER_MS);
	EXPECT(!tparker_park_until(&p, &d), "park_until without an unpark returned true");
	EXPECT(tparker_timed_out(&p), "timed_out false after a real timeout");
	tparker_destroy(&p);
}

/* ---- 2. ping-pong --------------------------------------------------------- */

#define PINGPONG_ROUNDS 100000UL

static void test_pingpong(void)
{
	struct pingpong pp;
	struct pp_arg args[2];

	begin_test("ping-pong");
	pingpong_start(&pp, args, "ping-pong", def, def, PINGPONG_ROUNDS / scale_down);
	pingpong_finish(&pp);
}

/* ---- 3. short timeouts ---------------------------------------------------- */

static void test_timeouts(void)
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

/* ---- 4. past deadlines ---------------------------------------------------- */

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

static void test_past_deadlines(void)
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

/* ---- 5. huge deadlines ---------------------------------------------------- */

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

static void test_deadline_after(void)
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

static void test_huge_deadlines(void)
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

/* ---- 6. non-normalised deadlines, NULL deadline -------------------------- */

static void test_odd_deadlines(void)
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

/* ---- 7. timed_out --------------------------------------------------------- */

struct racer {
	pthread_mutex_t *lock;
	tparker_t **queued;
	long delay_ms; /* between unpark_lock and unpark */
	atomic_bool locked, done;
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;

	pthread_mutex_lock(r->lock);
	tparker_t *p = *r->queued;
	*r->queued = NULL;
	tparker_unpark_handle_t h = {NULL, NULL};
	if (p)
		h = tparker_unpark_lock(p);
	pthread_mutex_unlock(r->lock);
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

static void test_timed_out(void)
{
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	tparker_t *queued = NULL;
	tparker_t p;

	begin_test("timed_out");
	init_parker(&p, def);

	/* A real timeout: timed_out says so, the owner takes itself off. */
	for (int i = 0; i < 5; i++) {
		tparker_prepare_park(&p);
		pthread_mutex_lock(&lock);
		queued = &p;
		pthread_mutex_unlock(&lock);
		struct timespec d = tparker_deadline_after((uint64_t)i * NS_PER_MS);
		EXPECT(!tparker_park_until(&p, &d), "real timeout %d: returned true", i);
		pthread_mutex_lock(&lock);
		bool to = tparker_timed_out(&p);
		if (to)
			queued = NULL;
		pthread_mutex_unlock(&lock);
		EXPECT(to, "real timeout %d: timed_out returned false", i);
	}

	/* An unparker reaches the parker between the timeout and the owner's
	 * look under the queue lock: timed_out must say false, and the
	 * parker must come out of it clean. */
	for (int i = 0; i < 20; i++) {
		struct racer r = {.lock = &lock, .queued = &queued, .delay_ms = i % 3};
		atomic_init(&r.locked, false);
		atomic_init(&r.done, false);
		pthread_t t;

		tparker_prepare_park(&p);
		pthread_mutex_lock(&lock);
		queued = &p;
		pthread_mutex_unlock(&lock);
		struct timespec d = tparker_deadline_after((uint64_t)(i % 4) * NS_PER_MS);
		EXPECT(!tparker_park_until(&p, &d), "race %d: returned true before any unpark", i);
		start_thread(&t, racer_main, &r);
		await_flag(&r.locked, "racer's unpark_lock");
		pthread_mutex_lock(&lock);
		bool to = tparker_timed_out(&p);
		bool still_queued = queued == &p;
		if (to)
			queued = NULL;
		pthread_mutex_unlock(&lock);
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
		pthread_mutex_lock(&lock);
		queued = &p;
		pthread_mutex_unlock(&lock);
		struct timespec d2 = tparker_deadline_after(3 * NS_PER_MS);
		bool r2 = tparker_park_until(&p, &d2);
		struct timespec after = now_ts();
		pthread_mutex_lock(&lock);
		bool to2 = tparker_timed_out(&p);
		if (to2)
			queued = NULL;
		pthread_mutex_unlock(&lock);
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

/* ---- 8. queue torture ----------------------------------------------------- */

#define TORTURE_WAITERS 8
#define TORTURE_MS	2500

enum tw_state { TW_RUNNING, TW_PARK, TW_PARK_UNTIL, TW_CHECK, TW_DONE };
static const char *const tw_state_names[] = {"running", "in park()", "in park_until()",
					     "checking timed_out", "done"};

struct torture;

struct tw {
	tparker_t parker;
	struct torture *t;
	unsigned idx;
	pthread_t thread;
	atomic_int state;
	atomic_ulong progress;
	unsigned long observed, timeouts, raced; /* the waiter's, read after join */
	bool queued;				 /* under t->lock */
	unsigned long delivered;		 /* under t->lock */
};

struct torture {
	pthread_mutex_t lock;
	unsigned queue[TORTURE_WAITERS]; /* under lock */
	unsigned len;			 /* under lock */
	struct tw w[TORTURE_WAITERS];
	atomic_bool stop;
	atomic_int exited;
	unsigned long pops;
};

static void torture_remove(struct torture *t, unsigned idx)
{
	for (unsigned i = 0; i < t->len; i++) {
		if (t->queue[i] == idx) {
			t->queue[i] = t->queue[--t->len];
			return;
		}
	}
	thread_fail("torture: waiter %u timed out but is not in the queue", idx);
}

static void *torture_waiter(void *arg)
{
	struct tw *w = arg;
	struct torture *t = w->t;
	uint64_t rng = 0x9E3779B97F4A7C15ULL * (w->idx + 1);

	while (!atomic_load(&t->stop)) {
		bool woken;

		tparker_prepare_park(&w->parker);
		pthread_mutex_lock(&t->lock);
		if (w->queued) {
			pthread_mutex_unlock(&t->lock);
			thread_fail("torture: waiter %u is queued twice", w->idx);
			break;
		}
		w->queued = true;
		t->queue[t->len++] = w->idx;
		pthread_mutex_unlock(&t->lock);

		uint64_t x = rng_next(&rng);
		if (x % 3 == 0) {
			atomic_store(&w->state, TW_PARK);
			tparker_park(&w->parker);
			woken = true;
		} else {
			struct timespec d = tparker_deadline_after((x >> 8) % (2 * NS_PER_MS + 1));
			atomic_store(&w->state, TW_PARK_UNTIL);
			woken = tparker_park_until(&w->parker, &d);
			if (!woken) {
				atomic_store(&w->state, TW_CHECK);
				pthread_mutex_lock(&t->lock);
				if (tparker_timed_out(&w->parker)) {
					torture_remove(t, w->idx);
					w->queued = false;
					w->timeouts++;
				} else {
					woken = true;
					w->raced++;
				}
				pthread_mutex_unlock(&t->lock);
			}
		}
		if (woken) {
			w->observed++;
			pthread_mutex_lock(&t->lock);
			bool queued = w->queued;
			pthread_mutex_unlock(&t->lock);
			if (queued) {
				thread_fail("torture: waiter %u woke while still queued "
					    "(a wakeup nobody sent)",
					    w->idx);
				break;
			}
		}
		atomic_store(&w->state, TW_RUNNING);
		atomic_fetch_add(&w->progress, 1);
	}
	atomic_store(&w->state, TW_DONE);
	atomic_fetch_add(&t->exited, 1);
	return NULL;
}

static void *torture_waker(void *arg)
{
	struct torture *t = arg;
	uint64_t rng = 0xD1B54A32D192ED03ULL;

	/* Runs until every waiter has left: after stop, waiters inside
	 * park() still need their unpark. */
	while (atomic_load(&t->exited) < TORTURE_WAITERS) {
		uint64_t x = rng_next(&rng);
		pthread_mutex_lock(&t->lock);
		if (t->len == 0) {
			pthread_mutex_unlock(&t->lock);
			sched_yield();
			continue;
		}
		unsigned at = (unsigned)(x % t->len);
		struct tw *w = &t->w[t->queue[at]];
		t->queue[at] = t->queue[--t->len];
		w->queued = false;
		w->delivered++;
		t->pops++;
		tparker_unpark_handle_t h = tparker_unpark_lock(&w->parker);
		pthread_mutex_unlock(&t->lock);
		tparker_unpark(h);
		progress();
		/* Pace unevenly so that some parks time out, some race. */
		if ((x >> 40) % 4 == 0)
			sleep_ns((int64_t)((x >> 20) % 300000));
		else
			sched_yield();
	}
	return NULL;
}

static void test_torture(void)
{
	static struct torture t;
	pthread_t waker;

	begin_test("queue torture");
	memset(&t, 0, sizeof(t));
	pthread_mutex_init(&t.lock, NULL);
	atomic_init(&t.stop, false);
	atomic_init(&t.exited, 0);
	for (unsigned i = 0; i < TORTURE_WAITERS; i++) {
		struct tw *w = &t.w[i];
		init_parker(&w->parker, def);
		w->t = &t;
		w->idx = i;
		atomic_init(&w->state, TW_RUNNING);
		atomic_init(&w->progress, 0);
	}
	for (unsigned i = 0; i < TORTURE_WAITERS; i++)
		start_thread(&t.w[i].thread, torture_waiter, &t.w[i]);
	start_thread(&waker, torture_waker, &t);

	/* Watch each waiter: one that makes no progress for hang_ns is stuck
	 * (a lost wakeup) and the run cannot go on. */
	unsigned long last[TORTURE_WAITERS] = {0};
	struct patience waited[TORTURE_WAITERS];
	struct timespec start = now_ts();
	for (unsigned i = 0; i < TORTURE_WAITERS; i++)
		patience_init(&waited[i]);
	while (atomic_load(&t.exited) < TORTURE_WAITERS) {
		sleep_ms(20);
		struct timespec now = now_ts();
		if (!atomic_load(&t.stop) && ts_diff(now, start) >= TORTURE_MS * NS_PER_MS)
			atomic_store(&t.stop, true);
		for (unsigned i = 0; i < TORTURE_WAITERS; i++) {
			unsigned long p = atomic_load(&t.w[i].progress);
			int state = atomic_load(&t.w[i].state);
			if (p != last[i] || state == TW_DONE) {
				last[i] = p;
				patience_init(&waited[i]);
			} else if (patience_waited(&waited[i]) > hang_ns) {
				int queued = -1;
				if (pthread_mutex_trylock(&t.lock) == 0) {
					queued = t.w[i].queued;
					pthread_mutex_unlock(&t.lock);
				}
				hang("torture: waiter %u stuck for %lld s %s (queued: %s) after "
				     "%lu rounds",
				     i, (long long)(hang_ns / NS_PER_S), tw_state_names[state],
				     queued < 0 ? "unknown, queue locked"
				     : queued	? "yes"
						: "no",
				     p);
			}
		}
	}
	for (unsigned i = 0; i < TORTURE_WAITERS; i++)
		join_thread(t.w[i].thread);
	join_thread(waker);
	COLLECT_THREAD_FAILURES();

	unsigned long wakes = 0, timeouts = 0, raced = 0;
	for (unsigned i = 0; i < TORTURE_WAITERS; i++) {
		struct tw *w = &t.w[i];
		EXPECT(w->observed == w->delivered,
		       "torture: waiter %u observed %lu wakeups, %lu unparks were delivered", i,
		       w->observed, w->delivered);
		EXPECT(!w->queued, "torture: waiter %u left queued", i);
		wakes += w->observed;
		timeouts += w->timeouts;
		raced += w->raced;
		tparker_destroy(&w->parker);
	}
	EXPECT(t.len == 0, "torture: %u waiters left in the queue", t.len);
	EXPECT(wakes > 0, "torture: no wakeup at all");
	printf("[%lu wakeups, %lu timeouts, %lu raced] ", wakes, timeouts, raced);
	pthread_mutex_destroy(&t.lock);
}

/* ---- 9. signal storm ------------------------------------------------------ */

#define STORM_MIN_SIGNALS 200
#define STORM_MAX_MS	  5000L

static atomic_ulong signals_seen;

static void on_sigusr1(int sig)
{
	(void)sig;
	atomic_fetch_add_explicit(&signals_seen, 1, memory_order_relaxed);
}

struct storm {
	pthread_t target;
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
	pthread_t t, sender;

	memset(&s, 0, sizeof(s));
	pthread_mutex_init(&s.lock, NULL);
	init_parker(&s.parker, def);
	s.mode = mode;
	s.deadline = deadline;
	atomic_init(&s.published, false);
	atomic_init(&s.released, false);
	atomic_init(&s.returned, false);
	unsigned long seen0 = atomic_load(&signals_seen);
	start_thread(&t, solo_owner, &s);
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

	atomic_store(&s.released, true);
	pthread_mutex_lock(&s.lock);
	tparker_t *p = s.queued;
	s.queued = NULL;
	tparker_unpark_handle_t h = tparker_unpark_lock(p);
	pthread_mutex_unlock(&s.lock);
	tparker_unpark(h);
	await_flag(&s.returned, what);
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
	pthread_mutex_destroy(&s.lock);
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

static void test_signal_storm(void)
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
		pthread_t t, sender;

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

/* ---- 10. init/destroy ----------------------------------------------------- */

static void test_init_destroy(void)
{
	tparker_t p;
	unsigned fails = 0;
	int first_err = 0;

	begin_test("init/destroy");
	for (int i = 0; i < 10000; i++) {
		int err = tparker_init(&p);
		if (err) {
			if (!fails++)
				first_err = err;
			continue;
		}
		if (i % 100 == 0) {
			tparker_prepare_park(&p);
			tparker_unpark(tparker_unpark_lock(&p));
			tparker_park(&p);
		}
		tparker_destroy(&p);
	}
	EXPECT(fails == 0, "tparker_init failed %u of 10000 times, first with %s", fails,
	       strerror(first_err));

	/* Heap parkers, as a program embeds them. */
	for (int i = 0; i < 1000; i++) {
		tparker_t *h = malloc(sizeof(*h));
		CU_ASSERT_FATAL(h != NULL);
		int err = tparker_init(h);
		if (err) {
			EXPECT(false, "tparker_init on malloc'd memory: %s", strerror(err));
			free(h);
			break;
		}
		tparker_destroy(h);
		free(h);
	}

	int err = tparker_init_with(&p, def);
	EXPECT(err == 0, "tparker_init_with(default): %s", strerror(err));
	if (!err) {
		tparker_prepare_park(&p);
		struct timespec d = tparker_deadline_after(NS_PER_MS);
		EXPECT(!tparker_park_until(&p, &d), "init_with(default): park_until returned true");
		tparker_destroy(&p);
	}
	const tparker_backend_t *named = tparker_backend_get(backend_name);
	EXPECT(named != NULL, "tparker_backend_get(\"%s\") failed: %s", backend_name,
	       tparker_backend_error());
	if (named) {
		EXPECT(strcmp(tparker_backend_name(named), backend_name) == 0,
		       "tparker_backend_get(\"%s\") is named \"%s\"", backend_name,
		       tparker_backend_name(named));
		err = tparker_init_with(&p, named);
		EXPECT(err == 0, "tparker_init_with(get(\"%s\")): %s", backend_name, strerror(err));
		if (!err)
			tparker_destroy(&p);
	}
}

static void test_init_with_invalid(void)
{
	/* Looks like a backend, but the library never adopted it. */
	static struct tparker_backend fake;
	tparker_t p;

	begin_test("init_with invalid");
	fake.version = TPARKER_BACKEND_ABI_VERSION;
	fake.size = sizeof(fake);
	fake.name = "fake";
	EXPECT(tparker_init_with(&p, NULL) == EINVAL, "init_with(NULL) did not return EINVAL");
	EXPECT(tparker_init_with(&p, &fake) == EINVAL,
	       "init_with(an unknown backend) did not return EINVAL");
	EXPECT(strcmp(tparker_backend_name(NULL), "(null)") == 0, "backend_name(NULL) is \"%s\"",
	       tparker_backend_name(NULL));
	EXPECT(strcmp(tparker_backend_name(def), backend_name) == 0,
	       "backend_name(default) is \"%s\"", tparker_backend_name(def));
}

static void test_thread_yield(void)
{
	begin_test("thread_yield");
	for (int i = 0; i < 1000; i++)
		tparker_thread_yield();
	CU_PASS("tparker_thread_yield() returns");
}

/* ---- 11. lifetime --------------------------------------------------------- */

enum life_mode { LIFE_PARK, LIFE_UNTIL, LIFE_LOCK_FIRST };
static const char *const life_mode_names[] = {"park", "park_until", "unpark_lock first"};

struct life {
	pthread_mutex_t lock;
	tparker_t *queued; /* under lock */
	enum life_mode mode;
	atomic_bool published, locked, freed;
	bool woken; /* the owner's, read after join: false after a real timeout */
};

#define LIFE_UNTIL_MS 60

static void *life_owner(void *arg)
{
	struct life *l = arg;
	tparker_t *p = malloc(sizeof(*p));

	if (!p || tparker_init(p)) {
		thread_fail("lifetime: no parker");
		free(p);
		atomic_store(&l->published, true);
		atomic_store(&l->freed, true);
		return NULL;
	}
	tparker_prepare_park(p);
	pthread_mutex_lock(&l->lock);
	l->queued = p;
	pthread_mutex_unlock(&l->lock);
	atomic_store(&l->published, true);
	switch (l->mode) {
	case LIFE_PARK:
		tparker_park(p);
		l->woken = true;
		break;
	case LIFE_UNTIL: {
		struct timespec d = tparker_deadline_after(LIFE_UNTIL_MS * NS_PER_MS);
		l->woken = tparker_park_until(p, &d);
		if (!l->woken) {
			pthread_mutex_lock(&l->lock);
			if (tparker_timed_out(p))
				l->queued = NULL;
			else
				l->woken = true;
			pthread_mutex_unlock(&l->lock);
		}
		break;
	}
	case LIFE_LOCK_FIRST:
		await_flag(&l->locked, "lifetime: the waker's unpark_lock");
		tparker_park(p);
		l->woken = true;
		break;
	}
	/* Gone at once: unpark must not need this memory any more. */
	tparker_destroy(p);
	memset(p, 0xA5, sizeof(*p));
	free(p);
	atomic_store(&l->freed, true);
	return NULL;
}

static void test_lifetime(void)
{
	unsigned freed_first[3] = {0}, rounds[3] = {0};

	begin_test("lifetime");
	for (int i = 0; i < 9; i++) {
		struct life l;
		pthread_t t;

		memset(&l, 0, sizeof(l));
		pthread_mutex_init(&l.lock, NULL);
		l.mode = (enum life_mode)(i % 3);
		atomic_init(&l.published, false);
		atomic_init(&l.locked, false);
		atomic_init(&l.freed, false);
		start_thread(&t, life_owner, &l);
		await_flag(&l.published, "lifetime: owner publishing its parker");
		if (l.mode != LIFE_LOCK_FIRST)
			sleep_ms(20); /* let the owner fall asleep */

		pthread_mutex_lock(&l.lock);
		tparker_t *p = l.queued;
		l.queued = NULL;
		tparker_unpark_handle_t h = {NULL, NULL};
		if (p)
			h = tparker_unpark_lock(p);
		pthread_mutex_unlock(&l.lock);
		atomic_store(&l.locked, true);
		if (p) {
			/* A backend that holds the owner back until unpark
			 * (pthread) never gets there: go on after a while. */
			long wait_ms = 200 + (l.mode == LIFE_UNTIL ? LIFE_UNTIL_MS : 0);
			if (flag_within(&l.freed, wait_ms))
				freed_first[l.mode]++;
			tparker_unpark(h);
			rounds[l.mode]++;
		}
		await_flag(&l.freed, "lifetime: owner returning and freeing its parker");
		join_thread(t);
		/* Only a waker that came after the owner's deadline (a busy
		 * machine) finds the queue empty: then it was a real timeout. */
		EXPECT(l.woken == (p != NULL),
		       "lifetime (%s): the owner %s, but the waker %s the parker",
		       life_mode_names[l.mode], l.woken ? "was woken" : "timed out",
		       p ? "unparked" : "did not find");
		pthread_mutex_destroy(&l.lock);
	}
	COLLECT_THREAD_FAILURES();
	printf("[freed before unpark: ");
	for (int m = 0; m < 3; m++)
		printf("%s%s %u/%u", m ? ", " : "", life_mode_names[m], freed_first[m], rounds[m]);
	printf("] ");
}

/* ---- 12. backends side by side ------------------------------------------- */

static void test_side_by_side(void)
{
	const tparker_backend_t *other = NULL;

	begin_test("side by side");
	const tparker_backend_t *spin = tparker_backend_get("spin");
	EXPECT(spin != NULL, "tparker_backend_get(\"spin\") failed: %s", tparker_backend_error());
	if (spin)
		EXPECT(strcmp(tparker_backend_name(spin), "spin") == 0,
		       "get(\"spin\") is named \"%s\"", tparker_backend_name(spin));
	if (strcmp(backend_name, "spin") != 0) {
		other = spin;
	} else {
		static const char *const names[] = {"futex", "futex2", "pthread"};
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !other; i++) {
			other = tparker_backend_get(names[i]);
			if (other)
				EXPECT(strcmp(tparker_backend_name(other), names[i]) == 0,
				       "get(\"%s\") is named \"%s\"", names[i],
				       tparker_backend_name(other));
		}
	}
	if (!other)
		other = def; /* a spin run with no plugin usable here */
	printf("[%s beside %s] ", backend_name, tparker_backend_name(other));

	tparker_t a, b;
	init_parker(&a, def);
	init_parker(&b, other);
	EXPECT(strcmp(tparker_backend_name(def), backend_name) == 0, "default is \"%s\"",
	       tparker_backend_name(def));
	/* Each parker dispatches to its own backend: waking one leaves the
	 * other parked. */
	tparker_prepare_park(&a);
	tparker_prepare_park(&b);
	tparker_unpark(tparker_unpark_lock(&b));
	struct timespec d = tparker_deadline_after(2 * NS_PER_MS);
	EXPECT(!tparker_park_until(&a, &d), "default parker woken by the other's unpark");
	d = tparker_deadline_after(5 * NS_PER_S);
	EXPECT(tparker_park_until(&b, &d), "other parker not woken by its unpark");
	tparker_unpark(tparker_unpark_lock(&a));
	d = tparker_deadline_after(5 * NS_PER_S);
	EXPECT(tparker_park_until(&a, &d), "default parker not woken by its unpark");
	tparker_destroy(&a);
	tparker_destroy(&b);

	/* Three exchanges at once: each backend alone, and one across both. */
	static struct pingpong pp[3];
	static struct pp_arg args[3][2];
	unsigned long rounds = 20000 / scale_down;
	pingpong_start(&pp[0], args[0], "default", def, def, rounds);
	pingpong_start(&pp[1], args[1], "other", other, other, rounds);
	pingpong_start(&pp[2], args[2], "default <-> other", def, other, rounds);
	for (int i = 0; i < 3; i++)
		pingpong_finish(&pp[i]);
}

/* ---- 13. memory ordering -------------------------------------------------- */

#define PAYLOAD_WORDS 16

struct ordering {
	tparker_t parker;
	_Atomic(tparker_t *) slot;
	unsigned long rounds;
	/* Plain memory: only the parker's release/acquire orders it. */
	uint64_t payload[PAYLOAD_WORDS];
	unsigned long bad, lost;
	atomic_bool stop;
};

static void *ordering_waker(void *arg)
{
	struct ordering *o = arg;

	for (unsigned long i = 0; i < o->rounds; i++) {
		tparker_t *p;
		unsigned spins = 0;
		while (!(p = atomic_exchange_explicit(&o->slot, NULL, memory_order_acquire))) {
			if (atomic_load(&o->stop))
				return NULL;
			if (++spins > 64)
				sched_yield();
		}
		for (int w = 0; w < PAYLOAD_WORDS; w++)
			o->payload[w] = (uint64_t)i * PAYLOAD_WORDS + (uint64_t)w;
		tparker_unpark(tparker_unpark_lock(p));
	}
	return NULL;
}

static void test_memory_ordering(void)
{
	static struct ordering o;
	pthread_t t;

	begin_test("memory ordering");
	memset(&o, 0, sizeof(o));
	init_parker(&o.parker, def);
	atomic_init(&o.slot, NULL);
	atomic_init(&o.stop, false);
	o.rounds = 20000 / scale_down;
	start_thread(&t, ordering_waker, &o);
	for (unsigned long i = 0; i < o.rounds; i++) {
		tparker_prepare_park(&o.parker);
		atomic_store_explicit(&o.slot, &o.parker, memory_order_release);
		struct timespec d = tparker_deadline_after((uint64_t)long_park_ns);
		if (!tparker_park_until(&o.parker, &d)) {
			o.lost++;
			break;
		}
		for (int w = 0; w < PAYLOAD_WORDS; w++)
			if (o.payload[w] != (uint64_t)i * PAYLOAD_WORDS + (uint64_t)w)
				o.bad++;
		if ((i & 1023) == 0)
			progress();
	}
	atomic_store(&o.stop, true);
	join_thread(t);
	EXPECT(o.lost == 0, "memory ordering: a park was not woken in time (lost wakeup)");
	EXPECT(o.bad == 0, "memory ordering: %lu payload words read stale after park returned",
	       o.bad);
	tparker_destroy(&o.parker);
}

/* ---- 14. relocking between the phases ------------------------------------ */

/*
 * Nothing is held between tparker_unpark_lock and tparker_unpark, so a
 * waker may take its queue lock again in between (to look for more waiters,
 * say) while a timed-out owner calls tparker_timed_out under that lock. The
 * owner's parker is its own, freed as soon as it knows it was woken, before
 * the waker's unpark.
 */
enum relock_mode {
	/* The owner has timed out; the waker pops it, then waits until the
	 * owner holds the queue lock for timed_out before locking it again. */
	RELOCK_OWNER_HOLDS,
	/* The same, but the waker holds the queue lock again when the owner
	 * asks for it. */
	RELOCK_WAKER_HOLDS,
	/* The waker pops the owner while it sleeps, then holds the queue lock
	 * again across the owner's deadline. */
	RELOCK_ASLEEP,
	/* No handshake: random delays on both sides. */
	RELOCK_RACE,
	RELOCK_MODES
};
static const char *const relock_mode_names[] = {
    "the owner holds the queue lock for timed_out while the waker is between the phases",
    "the waker holds the queue lock again while the owner asks for it for timed_out",
    "the waker pops the sleeping owner and holds the queue lock across its deadline",
    "owner and waker race with random delays",
};

enum relock_owner_stage {
	RO_PARKING,
	RO_AWAIT_POP,
	RO_AWAIT_WAKER_LOCK,
	RO_LOCKING,
	RO_TIMED_OUT,
	RO_DONE
};
static const char *const relock_owner_stages[] = {"in park_until",
						  "waiting for the waker's pop",
						  "waiting for the waker to hold the queue lock",
						  "taking the queue lock",
						  "in timed_out, holding the queue lock",
						  "done"};
enum relock_waker_stage {
	RW_START,
	RW_POPPING,
	RW_AWAIT_OWNER_LOCK,
	RW_RELOCKING,
	RW_UNPARK,
	RW_DONE
};
static const char *const relock_waker_stages[] = {
    "waiting to start",
    "popping (unpark_lock under the queue lock)",
    "between the phases, waiting for the owner to hold the queue lock",
    "between the phases, taking the queue lock again",
    "in unpark",
    "done"};

#define RELOCK_ROUNDS 400

struct relock {
	pthread_mutex_t lock;
	tparker_t *queued; /* under lock */
	enum relock_mode mode;
	uint64_t rng; /* the owner's */
	uint64_t waker_rng;
	int64_t deadline_ns;
	struct timespec deadline;
	atomic_bool published, returned, popped, owner_locked, waker_locked;
	atomic_int owner_stage, waker_stage;
	bool woken, found, returned_true; /* read after the flags below */
	atomic_bool owner_done, waker_done;
};

/* A short random pause: none, a yield or up to 200 us. */
static void relock_pause(uint64_t *rng)
{
	uint64_t x = rng_next(rng);

	switch (x % 4) {
	case 0:
		break;
	case 1:
		sched_yield();
		break;
	default:
		sleep_ns((int64_t)((x >> 8) % 200000));
		break;
	}
}

static void *relock_owner(void *arg)
{
	struct relock *r = arg;
	tparker_t *p = malloc(sizeof(*p));

	if (!p || tparker_init(p)) {
		thread_fail("relock: no parker");
		exit(1);
	}
	tparker_prepare_park(p);
	pthread_mutex_lock(&r->lock);
	r->queued = p;
	pthread_mutex_unlock(&r->lock);
	r->deadline = tparker_deadline_after((uint64_t)r->deadline_ns);
	atomic_store(&r->published, true);
	r->returned_true = tparker_park_until(p, &r->deadline);
	atomic_store(&r->returned, true);
	r->woken = r->returned_true;
	if (!r->woken) {
		if (r->mode == RELOCK_OWNER_HOLDS) {
			atomic_store(&r->owner_stage, RO_AWAIT_POP);
			await_flag(&r->popped, "relock: the waker's pop");
		} else if (r->mode == RELOCK_WAKER_HOLDS) {
			atomic_store(&r->owner_stage, RO_AWAIT_WAKER_LOCK);
			await_flag(&r->waker_locked,
				   "relock: the waker taking the queue lock again");
		}
		atomic_store(&r->owner_stage, RO_LOCKING);
		pthread_mutex_lock(&r->lock);
		atomic_store(&r->owner_stage, RO_TIMED_OUT);
		atomic_store(&r->owner_locked, true);
		if (r->mode == RELOCK_OWNER_HOLDS)
			relock_pause(&r->rng); /* let the waker block on the lock */
		bool to = tparker_timed_out(p);
		if (to)
			r->queued = NULL;
		pthread_mutex_unlock(&r->lock);
		r->woken = !to;
	}
	/* Woken or not, gone at once: the waker's unpark may still come. */
	tparker_destroy(p);
	memset(p, 0x5A, sizeof(*p));
	free(p);
	atomic_store(&r->owner_stage, RO_DONE);
	atomic_store(&r->owner_done, true);
	return NULL;
}

static void *relock_waker(void *arg)
{
	struct relock *r = arg;
	tparker_unpark_handle_t h = {NULL, NULL};

	switch (r->mode) {
	case RELOCK_OWNER_HOLDS:
	case RELOCK_WAKER_HOLDS:
		await_flag(&r->returned, "relock: the owner's timeout");
		break;
	case RELOCK_ASLEEP:
		await_flag(&r->published, "relock: the owner publishing its parker");
		sleep_ns(r->deadline_ns / 3); /* most likely asleep by now */
		break;
	case RELOCK_RACE:
		await_flag(&r->published, "relock: the owner publishing its parker");
		sleep_ns((int64_t)(rng_next(&r->waker_rng) % (uint64_t)(2 * r->deadline_ns + 1)));
		break;
	default:
		break;
	}
	atomic_store(&r->waker_stage, RW_POPPING);
	pthread_mutex_lock(&r->lock);
	tparker_t *p = r->queued;
	r->queued = NULL;
	if (p)
		h = tparker_unpark_lock(p);
	pthread_mutex_unlock(&r->lock);
	r->found = p != NULL;
	atomic_store(&r->popped, true);

	/* Between the phases: the queue lock again. */
	switch (r->mode) {
	case RELOCK_OWNER_HOLDS:
		atomic_store(&r->waker_stage, RW_AWAIT_OWNER_LOCK);
		await_flag(&r->owner_locked, "relock: the owner taking the queue lock");
		atomic_store(&r->waker_stage, RW_RELOCKING);
		pthread_mutex_lock(&r->lock);
		pthread_mutex_unlock(&r->lock);
		break;
	case RELOCK_WAKER_HOLDS:
		atomic_store(&r->waker_stage, RW_RELOCKING);
		pthread_mutex_lock(&r->lock);
		atomic_store(&r->waker_locked, true);
		relock_pause(&r->waker_rng); /* the owner blocks on the lock */
		pthread_mutex_unlock(&r->lock);
		break;
	case RELOCK_ASLEEP: {
		atomic_store(&r->waker_stage, RW_RELOCKING);
		pthread_mutex_lock(&r->lock);
		/* Until past the owner's deadline, and a little. */
		struct timespec until = ts_add(r->deadline, 200000);
		while (ts_before(now_ts(), until))
			sleep_ns(ts_diff(until, now_ts()));
		pthread_mutex_unlock(&r->lock);
		break;
	}
	default:
		relock_pause(&r->waker_rng);
		atomic_store(&r->waker_stage, RW_RELOCKING);
		pthread_mutex_lock(&r->lock);
		relock_pause(&r->waker_rng);
		pthread_mutex_unlock(&r->lock);
		break;
	}
	relock_pause(&r->waker_rng);
	atomic_store(&r->waker_stage, RW_UNPARK);
	tparker_unpark(h);
	atomic_store(&r->waker_stage, RW_DONE);
	atomic_store(&r->waker_done, true);
	return NULL;
}

/* Both sides done, or the run ends naming where each one is stuck. */
static void relock_await(struct relock *r, int round)
{
	struct patience waited;

	patience_init(&waited);
	while (!atomic_load(&r->owner_done) || !atomic_load(&r->waker_done)) {
		if (patience_waited(&waited) > hang_ns)
			hang("relock round %d (%s): not done after %lld s, a deadlock between "
			     "unpark_lock and unpark? The owner is %s; the waker is %s",
			     round, relock_mode_names[r->mode], (long long)(hang_ns / NS_PER_S),
			     relock_owner_stages[atomic_load(&r->owner_stage)],
			     relock_waker_stages[atomic_load(&r->waker_stage)]);
		sleep_ns(20000);
	}
	progress();
}

static void test_relock(void)
{
	unsigned rounds = RELOCK_ROUNDS / scale_down, woken[RELOCK_MODES] = {0},
		 timed_out[RELOCK_MODES] = {0}, by_timed_out[RELOCK_MODES] = {0};

	begin_test("relock between the phases");
	if (rounds < 2 * RELOCK_MODES)
		rounds = 2 * RELOCK_MODES;
	for (unsigned i = 0; i < rounds; i++) {
		static struct relock r;
		pthread_t owner, waker;

		memset(&r, 0, sizeof(r));
		pthread_mutex_init(&r.lock, NULL);
		r.mode = (enum relock_mode)(i % RELOCK_MODES);
		r.rng = 0x9E3779B97F4A7C15ULL * (i + 1);
		r.waker_rng = 0xD1B54A32D192ED03ULL * (i + 1);
		switch (r.mode) {
		case RELOCK_ASLEEP:
			r.deadline_ns = (int64_t)(3 + (i / RELOCK_MODES) % 3 * 3) * NS_PER_MS;
			break;
		case RELOCK_RACE:
			r.deadline_ns = (int64_t)(rng_next(&r.rng) % (2 * NS_PER_MS));
			break;
		default:
			/* 0: a past deadline; else a real sleep that times out. */
			r.deadline_ns = (int64_t)((i / RELOCK_MODES) % 3) * NS_PER_MS;
			break;
		}
		atomic_store(&r.owner_stage, RO_PARKING);
		atomic_store(&r.waker_stage, RW_START);
		start_thread(&owner, relock_owner, &r);
		start_thread(&waker, relock_waker, &r);
		relock_await(&r, (int)i);
		join_thread(owner);
		join_thread(waker);
		pthread_mutex_destroy(&r.lock);
		if (r.mode <= RELOCK_WAKER_HOLDS)
			EXPECT(!r.returned_true && r.found,
			       "relock round %u (%s): park_until returned %s, the waker %s the "
			       "parker",
			       i, relock_mode_names[r.mode], r.returned_true ? "true" : "false",
			       r.found ? "found" : "did not find");
		/* Woken exactly when the waker found the parker. */
		EXPECT(r.woken == r.found,
		       "relock round %u (%s): the owner %s, but the waker %s the parker", i,
		       relock_mode_names[r.mode], r.woken ? "was woken" : "timed out",
		       r.found ? "unparked" : "did not find");
		if (r.woken && !r.returned_true)
			by_timed_out[r.mode]++;
		if (r.woken)
			woken[r.mode]++;
		else
			timed_out[r.mode]++;
		COLLECT_THREAD_FAILURES();
	}
	printf("[%u rounds; woken (of which told by timed_out) / timed out:", rounds);
	for (int m = 0; m < RELOCK_MODES; m++)
		printf(" %u (%u) / %u", woken[m], by_timed_out[m], timed_out[m]);
	printf("] ");
}

/* ---- main ----------------------------------------------------------------- */

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s <backend>\n", argv[0]);
		return 2;
	}
	backend_name = argv[1];
	def = tparker_default_backend();
	if (strcmp(tparker_backend_name(def), backend_name) != 0) {
		const tparker_backend_t *b = tparker_backend_get(backend_name);
		printf("SKIP: backend %s is not usable here (%s); the default is %s (%s)\n",
		       backend_name,
		       b ? "but tparker_backend_get() finds it" : tparker_backend_error(),
		       tparker_backend_name(def), tparker_default_reason());
		return 77;
	}
	printf("conformance of backend %s (%s)\n", backend_name, tparker_default_reason());
	const char *vg = getenv("TPARKER_UNDER_VALGRIND");
	if (vg && *vg && strcmp(vg, "0") != 0) {
		scale_down = 20;
		hang_ns *= 3;
		long_park_ns *= 3;
		watchdog_ns *= 3;
	}

	pthread_t wd;
	start_thread(&wd, watchdog_main, NULL);
	pthread_detach(wd);

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	static char suite_name[64];
	snprintf(suite_name, sizeof(suite_name), "conformance-%s", backend_name);
	CU_pSuite s =
	    CU_add_suite_with_setup_and_teardown(suite_name, NULL, NULL, test_setup, test_teardown);
	if (!s)
		return 1;
	static const struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
	    {"unpark before park", test_unpark_before_park},
	    {"ping-pong, 100000 round trips", test_pingpong},
	    {"short timeouts are never early", test_timeouts},
	    {"past deadlines return at once", test_past_deadlines},
	    {"deadline_after saturates", test_deadline_after},
	    {"huge deadlines do not wrap", test_huge_deadlines},
	    {"non-normalised and NULL deadlines", test_odd_deadlines},
	    {"timed_out: real timeout and racing unpark", test_timed_out},
	    {"queue torture", test_torture},
	    {"signal storm", test_signal_storm},
	    {"init/destroy cycles, init_with", test_init_destroy},
	    {"init_with invalid backends", test_init_with_invalid},
	    {"thread_yield", test_thread_yield},
	    {"parker freed before unpark", test_lifetime},
	    {"backends side by side", test_side_by_side},
	    {"memory ordering through unpark", test_memory_ordering},
	    {"relock between unpark_lock and unpark", test_relock},
	};
	/* TPTEST_ONLY=<part of a test's name> runs just the matching tests. */
	const char *only = getenv("TPTEST_ONLY");
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		if (only && *only && !strstr(tests[i].name, only))
			continue;
		if (!CU_add_test(s, tests[i].name, tests[i].fn))
			return 1;
	}

	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_ErrorCode err = CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	if (err != CUE_SUCCESS)
		fprintf(stderr, "CUnit error: %s\n", CU_get_error_msg());
	return failed || err != CUE_SUCCESS ? 1 : 0;
}
