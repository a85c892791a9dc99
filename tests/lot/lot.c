/* SPDX-License-Identifier: MIT */
/*
 * The parking lot, tparker_wait/wake and the mutex and condition variable of
 * <tparker/sync.h>, against one backend.
 *
 * Usage: test-lot <backend>. Meson runs it once per backend with
 * TPARKER_BACKEND=<backend>,spin; when the library chose another backend the
 * run is skipped (exit 77). CUnit is not thread-safe: other threads record
 * failures in counters that the test's thread checks after joining them.
 * A lost wakeup is a hang: alarm() ends the process.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include <tparker/lot.h>
#include <tparker/sync.h>
#include <tparker/tparker.h>

#define NS_PER_MS 1000000LL
#define NS_PER_S  1000000000LL

static atomic_int thread_failures;
#define THREAD_CHECK(c)                                                                            \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "%s:%d: thread check failed: %s\n", __FILE__, __LINE__,    \
				#c);                                                               \
			atomic_fetch_add(&thread_failures, 1);                                     \
		}                                                                                  \
	} while (0)

static int64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * NS_PER_S + t.tv_nsec;
}

static struct timespec after_ns(int64_t ns)
{
	int64_t t = now_ns() + ns;
	struct timespec d = {(time_t)(t / NS_PER_S), (long)(t % NS_PER_S)};
	return d;
}

static void sleep_ms(int ms)
{
	struct timespec d = {ms / 1000, (long)(ms % 1000) * NS_PER_MS};
	nanosleep(&d, NULL);
}

static pthread_t start(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	if (pthread_create(&t, NULL, fn, arg) != 0) {
		perror("pthread_create");
		exit(1);
	}
	return t;
}

/* ---- counting the threads on a key without waking them ------------------------- */

struct census {
	size_t n;
	uintptr_t tokens[64];
};

static enum tparker_filter_op census_filter(void *ctx, uintptr_t park_token)
{
	struct census *c = ctx;
	if (c->n < 64)
		c->tokens[c->n] = park_token;
	c->n++;
	return TPARKER_FILTER_SKIP;
}

static size_t parked_on(uintptr_t key, struct census *out)
{
	struct census c = {0};
	tparker_unpark_result_t r = tparker_lot_unpark_filter(key, census_filter, NULL, &c);
	CU_ASSERT_EQUAL(r.unparked_threads, 0);
	if (out)
		*out = c;
	return c.n;
}

/* Wait (bounded) until n threads are parked on key. */
static bool wait_parked(uintptr_t key, size_t n)
{
	for (int i = 0; i < 20000; i++) {
		if (parked_on(key, NULL) == n)
			return true;
		sleep_ms(1);
	}
	return false;
}

/* ---- a parking thread ----------------------------------------------------------- */

struct parker_arg {
	uintptr_t key;
	uintptr_t park_token;
	int64_t timeout_ns; /* 0: none */
	tparker_park_result_t result;
	atomic_int validate_calls, before_sleep_calls, timed_out_calls;
	uintptr_t timed_out_key;
	bool was_last;
	pthread_t thread;
};

static bool arg_validate(void *ctx)
{
	struct parker_arg *a = ctx;
	atomic_fetch_add(&a->validate_calls, 1);
	return true;
}

static void arg_before_sleep(void *ctx)
{
	struct parker_arg *a = ctx;
	atomic_fetch_add(&a->before_sleep_calls, 1);
}

static void arg_timed_out(void *ctx, uintptr_t key, bool was_last)
{
	struct parker_arg *a = ctx;
	a->timed_out_key = key;
	a->was_last = was_last;
	atomic_fetch_add(&a->timed_out_calls, 1);
}

static void *parker_main(void *p)
{
	struct parker_arg *a = p;
	struct timespec d;
	if (a->timeout_ns)
		d = after_ns(a->timeout_ns);
	a->result = tparker_lot_park(a->key, arg_validate, arg_before_sleep, arg_timed_out, a,
				     a->park_token, a->timeout_ns ? &d : NULL);
	return NULL;
}

/* Park n threads on key, one after the other (queue order = index). */
static void park_n(struct parker_arg *a, size_t n, uintptr_t key, int64_t timeout_ns)
{
	size_t before = parked_on(key, NULL);
	for (size_t i = 0; i < n; i++) {
		memset(&a[i], 0, sizeof(a[i]));
		a[i].key = key;
		a[i].park_token = 100 + i;
		a[i].timeout_ns = timeout_ns;
		a[i].thread = start(parker_main, &a[i]);
		CU_ASSERT_FATAL(wait_parked(key, before + i + 1));
	}
}

static void join_n(struct parker_arg *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pthread_join(a[i].thread, NULL);
	CU_ASSERT_EQUAL(atomic_exchange(&thread_failures, 0), 0);
}

static char keys[16];
#define KEY(i) ((uintptr_t)&keys[i])

/* ---- park ------------------------------------------------------------------------ */

static int invalid_before_sleep, invalid_timed_out;
static bool false_validate(void *ctx)
{
	(*(int *)ctx)++;
	return false;
}
static void count_before_sleep(void *ctx)
{
	(void)ctx;
	invalid_before_sleep++;
}
static void count_timed_out(void *ctx, uintptr_t key, bool last)
{
	(void)ctx;
	(void)key;
	(void)last;
	invalid_timed_out++;
}

