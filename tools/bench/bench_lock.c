/* SPDX-License-Identifier: MIT */
/*
 * tparker bench --only lock: the locks of <tparker/sync.h> and the wait and
 * wake of <tparker/lot.h> side by side with pthread's and the raw futex, in
 * the same run: rounds interleaved over the variants, medians reported.
 *
 *   uncontended  lock+unlock pairs on one thread (ns per pair)
 *   contended T  T threads each locking, bumping a shared counter and a few
 *                pause loops, unlocking (acquisitions/s), with the longest
 *                wait for the lock any thread saw
 *   condvar      ping-pong of two threads through a mutex and condition
 *                variable (round trips/s)
 *   queue        two producers, two consumers, a 16-slot queue (items/s)
 *   wait/wake    ping-pong of two threads on a 32-bit word: tparker_wait and
 *                tparker_wake_one against FUTEX_WAIT/FUTEX_WAKE (round trips/s)
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tparker/lot.h>
#include <tparker/sync.h>

#include "bench.h"
#include "bench_lock.h"
#include "bench_os.h"

#define MAX_ROUNDS 64

enum lock_kind { L_TPARKER, L_PTHREAD, L_ADAPTIVE, L_KINDS };
static const char *const lock_names[L_KINDS] = {"tparker_mutex", "pthread", "pthread-adaptive"};

struct any_lock {
	enum lock_kind kind;
	tparker_mutex_t t;
	pthread_mutex_t p;
};

static void lock_init(struct any_lock *l, enum lock_kind k)
{
	memset(l, 0, sizeof(*l));
	l->kind = k;
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
/* mingw-w64 has no adaptive type: there the column is the plain mutex. */
#if !defined(_WIN32)
	if (k == L_ADAPTIVE)
		pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
	pthread_mutex_init(&l->p, &a);
	pthread_mutexattr_destroy(&a);
}

static inline void lock_take(struct any_lock *l)
{
	if (l->kind == L_TPARKER)
		tparker_mutex_lock(&l->t);
	else
		pthread_mutex_lock(&l->p);
}

static inline void lock_give(struct any_lock *l)
{
	if (l->kind == L_TPARKER)
		tparker_mutex_unlock(&l->t);
	else
		pthread_mutex_unlock(&l->p);
}

static inline void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/* ---- uncontended ---------------------------------------------------------------- */

static double uncontended(enum lock_kind k, uint64_t n)
{
	struct any_lock l;
	lock_init(&l, k);
	uint64_t t0 = bench_now_ns();
	if (k == L_TPARKER) {
		for (uint64_t i = 0; i < n; i++) {
			tparker_mutex_lock(&l.t);
			__asm__ __volatile__("" ::: "memory");
			tparker_mutex_unlock(&l.t);
		}
	} else {
		for (uint64_t i = 0; i < n; i++) {
			pthread_mutex_lock(&l.p);
			__asm__ __volatile__("" ::: "memory");
			pthread_mutex_unlock(&l.p);
		}
	}
	double ns = (double)(bench_now_ns() - t0) / (double)n;
	pthread_mutex_destroy(&l.p);
	return ns;
}

/* ---- contended ------------------------------------------------------------------ */

struct contend {
	struct any_lock lock;
	unsigned long counter;
	atomic_int go, stop;
	atomic_uint ready;
	uint64_t ops[8], max_wait[8];
};

struct contend_arg {
	struct contend *c;
	unsigned idx;
};

static void *contend_main(void *p)
{
	struct contend_arg *a = p;
	struct contend *c = a->c;
	uint64_t ops = 0, max_wait = 0;
	atomic_fetch_add(&c->ready, 1);
	while (!atomic_load_explicit(&c->go, memory_order_acquire))
		relax();
	while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
		uint64_t t0 = bench_now_ns();
		lock_take(&c->lock);
		uint64_t w = bench_now_ns() - t0;
		c->counter++;
		for (int i = 0; i < 4; i++)
			relax();
		lock_give(&c->lock);
		if (w > max_wait)
			max_wait = w;
		ops++;
		/* A little work outside the lock, as a program would do. */
		for (int i = 0; i < 8; i++)
			relax();
	}
	c->ops[a->idx] = ops;
	c->max_wait[a->idx] = max_wait;
	return NULL;
}