static void test_park_invalid(void)
{
	int calls = 0;
	struct timespec d = after_ns(10 * NS_PER_S);
	tparker_park_result_t r = tparker_lot_park(KEY(0), false_validate, count_before_sleep,
						   count_timed_out, &calls, 5, &d);
	CU_ASSERT_EQUAL(r.status, TPARKER_PARK_INVALID);
	CU_ASSERT_EQUAL(calls, 1);
	CU_ASSERT_EQUAL(invalid_before_sleep, 0);
	CU_ASSERT_EQUAL(invalid_timed_out, 0);
	CU_ASSERT_EQUAL(parked_on(KEY(0), NULL), 0);
}

static void test_park_timeout(void)
{
	struct parker_arg a = {0};
	a.key = KEY(1);
	a.timeout_ns = 30 * NS_PER_MS;
	int64_t t0 = now_ns();
	parker_main(&a);
	int64_t took = now_ns() - t0;
	CU_ASSERT_EQUAL(a.result.status, TPARKER_PARK_TIMED_OUT);
	CU_ASSERT(took >= 30 * NS_PER_MS); /* never early */
	CU_ASSERT(took < 10 * NS_PER_S);   /* units, not speed */
	CU_ASSERT_EQUAL(a.validate_calls, 1);
	CU_ASSERT_EQUAL(a.before_sleep_calls, 1);
	CU_ASSERT_EQUAL(a.timed_out_calls, 1);
	CU_ASSERT_EQUAL(a.timed_out_key, KEY(1));
	CU_ASSERT(a.was_last);
	CU_ASSERT_EQUAL(parked_on(KEY(1), NULL), 0);

	/* A past deadline queues, then times out at once. */
	struct timespec past = {0, 0};
	a.timed_out_calls = 0;
	tparker_park_result_t r = tparker_lot_park(KEY(1), NULL, NULL, arg_timed_out, &a, 0, &past);
	CU_ASSERT_EQUAL(r.status, TPARKER_PARK_TIMED_OUT);
	CU_ASSERT_EQUAL(a.timed_out_calls, 1);
}

static void test_timeout_not_last(void)
{
	struct parker_arg a[2];
	park_n(a, 1, KEY(2), 0);
	/* Not park_n: the timed parker may come and go before this thread
	 * sees it queued (a slow or emulated machine); a[0] is queued already,
	 * which is all the test needs. */
	memset(&a[1], 0, sizeof(a[1]));
	a[1].key = KEY(2);
	a[1].park_token = 101;
	a[1].timeout_ns = 20 * NS_PER_MS;
	a[1].thread = start(parker_main, &a[1]);
	pthread_join(a[1].thread, NULL);
	CU_ASSERT_EQUAL(a[1].result.status, TPARKER_PARK_TIMED_OUT);
	CU_ASSERT_EQUAL(a[1].timed_out_calls, 1);
	CU_ASSERT(!a[1].was_last);
	CU_ASSERT_EQUAL(tparker_lot_unpark_all(KEY(2), 9), 1);
	pthread_join(a[0].thread, NULL);
	CU_ASSERT_EQUAL(a[0].result.status, TPARKER_PARK_UNPARKED);
	CU_ASSERT_EQUAL(a[0].result.unpark_token, 9);
	CU_ASSERT_EQUAL(a[0].timed_out_calls, 0);
}

/* ---- unpark_one --------------------------------------------------------------------- */

struct one_ctx {
	int calls;
	tparker_unpark_result_t seen;
	uintptr_t token;
};

static uintptr_t one_callback(void *ctx, tparker_unpark_result_t r)
{
	struct one_ctx *c = ctx;
	c->calls++;
	c->seen = r;
	return c->token++;
}

static void test_unpark_one_empty(void)
{
	struct one_ctx c = {0, {9, 9, true, true}, 1};
	tparker_unpark_result_t r = tparker_lot_unpark_one(KEY(3), one_callback, &c);
	CU_ASSERT_EQUAL(c.calls, 1);
	CU_ASSERT_EQUAL(c.seen.unparked_threads, 0);
	CU_ASSERT_EQUAL(c.seen.requeued_threads, 0);
	CU_ASSERT(!c.seen.have_more_threads);
	CU_ASSERT(!c.seen.be_fair);
	CU_ASSERT_EQUAL(r.unparked_threads, 0);
	CU_ASSERT(!r.have_more_threads);
}

/* FIFO order, tokens both ways, have_more_threads. */
static void test_unpark_one_fifo(void)
{
	struct parker_arg a[3];
	park_n(a, 3, KEY(4), 0);
	struct census cs;
	CU_ASSERT_EQUAL(parked_on(KEY(4), &cs), 3);
	for (size_t i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(cs.tokens[i], 100 + i);
	struct one_ctx c = {0, {0}, 500};
	for (size_t i = 0; i < 3; i++) {
		tparker_unpark_result_t r = tparker_lot_unpark_one(KEY(4), one_callback, &c);
		CU_ASSERT_EQUAL(r.unparked_threads, 1);
		CU_ASSERT_EQUAL(r.have_more_threads, i < 2);
		CU_ASSERT_EQUAL(c.seen.have_more_threads, r.have_more_threads);
		CU_ASSERT_EQUAL(c.seen.be_fair, r.be_fair);
		pthread_join(a[i].thread, NULL);
		CU_ASSERT_EQUAL(a[i].result.status, TPARKER_PARK_UNPARKED);
		CU_ASSERT_EQUAL(a[i].result.unpark_token, 500 + i);
	}
	CU_ASSERT_EQUAL(c.calls, 3);
}

/* Another key in the same queue does not count as a thread of this key. */
static void test_unpark_one_other_key(void)
{
	struct parker_arg a[2];
	park_n(a, 1, KEY(5), 0);
	park_n(a + 1, 1, KEY(6), 0);
	tparker_unpark_result_t r = tparker_lot_unpark_one(KEY(5), NULL, NULL);
	CU_ASSERT_EQUAL(r.unparked_threads, 1);
	CU_ASSERT(!r.have_more_threads);
	pthread_join(a[0].thread, NULL);
	CU_ASSERT_EQUAL(parked_on(KEY(6), NULL), 1);
	CU_ASSERT_EQUAL(tparker_lot_unpark_all(KEY(6), 0), 1);
	pthread_join(a[1].thread, NULL);
}

static void test_unpark_all(void)
{
	struct parker_arg a[5];
	park_n(a, 5, KEY(7), 0);
	CU_ASSERT_EQUAL(tparker_lot_unpark_all(KEY(7), 77), 5);
	join_n(a, 5);
	for (size_t i = 0; i < 5; i++) {
		CU_ASSERT_EQUAL(a[i].result.status, TPARKER_PARK_UNPARKED);
		CU_ASSERT_EQUAL(a[i].result.unpark_token, 77);
	}
	CU_ASSERT_EQUAL(tparker_lot_unpark_all(KEY(7), 77), 0);
}

/* ---- requeue ------------------------------------------------------------------------ */

struct rq_ctx {
	enum tparker_requeue_op op;
	int validate_calls, callback_calls;
	enum tparker_requeue_op seen_op;
	tparker_unpark_result_t seen;
};

static enum tparker_requeue_op rq_validate(void *ctx)
{
	struct rq_ctx *c = ctx;
	c->validate_calls++;
	return c->op;
}

static uintptr_t rq_callback(void *ctx, enum tparker_requeue_op op, tparker_unpark_result_t r)
{
	struct rq_ctx *c = ctx;
	c->callback_calls++;
	c->seen_op = op;
	c->seen = r;
	return 4242;
}

static void requeue_case(enum tparker_requeue_op op, size_t unparked, size_t requeued, bool more,
			 size_t left_from)
{
	struct parker_arg a[3];
	park_n(a, 3, KEY(8), 0);
	struct rq_ctx c = {op, 0, 0, 0, {0}};
	tparker_unpark_result_t r =
	    tparker_lot_unpark_requeue(KEY(8), KEY(9), rq_validate, rq_callback, &c);
	CU_ASSERT_EQUAL(c.validate_calls, 1);
	CU_ASSERT_EQUAL(r.unparked_threads, unparked);
	CU_ASSERT_EQUAL(r.requeued_threads, requeued);
	CU_ASSERT_EQUAL(r.have_more_threads, more);
	CU_ASSERT_EQUAL(parked_on(KEY(8), NULL), left_from);
	CU_ASSERT_EQUAL(parked_on(KEY(9), NULL), requeued);
	if (op == TPARKER_REQUEUE_ABORT) {
		CU_ASSERT_EQUAL(c.callback_calls, 0);
	} else {
		CU_ASSERT_EQUAL(c.callback_calls, 1);
		CU_ASSERT_EQUAL(c.seen_op, op);
		CU_ASSERT_EQUAL(c.seen.unparked_threads, r.unparked_threads);
		CU_ASSERT_EQUAL(c.seen.requeued_threads, r.requeued_threads);
		CU_ASSERT_EQUAL(c.seen.have_more_threads, r.have_more_threads);
	}
	if (unparked) {
		/* The first in line, with the callback's token. */
		pthread_join(a[0].thread, NULL);
		CU_ASSERT_EQUAL(a[0].result.status, TPARKER_PARK_UNPARKED);
		CU_ASSERT_EQUAL(a[0].result.unpark_token, 4242);
	}
	/* The requeued ones in order at key 9, after those at 8. */
	struct census cs;
	parked_on(KEY(9), &cs);
	for (size_t i = 0; i < requeued && i < 3; i++)
		CU_ASSERT_EQUAL(cs.tokens[i], 100 + unparked + i);
	CU_ASSERT_EQUAL(tparker_lot_unpark_all(KEY(9), 1), requeued);
	CU_ASSERT_EQUAL(tparker_lot_unpark_all(KEY(8), 2), left_from);
	join_n(a, 3);
}

static void test_requeue_abort(void)
{
	requeue_case(TPARKER_REQUEUE_ABORT, 0, 0, false, 3);
}
static void test_requeue_unpark_one_requeue_rest(void)
{
	requeue_case(TPARKER_REQUEUE_UNPARK_ONE_REQUEUE_REST, 1, 2, false, 0);
}
static void test_requeue_all(void)
{
	requeue_case(TPARKER_REQUEUE_ALL, 0, 3, false, 0);
}
static void test_requeue_unpark_one(void)
{
	requeue_case(TPARKER_REQUEUE_UNPARK_ONE, 1, 0, true, 2);
}
static void test_requeue_one(void)
{
	requeue_case(TPARKER_REQUEUE_ONE, 0, 1, true, 2);
}

/* A thread that times out after a requeue reports the key it was moved to. */
static void test_requeue_then_timeout(void)
{
	struct parker_arg a;
	/* Long enough to be seen queued and requeued on a slow machine. */
	park_n(&a, 1, KEY(10), 2000 * NS_PER_MS);
	struct rq_ctx c = {TPARKER_REQUEUE_ALL, 0, 0, 0, {0}};
	tparker_unpark_result_t r =
	    tparker_lot_unpark_requeue(KEY(10), KEY(11), rq_validate, rq_callback, &c);
	CU_ASSERT_EQUAL(r.requeued_threads, 1);
	pthread_join(a.thread, NULL);
	CU_ASSERT_EQUAL(a.result.status, TPARKER_PARK_TIMED_OUT);
	CU_ASSERT_EQUAL(a.timed_out_key, KEY(11));
	CU_ASSERT(a.was_last);
	CU_ASSERT_EQUAL(parked_on(KEY(11), NULL), 0);
}

/* ---- filter ---------------------------------------------------------------------------- */

struct filter_ctx {
	int mode; /* 0: unpark even tokens; 1: stop at token 102 */
	int calls;
	tparker_unpark_result_t seen;
};

static enum tparker_filter_op test_filter(void *ctx, uintptr_t token)
{
	struct filter_ctx *c = ctx;
	c->calls++;
	if (c->mode == 0)
		return token % 2 == 0 ? TPARKER_FILTER_UNPARK : TPARKER_FILTER_SKIP;
	return token == 102 ? TPARKER_FILTER_STOP : TPARKER_FILTER_UNPARK;
}

static uintptr_t filter_callback(void *ctx, tparker_unpark_result_t r)
{
	struct filter_ctx *c = ctx;
	c->seen = r;
	return 31;
}

static void test_filter_ops(void)
{
	struct parker_arg a[5];
	park_n(a, 5, KEY(12), 0);
	struct filter_ctx c = {0, 0, {0}};
	tparker_unpark_result_t r =
	    tparker_lot_unpark_filter(KEY(12), test_filter, filter_callback, &c);
	CU_ASSERT_EQUAL(c.calls, 5);
	CU_ASSERT_EQUAL(r.unparked_threads, 3);
	CU_ASSERT(r.have_more_threads);
	CU_ASSERT_EQUAL(c.seen.unparked_threads, 3);
	CU_ASSERT_EQUAL(c.seen.be_fair, r.be_fair);
	for (size_t i = 0; i < 5; i += 2) {
		pthread_join(a[i].thread, NULL);
		CU_ASSERT_EQUAL(a[i].result.unpark_token, 31);
	}
	struct census cs;
	CU_ASSERT_EQUAL(parked_on(KEY(12), &cs), 2);
	CU_ASSERT_EQUAL(cs.tokens[0], 101);
	CU_ASSERT_EQUAL(cs.tokens[1], 103);
	CU_ASSERT_EQUAL(tparker_lot_unpark_all(KEY(12), 0), 2);
	pthread_join(a[1].thread, NULL);
	pthread_join(a[3].thread, NULL);

	/* STOP: the threads before it go, it and those after stay. */
	park_n(a, 5, KEY(12), 0);
	struct filter_ctx s = {1, 0, {0}};
	r = tparker_lot_unpark_filter(KEY(12), test_filter, filter_callback, &s);
	CU_ASSERT_EQUAL(s.calls, 3);
	CU_ASSERT_EQUAL(r.unparked_threads, 2);
	CU_ASSERT(r.have_more_threads);
	CU_ASSERT_EQUAL(parked_on(KEY(12), NULL), 3);
	CU_ASSERT_EQUAL(tparker_lot_unpark_all(KEY(12), 0), 3);
	join_n(a, 5);

	/* A NULL filter takes every thread; nothing queued: no be_fair. */
	r = tparker_lot_unpark_filter(KEY(12), NULL, filter_callback, &s);
	CU_ASSERT_EQUAL(r.unparked_threads, 0);
	CU_ASSERT(!r.have_more_threads);
	CU_ASSERT(!r.be_fair);
}

/* be_fair comes about every 0.5 ms of a queue's unparks, not on each. */
static void *fair_main(void *p)
{
	atomic_int *stop = p;
	while (!atomic_load(stop))
		tparker_lot_park(KEY(13), NULL, NULL, NULL, NULL, 0, NULL);
	return NULL;
}

static void test_be_fair(void)
{
	atomic_int stop = 0;
	pthread_t t = start(fair_main, &stop);
	size_t unparks = 0, fair = 0;
	int64_t t0 = now_ns();
	/* 100 ms of unparks, longer until the parker first got in (a slow
	 * start under valgrind on a loaded machine), 10 s at most. */
	while ((now_ns() - t0 < 100 * NS_PER_MS || unparks == 0) && now_ns() - t0 < 10 * NS_PER_S) {
		tparker_unpark_result_t r = tparker_lot_unpark_one(KEY(13), NULL, NULL);
		if (r.unparked_threads) {
			unparks++;
			fair += r.be_fair;
		}
	}
	atomic_store(&stop, 1);
	while (tparker_lot_unpark_all(KEY(13), 0) == 0 && pthread_tryjoin_np(t, NULL) != 0)
		sleep_ms(1);
	pthread_join(t, NULL);
	int64_t ms = (now_ns() - t0) / NS_PER_MS;
	printf("\n    %zu unparks, %zu be_fair in %lld ms ", unparks, fair, (long long)ms);
	CU_ASSERT(fair >= 1);
	/* At most one in every 1 ms on average would be 2x the expected rate. */
	CU_ASSERT(fair <= (size_t)ms * 4 + 1);
}

/* ---- many threads, many keys ------------------------------------------------------ */

#define MANY 200
static char many_keys[MANY];

static void *many_main(void *p)
{
	size_t i = (size_t)(uintptr_t)p;
	tparker_park_result_t r =
	    tparker_lot_park((uintptr_t)&many_keys[i], NULL, NULL, NULL, NULL, i, NULL);
	THREAD_CHECK(r.status == TPARKER_PARK_UNPARKED);
	THREAD_CHECK(r.unpark_token == i + 1);
	return NULL;
}

/* Hundreds of threads, each on its own key (many keys per bucket while the
 * table grows under them); each is woken by key, with its own token. */
static void test_many_threads(void)
{
	static pthread_t t[MANY];
	for (size_t i = 0; i < MANY; i++)
		t[i] = start(many_main, (void *)(uintptr_t)i);
	for (size_t i = 0; i < MANY; i++) {
		CU_ASSERT_FATAL(wait_parked((uintptr_t)&many_keys[i], 1));
		struct one_ctx c = {0, {0}, i + 1};
		tparker_unpark_result_t r =
		    tparker_lot_unpark_one((uintptr_t)&many_keys[i], one_callback, &c);
		CU_ASSERT_EQUAL(r.unparked_threads, 1);
		CU_ASSERT(!r.have_more_threads);
	}
	for (size_t i = 0; i < MANY; i++)
		pthread_join(t[i], NULL);
	CU_ASSERT_EQUAL(atomic_exchange(&thread_failures, 0), 0);
}

/* Waiters with short deadlines and wakers racing over a few keys: every
 * park ends, either woken or timed out, and the queues end empty. */
#define TORTURE_THREADS 8
static atomic_int torture_stop;
static atomic_long torture_parks;

static void *torture_main(void *p)
{
	uint32_t x = (uint32_t)(uintptr_t)p * 2654435761u + 1;
	while (!atomic_load(&torture_stop)) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		uintptr_t key = KEY(14 + (x & 1));
		if (x & 2) {
			struct timespec d = after_ns((int64_t)(x % 200) * 1000);
			tparker_park_result_t r =
			    tparker_lot_park(key, NULL, NULL, NULL, NULL, 0, &d);
			THREAD_CHECK(r.status != TPARKER_PARK_INVALID);
			atomic_fetch_add(&torture_parks, 1);
		} else if (x & 4) {
			tparker_lot_unpark_one(key, NULL, NULL);
		} else {
			struct rq_ctx c = {
			    (enum tparker_requeue_op)(1 + (x >> 8) % 4), 0, 0, 0, {0}};
			tparker_lot_unpark_requeue(key, KEY(14 + !(x & 1)), rq_validate, NULL, &c);
		}
	}
	return NULL;
}