static void contended(enum lock_kind k, unsigned threads, uint64_t ns, double *rate,
		      double *max_wait_ms)
{
	struct contend *c = calloc(1, sizeof(*c));
	if (!c)
		bench_fail("out of memory");
	lock_init(&c->lock, k);
	pthread_t t[8];
	struct contend_arg a[8];
	for (unsigned i = 0; i < threads; i++) {
		a[i] = (struct contend_arg){c, i};
		if (pthread_create(&t[i], NULL, contend_main, &a[i]) != 0)
			bench_fail("pthread_create failed");
	}
	bench_wait_count(&c->ready, threads);
	uint64_t t0 = bench_now_ns();
	atomic_store_explicit(&c->go, 1, memory_order_release);
	bench_sleep_ns(ns);
	atomic_store(&c->stop, 1);
	uint64_t total = 0, mw = 0;
	for (unsigned i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		total += c->ops[i];
		if (c->max_wait[i] > mw)
			mw = c->max_wait[i];
	}
	uint64_t el = bench_now_ns() - t0;
	if (c->counter != total)
		bench_fail("%s: mutual exclusion failed (%lu != %llu)", lock_names[k], c->counter,
			   (unsigned long long)total);
	*rate = (double)total * 1e9 / (double)el;
	*max_wait_ms = (double)mw / 1e6;
	pthread_mutex_destroy(&c->lock.p);
	free(c);
}

/* ---- condvar ping-pong and queue ---------------------------------------------------- */

struct cv {
	bool tp;
	tparker_mutex_t tm;
	tparker_cond_t tc[2];
	pthread_mutex_t pm;
	pthread_cond_t pc[2];
	int turn;
	atomic_int stop;
	uint64_t rounds;
	/* queue */
	int buf[16];
	unsigned head, len;
	uint64_t moved[4];
};

static inline void cv_lock(struct cv *v)
{
	if (v->tp)
		tparker_mutex_lock(&v->tm);
	else
		pthread_mutex_lock(&v->pm);
}
static inline void cv_unlock(struct cv *v)
{
	if (v->tp)
		tparker_mutex_unlock(&v->tm);
	else
		pthread_mutex_unlock(&v->pm);
}
static inline void cv_wait(struct cv *v, int i)
{
	if (v->tp)
		tparker_cond_wait(&v->tc[i], &v->tm);
	else
		pthread_cond_wait(&v->pc[i], &v->pm);
}
static inline void cv_signal(struct cv *v, int i)
{
	if (v->tp)
		tparker_cond_signal(&v->tc[i]);
	else
		pthread_cond_signal(&v->pc[i]);
}
static inline void cv_broadcast(struct cv *v, int i)
{
	if (v->tp)
		tparker_cond_broadcast(&v->tc[i]);
	else
		pthread_cond_broadcast(&v->pc[i]);
}

static struct cv *cv_new(bool tp)
{
	struct cv *v = calloc(1, sizeof(*v));
	if (!v)
		bench_fail("out of memory");
	v->tp = tp;
	pthread_mutex_init(&v->pm, NULL);
	pthread_cond_init(&v->pc[0], NULL);
	pthread_cond_init(&v->pc[1], NULL);
	return v;
}

static void cv_free(struct cv *v)
{
	pthread_mutex_destroy(&v->pm);
	pthread_cond_destroy(&v->pc[0]);
	pthread_cond_destroy(&v->pc[1]);
	free(v);
}

/* The partner: waits for turn 1, gives turn 0. */
static void *pong_main(void *p)
{
	struct cv *v = p;
	cv_lock(v);
	for (;;) {
		while (v->turn != 1 && !atomic_load(&v->stop))
			cv_wait(v, 1);
		if (atomic_load(&v->stop))
			break;
		v->turn = 0;
		cv_signal(v, 0);
	}
	cv_unlock(v);
	return NULL;
}

static double cv_pingpong(bool tp, uint64_t ns)
{
	struct cv *v = cv_new(tp);
	pthread_t t;
	if (pthread_create(&t, NULL, pong_main, v) != 0)
		bench_fail("pthread_create failed");
	uint64_t n = 0, t0 = bench_now_ns(), el;
	cv_lock(v);
	while ((el = bench_now_ns() - t0) < ns) {
		v->turn = 1;
		cv_signal(v, 1);
		while (v->turn != 0)
			cv_wait(v, 0);
		n++;
	}
	atomic_store(&v->stop, 1);
	cv_broadcast(v, 1);
	cv_unlock(v);
	pthread_join(t, NULL);
	cv_free(v);
	return (double)n * 1e9 / (double)el;
}

struct q_arg {
	struct cv *v;
	unsigned idx;
};

static void *producer_main(void *p)
{
	struct q_arg *a = p;
	struct cv *v = a->v;
	uint64_t n = 0;
	cv_lock(v);
	while (!atomic_load_explicit(&v->stop, memory_order_relaxed)) {
		if (v->len == 16) {
			cv_wait(v, 1);
			continue;
		}
		v->buf[(v->head + v->len++) % 16] = (int)n++;
		cv_signal(v, 0);
		/* Produce the next item outside the lock. */
		cv_unlock(v);
		cv_lock(v);
	}
	cv_broadcast(v, 0);
	cv_broadcast(v, 1);
	cv_unlock(v);
	return NULL;
}