static void test_torture(void)
{
	pthread_t t[TORTURE_THREADS];
	atomic_store(&torture_stop, 0);
	for (size_t i = 0; i < TORTURE_THREADS; i++)
		t[i] = start(torture_main, (void *)(uintptr_t)i);
	sleep_ms(300);
	atomic_store(&torture_stop, 1);
	for (size_t i = 0; i < TORTURE_THREADS; i++)
		pthread_join(t[i], NULL);
	CU_ASSERT_EQUAL(atomic_exchange(&thread_failures, 0), 0);
	CU_ASSERT(atomic_load(&torture_parks) > 0);
	CU_ASSERT_EQUAL(parked_on(KEY(14), NULL) + parked_on(KEY(15), NULL), 0);
}

/* ---- tparker_wait ----------------------------------------------------------------- */

static _Alignas(8) unsigned char wait_word[8];

struct waiter {
	size_t size;
	uint64_t expected;
	int64_t timeout_ns;
	bool result;
	pthread_t thread;
};

static void *waiter_main(void *p)
{
	struct waiter *w = p;
	struct timespec d;
	if (w->timeout_ns)
		d = after_ns(w->timeout_ns);
	/* expected as bytes of its size, like a program's own variable. */
	unsigned char e[8];
	memcpy(e, &w->expected, 8);
	uint8_t e1 = (uint8_t)w->expected;
	uint16_t e2 = (uint16_t)w->expected;
	uint32_t e4 = (uint32_t)w->expected;
	const void *ep = w->size == 1	? (const void *)&e1
			 : w->size == 2 ? (const void *)&e2
			 : w->size == 4 ? (const void *)&e4
					: (const void *)e;
	w->result = tparker_wait(wait_word, ep, w->size, w->timeout_ns ? &d : NULL);
	return NULL;
}

static void store_sized(size_t size, uint64_t v)
{
	switch (size) {
	case 1:
		__atomic_store_n((uint8_t *)wait_word, (uint8_t)v, __ATOMIC_RELAXED);
		break;
	case 2:
		__atomic_store_n((uint16_t *)(void *)wait_word, (uint16_t)v, __ATOMIC_RELAXED);
		break;
	case 4:
		__atomic_store_n((uint32_t *)(void *)wait_word, (uint32_t)v, __ATOMIC_RELAXED);
		break;
	default:
		__atomic_store_n((uint64_t *)(void *)wait_word, v, __ATOMIC_RELAXED);
	}
}

static void test_wait_sizes(void)
{
	static const size_t sizes[] = {1, 2, 4, 8};
	for (size_t s = 0; s < 4; s++) {
		size_t size = sizes[s];
		/* The high byte differs: a wait that compared fewer bytes would sleep. */
		uint64_t v = size == 1	 ? 0x11
			     : size == 2 ? 0x2211
			     : size == 4 ? 0x44332211
					 : 0x8877665544332211ull;
		uint64_t other = v ^ ((uint64_t)0x80 << (8 * (size - 1)));
		memset(wait_word, 0, 8);
		store_sized(size, v);
		/* A value changed before the wait: no sleep, true. */
		struct waiter w = {size, other, 10 * NS_PER_S, false, 0};
		waiter_main(&w);
		CU_ASSERT(w.result);
		/* Unchanged until the deadline: false, never early. */
		w = (struct waiter){size, v, 20 * NS_PER_MS, true, 0};
		int64_t t0 = now_ns();
		waiter_main(&w);
		CU_ASSERT(!w.result);
		CU_ASSERT(now_ns() - t0 >= 20 * NS_PER_MS);
		/* Changed during the wait, then woken. */
		w = (struct waiter){size, v, 0, false, 0};
		w.thread = start(waiter_main, &w);
		CU_ASSERT_FATAL(wait_parked((uintptr_t)wait_word, 1));
		store_sized(size, other);
		tparker_wake_one(wait_word);
		pthread_join(w.thread, NULL);
		CU_ASSERT(w.result);
	}
}