static void *consumer_main(void *p)
{
	struct q_arg *a = p;
	struct cv *v = a->v;
	uint64_t n = 0;
	cv_lock(v);
	while (!atomic_load_explicit(&v->stop, memory_order_relaxed)) {
		if (v->len == 0) {
			cv_wait(v, 0);
			continue;
		}
		v->head = (v->head + 1) % 16;
		v->len--;
		n++;
		cv_signal(v, 1);
		cv_unlock(v);
		cv_lock(v);
	}
	v->moved[a->idx] = n;
	cv_broadcast(v, 0);
	cv_broadcast(v, 1);
	cv_unlock(v);
	return NULL;
}

static double cv_queue(bool tp, uint64_t ns)
{
	struct cv *v = cv_new(tp);
	pthread_t t[4];
	struct q_arg a[4];
	for (unsigned i = 0; i < 4; i++) {
		a[i] = (struct q_arg){v, i};
		if (pthread_create(&t[i], NULL, i < 2 ? producer_main : consumer_main, &a[i]) != 0)
			bench_fail("pthread_create failed");
	}
	uint64_t t0 = bench_now_ns();
	bench_sleep_ns(ns);
	cv_lock(v);
	atomic_store(&v->stop, 1);
	uint64_t el = bench_now_ns() - t0;
	cv_broadcast(v, 0);
	cv_broadcast(v, 1);
	cv_unlock(v);
	for (unsigned i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	double n = (double)(v->moved[2] + v->moved[3]);
	cv_free(v);
	return n * 1e9 / (double)el;
}

/* ---- wait/wake ping-pong ----------------------------------------------------------------- */

struct ww {
	bool tp;
	_Alignas(4) uint32_t word; /* whose turn: 0 main, 1 partner, 2 stop */
};

static void ww_wait(struct ww *w, uint32_t seen)
{
	if (w->tp)
		tparker_wait(&w->word, &seen, 4, NULL);
	else
		bench_word_wait(&w->word, seen);
}

static void ww_set(struct ww *w, uint32_t v)
{
	__atomic_store_n(&w->word, v, __ATOMIC_RELEASE);
	if (w->tp)
		tparker_wake_one(&w->word);
	else
		bench_word_wake_one(&w->word);
}

static void *ww_partner(void *p)
{
	struct ww *w = p;
	for (;;) {
		uint32_t v = __atomic_load_n(&w->word, __ATOMIC_ACQUIRE);
		if (v == 2)
			return NULL;
		if (v == 1)
			ww_set(w, 0);
		else
			ww_wait(w, v);
	}
}

static double ww_pingpong(bool tp, uint64_t ns)
{
	struct ww w = {tp, 0};
	pthread_t t;
	if (pthread_create(&t, NULL, ww_partner, &w) != 0)
		bench_fail("pthread_create failed");
	uint64_t n = 0, t0 = bench_now_ns(), el;
	while ((el = bench_now_ns() - t0) < ns) {
		ww_set(&w, 1);
		uint32_t v;
		while ((v = __atomic_load_n(&w.word, __ATOMIC_ACQUIRE)) != 0)
			ww_wait(&w, v);
		n++;
	}
	ww_set(&w, 2);
	pthread_join(t, NULL);
	return (double)n * 1e9 / (double)el;
}

/* ---- the run -------------------------------------------------------------------------------- */

enum { C_UNCONT, C_T1, C_T2, C_T4, C_T8, C_CV_PINGPONG, C_CV_QUEUE, C_WW, C_COUNT };
static const char *const case_names[C_COUNT] = {
    "uncontended (ns)",	      "contended 1T (/s)",	 "contended 2T (/s)",
    "contended 4T (/s)",      "contended 8T (/s)",	 "condvar ping-pong (/s)",
    "condvar queue 2+2 (/s)", "wait/wake ping-pong (/s)"};
static const char *const case_keys[C_COUNT] = {
    "uncontended_ns", "contended_1",	  "contended_2",   "contended_4",
    "contended_8",    "condvar_pingpong", "condvar_queue", "wait_wake_pingpong"};
static const unsigned thread_counts[4] = {1, 2, 4, 8};

int bench_lock_run(unsigned rounds, bool quick, bool json)
{
	if (rounds > MAX_ROUNDS)
		rounds = MAX_ROUNDS;
	uint64_t ns = quick ? 100000000u : 250000000u;
	uint64_t n_uncont = quick ? 2000000u : 10000000u;
	/* value[case][variant][round]; max wait likewise for the contended cases. */
	static double value[C_COUNT][L_KINDS][MAX_ROUNDS], wait[C_COUNT][L_KINDS][MAX_ROUNDS];
	for (size_t i = 0; i < C_COUNT; i++)
		for (size_t k = 0; k < L_KINDS; k++)
			for (size_t r = 0; r < MAX_ROUNDS; r++)
				value[i][k][r] = wait[i][k][r] = NAN;
	uint64_t t_start = bench_now_ns();
	for (unsigned r = 0; r < rounds; r++) {
		fprintf(stderr, "\rbench lock: round %u/%u", r + 1, rounds);
		for (int k = 0; k < L_KINDS; k++) {
			value[C_UNCONT][k][r] = uncontended((enum lock_kind)k, n_uncont);
			for (int ti = 0; ti < 4; ti++)
				contended((enum lock_kind)k, thread_counts[ti], ns,
					  &value[C_T1 + ti][k][r], &wait[C_T1 + ti][k][r]);
		}
		/* Condvars: tparker against pthread's (in the pthread column). */
		for (int k = 0; k < 2; k++) {
			value[C_CV_PINGPONG][k][r] = cv_pingpong(k == L_TPARKER, ns);
			value[C_CV_QUEUE][k][r] = cv_queue(k == L_TPARKER, ns);
			/* The raw futex in the pthread column. */
			value[C_WW][k][r] = ww_pingpong(k == L_TPARKER, ns);
		}
	}
	fprintf(stderr, "\r%40s\r", "");
	double med[C_COUNT][L_KINDS], wmed[C_COUNT][L_KINDS];
	for (int i = 0; i < C_COUNT; i++)
		for (int k = 0; k < L_KINDS; k++) {
			double tmp[MAX_ROUNDS];
			size_t n = 0;
			for (unsigned r = 0; r < rounds; r++)
				if (!isnan(value[i][k][r]))
					tmp[n++] = value[i][k][r];
			med[i][k] = bench_median(tmp, n);
			n = 0;
			for (unsigned r = 0; r < rounds; r++)
				if (!isnan(wait[i][k][r]))
					tmp[n++] = wait[i][k][r];
			wmed[i][k] = bench_median(tmp, n);
		}
	double secs = (double)(bench_now_ns() - t_start) / 1e9;
	long cpus = bench_online_cpus();
	if (json) {
		printf("{\n  \"bench\": \"lock\",\n  \"rounds\": %u,\n  \"cpus\": %ld,\n"
		       "  \"seconds\": %.1f,\n  \"rows\": [\n",
		       rounds, cpus, secs);
		for (int i = 0; i < C_COUNT; i++) {
			printf("    {\"case\": \"%s\"", case_keys[i]);
			for (int k = 0; k < L_KINDS; k++) {
				const char *name = lock_names[k];
				if (i == C_WW && k == L_PTHREAD)
					name = bench_word_name;
				if (!isnan(med[i][k]))
					printf(", \"%s\": %.6g", name, med[i][k]);
				if (!isnan(wmed[i][k]))
					printf(", \"%s_max_wait_ms\": %.6g", name, wmed[i][k]);
			}
			printf("}%s\n", i + 1 < C_COUNT ? "," : "");
		}
		printf("  ]\n}\n");
		return 0;
	}
	printf("tparker bench --only lock: %u rounds interleaved, medians; %ld CPUs; %.1f s\n",
	       rounds, cpus, secs);
	printf("ratio: tparker over pthread (default); >1 is better for tparker "
	       "(uncontended: pthread ns / tparker ns)\n");
	printf("wait/wake: the pthread column is the raw %s\n\n", bench_word_name);
	printf("%-26s %14s %14s %17s %7s   %s\n", "case", "tparker_mutex", "pthread",
	       "pthread-adaptive", "ratio", "longest wait ms (tp/pth/adapt)");
	for (int i = 0; i < C_COUNT; i++) {
		double ratio = i == C_UNCONT ? med[i][L_PTHREAD] / med[i][L_TPARKER]
					     : med[i][L_TPARKER] / med[i][L_PTHREAD];
		printf("%-26s %14.4g %14.4g", case_names[i], med[i][L_TPARKER], med[i][L_PTHREAD]);
		if (isnan(med[i][L_ADAPTIVE]))
			printf(" %17s", "-");
		else
			printf(" %17.4g", med[i][L_ADAPTIVE]);
		printf(" %7.2f", ratio);
		if (!isnan(wmed[i][L_TPARKER]))
			printf("   %.3g / %.3g / %.3g", wmed[i][L_TPARKER], wmed[i][L_PTHREAD],
			       wmed[i][L_ADAPTIVE]);
		printf("\n");
	}
	return 0;
}