static void test_wait_wake_all(void)
{
	struct waiter w[4];
	memset(wait_word, 0, 8);
	for (size_t i = 0; i < 4; i++) {
		w[i] = (struct waiter){4, 0, 0, false, 0};
		w[i].thread = start(waiter_main, &w[i]);
	}
	CU_ASSERT_FATAL(wait_parked((uintptr_t)wait_word, 4));
	/* A wake with no value change still wakes (the caller decides). */
	tparker_wake_all(wait_word);
	for (size_t i = 0; i < 4; i++) {
		pthread_join(w[i].thread, NULL);
		CU_ASSERT(w[i].result);
	}
	/* A wake with nobody waiting is nothing. */
	tparker_wake_one(wait_word);
	tparker_wake_all(wait_word);
}

/* ---- mutex ------------------------------------------------------------------------------ */

static tparker_mutex_t mtx = TPARKER_MUTEX_INIT;
static unsigned long counter;
static unsigned long mutex_rounds = 200000;

static void *mutex_main(void *p)
{
	(void)p;
	for (unsigned long i = 0; i < mutex_rounds; i++) {
		tparker_mutex_lock(&mtx);
		counter++; /* a plain increment: a data race if exclusion fails */
		if (i % 1000 == 0)
			sched_yield();
		tparker_mutex_unlock(&mtx);
	}
	return NULL;
}

static void test_mutex_exclusion(void)
{
	CU_ASSERT_EQUAL(sizeof(tparker_mutex_t), 1);
	pthread_t t[8];
	counter = 0;
	for (size_t i = 0; i < 8; i++)
		t[i] = start(mutex_main, NULL);
	for (size_t i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	CU_ASSERT_EQUAL(counter, 8 * mutex_rounds);
	CU_ASSERT_EQUAL(mtx.state, 0);
}

static void *trylock_main(void *p)
{
	tparker_mutex_t *m = p;
	THREAD_CHECK(!tparker_mutex_trylock(m));
	/* t0 before the deadline: a preemption between them must not look
	 * like an early return. */
	int64_t t0 = now_ns();
	struct timespec d = after_ns(30 * NS_PER_MS);
	THREAD_CHECK(!tparker_mutex_lock_until(m, &d));
	THREAD_CHECK(now_ns() - t0 >= 30 * NS_PER_MS);
	return NULL;
}

static void test_mutex_trylock_timeout(void)
{
	tparker_mutex_t m = TPARKER_MUTEX_INIT;
	CU_ASSERT(tparker_mutex_trylock(&m));
	pthread_join(start(trylock_main, &m), NULL);
	CU_ASSERT_EQUAL(atomic_exchange(&thread_failures, 0), 0);
	/* The timed-out waiter was the last: no parked bit left behind. */
	CU_ASSERT_EQUAL(m.state, 1);
	tparker_mutex_unlock(&m);
	CU_ASSERT_EQUAL(m.state, 0);
	struct timespec d = after_ns(NS_PER_S);
	CU_ASSERT(tparker_mutex_lock_until(&m, &d));
	tparker_mutex_unlock(&m);
}

static atomic_int handoff_got, handoff_release;
static void *handoff_main(void *p)
{
	tparker_mutex_t *m = p;
	tparker_mutex_lock(m);
	atomic_store(&handoff_got, 1);
	/* Held until the unlocker has tried to take it back. */
	for (int i = 0; i < 20000 && !atomic_load(&handoff_release); i++)
		sleep_ms(1);
	tparker_mutex_unlock(m);
	return NULL;
}

/* unlock_fair hands the lock over: the unlocker cannot take it back. */
static void test_mutex_unlock_fair(void)
{
	tparker_mutex_t m = TPARKER_MUTEX_INIT;
	tparker_mutex_lock(&m);
	atomic_store(&handoff_got, 0);
	atomic_store(&handoff_release, 0);
	pthread_t t = start(handoff_main, &m);
	CU_ASSERT_FATAL(wait_parked((uintptr_t)&m, 1));
	tparker_mutex_unlock_fair(&m);
	/* The lock went straight to the waiter: never free in between. */
	bool retook = tparker_mutex_trylock(&m);
	CU_ASSERT(!retook);
	if (retook)
		tparker_mutex_unlock(&m);
	atomic_store(&handoff_release, 1);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(atomic_load(&handoff_got), 1);
	CU_ASSERT_EQUAL(m.state, 0);
}

/* ---- condition variable ---------------------------------------------------------------- */

#define QCAP 16
static struct {
	tparker_mutex_t m;
	tparker_cond_t not_empty, not_full;
	int buf[QCAP];
	size_t head, len;
} q;

static void *producer_main(void *p)
{
	int base = (int)(intptr_t)p * 1000000;
	for (int i = 0; i < 20000; i++) {
		tparker_mutex_lock(&q.m);
		while (q.len == QCAP)
			tparker_cond_wait(&q.not_full, &q.m);
		q.buf[(q.head + q.len++) % QCAP] = base + i;
		tparker_cond_signal(&q.not_empty);
		tparker_mutex_unlock(&q.m);
	}
	return NULL;
}

static atomic_llong consumed_sum, consumed_n;
static void *consumer_main(void *p)
{
	(void)p;
	for (int i = 0; i < 20000; i++) {
		tparker_mutex_lock(&q.m);
		while (q.len == 0)
			tparker_cond_wait(&q.not_empty, &q.m);
		int v = q.buf[q.head];
		q.head = (q.head + 1) % QCAP;
		q.len--;
		tparker_cond_signal(&q.not_full);
		tparker_mutex_unlock(&q.m);
		atomic_fetch_add(&consumed_sum, v);
		atomic_fetch_add(&consumed_n, 1);
	}
	return NULL;
}

static void test_cond_queue(void)
{
	CU_ASSERT_EQUAL(sizeof(tparker_cond_t), sizeof(void *));
	memset(&q, 0, sizeof(q));
	pthread_t t[6];
	for (int i = 0; i < 3; i++) {
		t[i] = start(producer_main, (void *)(intptr_t)i);
		t[3 + i] = start(consumer_main, NULL);
	}
	for (int i = 0; i < 6; i++)
		pthread_join(t[i], NULL);
	long long want = 0;
	for (long long p = 0; p < 3; p++)
		want += p * 1000000 * 20000 + 19999LL * 20000 / 2;
	CU_ASSERT_EQUAL(atomic_load(&consumed_n), 60000);
	CU_ASSERT_EQUAL(atomic_load(&consumed_sum), want);
}

static tparker_mutex_t bm = TPARKER_MUTEX_INIT;
static tparker_cond_t bc = TPARKER_COND_INIT;
static int generation;
static atomic_int bwoken;

static void *bwaiter_main(void *p)
{
	(void)p;
	tparker_mutex_lock(&bm);
	int g = generation;
	while (generation == g)
		tparker_cond_wait(&bc, &bm);
	tparker_mutex_unlock(&bm);
	atomic_fetch_add(&bwoken, 1);
	return NULL;
}

static void test_cond_broadcast(void)
{
	enum { N = 20 };
	pthread_t t[N];
	atomic_store(&bwoken, 0);
	for (int i = 0; i < N; i++)
		t[i] = start(bwaiter_main, NULL);
	CU_ASSERT_FATAL(wait_parked((uintptr_t)&bc, N));
	tparker_mutex_lock(&bm);
	generation++;
	/* The mutex is held: all move onto it, none wakes yet. */
	size_t n = tparker_cond_broadcast(&bc);
	CU_ASSERT_EQUAL(n, N);
	CU_ASSERT_EQUAL(parked_on((uintptr_t)&bm, NULL), N);
	CU_ASSERT_EQUAL(parked_on((uintptr_t)&bc, NULL), 0);
	tparker_mutex_unlock(&bm);
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	CU_ASSERT_EQUAL(atomic_load(&bwoken), N);
	CU_ASSERT_EQUAL(tparker_cond_broadcast(&bc), 0);
	CU_ASSERT(!tparker_cond_signal(&bc));
}

static void test_cond_signal_timeout(void)
{
	tparker_mutex_t m = TPARKER_MUTEX_INIT;
	tparker_cond_t c = TPARKER_COND_INIT;
	tparker_mutex_lock(&m);
	int64_t t0 = now_ns();
	struct timespec d = after_ns(20 * NS_PER_MS);
	CU_ASSERT(!tparker_cond_wait_until(&c, &m, &d));
	CU_ASSERT(now_ns() - t0 >= 20 * NS_PER_MS);
	/* The mutex is the caller's again; the condvar forgot it. */
	CU_ASSERT_EQUAL(m.state & 1, 1);
	CU_ASSERT_EQUAL(c.state, NULL);
	tparker_mutex_unlock(&m);

	/* One signal wakes one waiter. */
	atomic_store(&bwoken, 0);
	pthread_t t[2] = {start(bwaiter_main, NULL), start(bwaiter_main, NULL)};
	CU_ASSERT_FATAL(wait_parked((uintptr_t)&bc, 2));
	tparker_mutex_lock(&bm);
	generation++;
	tparker_mutex_unlock(&bm);
	CU_ASSERT(tparker_cond_signal(&bc));
	CU_ASSERT_FATAL(wait_parked((uintptr_t)&bc, 1));
	CU_ASSERT(tparker_cond_signal(&bc));
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	CU_ASSERT_EQUAL(atomic_load(&bwoken), 2);
	CU_ASSERT(!tparker_cond_signal(&bc));
}

/* A waiter whose deadline passes while it is being signalled returns either
 * way with the mutex held, and the condvar is left clean. */
static tparker_cond_t rc = TPARKER_COND_INIT;
static tparker_mutex_t rm = TPARKER_MUTEX_INIT;
static atomic_int race_stop;
static void *race_waiter(void *p)
{
	(void)p;
	for (int i = 0; i < 300; i++) {
		tparker_mutex_lock(&rm);
		struct timespec d = after_ns((i % 50) * 1000);
		tparker_cond_wait_until(&rc, &rm, &d);
		THREAD_CHECK(rm.state & 1);
		tparker_mutex_unlock(&rm);
	}
	atomic_store(&race_stop, 1);
	return NULL;
}

static void test_cond_timeout_race(void)
{
	atomic_store(&race_stop, 0);
	pthread_t t = start(race_waiter, NULL);
	unsigned long i = 0;
	while (!atomic_load(&race_stop)) {
		if (i++ % 2)
			tparker_cond_signal(&rc);
		else
			tparker_cond_broadcast(&rc);
	}
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(atomic_exchange(&thread_failures, 0), 0);
	CU_ASSERT_EQUAL(parked_on((uintptr_t)&rc, NULL), 0);
	CU_ASSERT_EQUAL(rm.state, 0);
}

/* ---- a park from a thread-local destructor -------------------------------------- */

static pthread_key_t late_key;
static char late_word, late_word2;
static tparker_park_result_t late_timed, late_woken;

/* Runs after the lot's own destructor freed this thread's entry (its key
 * was made first, and glibc runs destructors in key order): the parks use
 * a temporary entry and still time out and get woken. */
static void late_destructor(void *arg)
{
	(void)arg;
	struct timespec d = after_ns(5 * NS_PER_MS);
	late_timed = tparker_lot_park((uintptr_t)&late_word, NULL, NULL, NULL, NULL, 0, &d);
	late_woken = tparker_lot_park((uintptr_t)&late_word2, NULL, NULL, NULL, NULL, 0, NULL);
}

static void *late_main(void *arg)
{
	(void)arg;
	/* The thread's entry, and so the lot's key, exist before late_key. */
	struct timespec past = {0, 0};
	tparker_lot_park((uintptr_t)&late_word, NULL, NULL, NULL, NULL, 0, &past);
	pthread_setspecific(late_key, &late_word);
	return NULL;
}

static void test_park_in_destructor(void)
{
	/* Made after this process's first park: a larger key than the lot's. */
	CU_ASSERT_FATAL(pthread_key_create(&late_key, late_destructor) == 0);
	pthread_t t = start(late_main, NULL);
	CU_ASSERT_FATAL(wait_parked((uintptr_t)&late_word2, 1));
	struct one_ctx c = {0, {0}, 55};
	CU_ASSERT_EQUAL(
	    tparker_lot_unpark_one((uintptr_t)&late_word2, one_callback, &c).unparked_threads, 1);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(late_timed.status, TPARKER_PARK_TIMED_OUT);
	CU_ASSERT_EQUAL(late_woken.status, TPARKER_PARK_UNPARKED);
	CU_ASSERT_EQUAL(late_woken.unpark_token, 55);
	pthread_key_delete(late_key);
}

/* ---- main ------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s BACKEND\n", argv[0]);
		return 2;
	}
	const char *got = tparker_backend_name(tparker_default_backend());
	if (strcmp(got, argv[1]) != 0) {
		printf("backend %s unusable here (got %s): skipped\n", argv[1], got);
		return 77;
	}
	if (getenv("TPTEST_SCALE_DOWN"))
		mutex_rounds /= 20;
	/* A lost wakeup hangs: end the process instead. */
	alarm(240);

	static const struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
	    {"park: validate false is INVALID", test_park_invalid},
	    {"park: timeout, timed_out, was_last_thread", test_park_timeout},
	    {"park: timeout with another thread left", test_timeout_not_last},
	    {"unpark_one: nobody there", test_unpark_one_empty},
	    {"unpark_one: FIFO, tokens, have_more_threads", test_unpark_one_fifo},
	    {"unpark_one: other keys in the queue", test_unpark_one_other_key},
	    {"unpark_all", test_unpark_all},
	    {"requeue: ABORT", test_requeue_abort},
	    {"requeue: UNPARK_ONE_REQUEUE_REST", test_requeue_unpark_one_requeue_rest},
	    {"requeue: ALL", test_requeue_all},
	    {"requeue: UNPARK_ONE", test_requeue_unpark_one},
	    {"requeue: ONE", test_requeue_one},
	    {"requeue: timed_out gets the new key", test_requeue_then_timeout},
	    {"filter: UNPARK, SKIP, STOP", test_filter_ops},
	    {"be_fair frequency", test_be_fair},
	    {"hundreds of threads on their own keys", test_many_threads},
	    {"torture: parks, timeouts, unparks, requeues", test_torture},
	    {"wait: sizes 1, 2, 4, 8", test_wait_sizes},
	    {"wait: wake_all", test_wait_wake_all},
	    {"mutex: mutual exclusion, 8 threads", test_mutex_exclusion},
	    {"mutex: trylock, lock_until timeout", test_mutex_trylock_timeout},
	    {"mutex: unlock_fair hands over", test_mutex_unlock_fair},
	    {"cond: producers and consumers", test_cond_queue},
	    {"cond: broadcast requeues onto the mutex", test_cond_broadcast},
	    {"cond: timeout, signal one at a time", test_cond_signal_timeout},
	    {"cond: timeouts racing signals", test_cond_timeout_race},
	    {"park from a thread-local destructor", test_park_in_destructor},
	};
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	CU_pSuite s = CU_add_suite("lot", NULL, NULL);
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (!s || !CU_add_test(s, tests[i].name, tests[i].fn))
			return 1;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
