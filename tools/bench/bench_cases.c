/* SPDX-License-Identifier: MIT */
/* The benchmarks, each written once against struct bench_ops. Every one
 * also checks the protocol as it runs: a park that returns without an
 * unpark, or a timeout before its deadline, ends the run. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bench_os.h"

#define IDLE_THREADS	  8
#define STORM_GAP_NS	  200000u /* lets the parked threads fall fully asleep */
#define STORM_MAX_SAMPLES 65536u
#define TIMEOUT_NS	  1000000u

const unsigned bench_storm_k[BENCH_STORM_KS] = {1, 4, 16, 64};

static pthread_t start_thread(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	int err = pthread_create(&t, NULL, fn, arg);
	if (err)
		bench_fail("cannot create a thread: %s", strerror(err));
	return t;
}

/* ---- fast path: unpark before park, one thread ------------------------------ */

void bench_fastpath(const struct bench_variant *v, const struct bench_cfg *c, double *out)
{
	void *p = bench_parker_new(v);
	v->ops->fastpath(p, c->fastpath_cycles / 10 + 1); /* warm caches and branches */
	bench_tick();
	uint64_t ns = v->ops->fastpath(p, c->fastpath_cycles);
	bench_tick();
	bench_parker_free(v, p);
	out[BM_FASTPATH] = (double)ns / (double)c->fastpath_cycles;
}

/* ---- ping-pong: a token handed back and forth ------------------------------- */

struct pingpong {
	const struct bench_variant *v;
	void *pa, *pb;
	atomic_uint_fast64_t to_a, to_b; /* the token, checked on each side */
	atomic_bool stop;
	atomic_uint b_ready;
	uint64_t budget_ns;
	int cpu;
	/* Released mode: both threads start on pp->cpu, and each moves back
	 * to the process's CPUs once A has set `release`. */
	bool released_mode;
	atomic_bool release;
#if defined(__linux__)
	cpu_set_t all; /* the CPUs the process may use */
#endif
	uint64_t trips, elapsed_ns;
};

static void pingpong_pin(struct pingpong *pp)
{
	if (pp->cpu >= 0 && bench_pin_self(pp->cpu) != 0)
		bench_fail("cannot pin a thread to CPU %d", pp->cpu);
}

/* Released mode: once A says so, the calling thread may run anywhere. */
static void pingpong_release(struct pingpong *pp, bool *done)
{
	if (*done || !atomic_load_explicit(&pp->release, memory_order_relaxed))
		return;
	*done = true;
#if defined(__linux__)
	int err = pthread_setaffinity_np(pthread_self(), sizeof(pp->all), &pp->all);
	if (err)
		bench_fail("cannot release a pinned thread: %s", strerror(err));
#endif
}

static void *pingpong_b(void *arg)
{
	struct pingpong *pp = arg;
	const struct bench_ops *o = pp->v->ops;
	bool released = !pp->released_mode;
	pingpong_pin(pp);
	o->prepare_park(pp->pb);
	atomic_store_explicit(&pp->b_ready, 1, memory_order_release);
	for (uint64_t expect = 1;; expect++) {
		o->park(pp->pb);
		pingpong_release(pp, &released);
		if (atomic_load_explicit(&pp->stop, memory_order_relaxed))
			break;
		uint64_t got = atomic_load_explicit(&pp->to_b, memory_order_relaxed);
		if (got != expect)
			bench_fail("%s: ping-pong: park returned without an unpark (token %llu, "
				   "expected %llu)",
				   pp->v->name, (unsigned long long)got,
				   (unsigned long long)expect);
		o->prepare_park(pp->pb);
		atomic_store_explicit(&pp->to_a, expect, memory_order_relaxed);
		o->unpark(pp->pa);
	}
	return NULL;
}

static void *pingpong_a(void *arg)
{
	struct pingpong *pp = arg;
	const struct bench_ops *o = pp->v->ops;
	bool released = !pp->released_mode;
	pingpong_pin(pp);
	bench_wait_count(&pp->b_ready, 1);
	/* The first eighth warms up and is not counted; in released mode,
	 * pinned, and the pair is set free when it ends, so that what is
	 * measured is how it does from there, its recovery included. */
	uint64_t start = bench_now_ns(), t0 = 0, i0 = 0;
	for (uint64_t i = 1;; i++) {
		o->prepare_park(pp->pa);
		atomic_store_explicit(&pp->to_b, i, memory_order_relaxed);
		o->unpark(pp->pb);
		o->park(pp->pa);
		uint64_t got = atomic_load_explicit(&pp->to_a, memory_order_relaxed);
		if (got != i)
			bench_fail("%s: ping-pong: park returned without an unpark (token %llu, "
				   "expected %llu)",
				   pp->v->name, (unsigned long long)got, (unsigned long long)i);
		bench_tick();
		if ((i & 7) != 0 && i > 8)
			continue;
		uint64_t now = bench_now_ns();
		if (!t0 && now - start >= pp->budget_ns / 8) {
			atomic_store_explicit(&pp->release, true, memory_order_relaxed);
			pingpong_release(pp, &released);
			t0 = bench_now_ns();
			i0 = i;
		} else if (t0 && now - start >= pp->budget_ns && i - i0 >= 8) {
			pp->trips = i - i0;
			pp->elapsed_ns = now - t0;
			break;
		}
	}
	/* pb was prepared before B handed the last token back. */
	atomic_store_explicit(&pp->stop, true, memory_order_relaxed);
	o->unpark(pp->pb);
	return NULL;
}

/* Loaded mode: a loaded machine, made of threads that never block. */
#define PP_BUSY_LOOPS 2

static void *busy_loop(void *arg)
{
	atomic_bool *stop = arg;
	while (!atomic_load_explicit(stop, memory_order_relaxed))
		for (int i = 0; i < 64; i++)
			tparker_cpu_relax();
	return NULL;
}

void bench_pingpong(const struct bench_variant *v, const struct bench_cfg *c,
		    enum bench_pp_mode mode, double *out)
{
	int m = BM_PINGPONG + (int)mode;
	bool pinned = mode == BENCH_PP_PINNED || mode == BENCH_PP_RELEASED;
	pthread_t busy[PP_BUSY_LOOPS];
	int nbusy = mode == BENCH_PP_LOADED ? PP_BUSY_LOOPS : 0;
	atomic_bool busy_stop;
	if (pinned && c->pin_cpu < 0) {
		out[m] = NAN;
		return;
	}
	struct pingpong pp = {
	    .v = v,
	    .pa = bench_parker_new(v),
	    .pb = bench_parker_new(v),
	    .budget_ns = c->pingpong_ns,
	    .cpu = pinned ? c->pin_cpu : -1,
	    .released_mode = mode == BENCH_PP_RELEASED,
	};
#if defined(__linux__)
	if (pp.released_mode && sched_getaffinity(0, sizeof(pp.all), &pp.all) != 0)
		bench_fail("cannot read the process's CPUs: %s", strerror(errno));
#endif
	atomic_init(&pp.release, false);
	atomic_init(&pp.to_a, 0);
	atomic_init(&pp.to_b, 0);
	atomic_init(&pp.stop, false);
	atomic_init(&pp.b_ready, 0);
	atomic_init(&busy_stop, false);
	for (int i = 0; i < nbusy; i++)
		busy[i] = start_thread(busy_loop, &busy_stop);
	pthread_t b = start_thread(pingpong_b, &pp);
	pthread_t a = start_thread(pingpong_a, &pp);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	atomic_store_explicit(&busy_stop, true, memory_order_relaxed);
	for (int i = 0; i < nbusy; i++)
		pthread_join(busy[i], NULL);
	bench_parker_free(v, pp.pa);
	bench_parker_free(v, pp.pb);
	out[m] = (double)pp.elapsed_ns / (double)pp.trips;
}

/* ---- wake storm: one waker, K parked threads --------------------------------- */

struct storm;

struct storm_thread {
	struct storm *s;
	unsigned index;
	void *parker;
	atomic_uint_fast64_t stamp; /* when the waker unparked it */
	atomic_uint_fast64_t ran;   /* when it was running again */
	pthread_t thread;
};

struct storm {
	const struct bench_variant *v;
	unsigned k;
	struct storm_thread *t;
	atomic_uint ready; /* threads prepared for the next wave */
	atomic_uint wave;
	atomic_bool stop;
	double *lat; /* [wave][thread] */
	unsigned max_waves;
};

static void *storm_thread(void *arg)
{
	struct storm_thread *t = arg;
	struct storm *s = t->s;
	const struct bench_ops *o = s->v->ops;
	unsigned seen = 0;
	for (;;) {
		o->prepare_park(t->parker);
		atomic_fetch_add_explicit(&s->ready, 1, memory_order_acq_rel);
		o->park(t->parker);
		uint64_t now = bench_now_ns();
		unsigned w = atomic_load_explicit(&s->wave, memory_order_relaxed);
		if (w == seen)
			bench_fail("%s: wake storm K=%u: park returned without an unpark",
				   s->v->name, s->k);
		seen = w;
		if (atomic_load_explicit(&s->stop, memory_order_relaxed))
			break;
		uint64_t stamp = atomic_load_explicit(&t->stamp, memory_order_relaxed);
		s->lat[(size_t)(w - 1) * s->k + t->index] = (double)(now - stamp);
		atomic_store_explicit(&t->ran, now, memory_order_relaxed);
		bench_tick();
	}
	return NULL;
}

void bench_storm(const struct bench_variant *v, const struct bench_cfg *c, unsigned k_index,
		 double *out)
{
	struct storm s = {.v = v, .k = bench_storm_k[k_index]};
	s.max_waves = STORM_MAX_SAMPLES / s.k;
	s.t = calloc(s.k, sizeof(*s.t));
	s.lat = calloc((size_t)s.max_waves * s.k, sizeof(*s.lat));
	if (!s.t || !s.lat)
		bench_fail("out of memory");
	atomic_init(&s.ready, 0);
	atomic_init(&s.wave, 0);
	atomic_init(&s.stop, false);
	for (unsigned i = 0; i < s.k; i++) {
		s.t[i].s = &s;
		s.t[i].index = i;
		s.t[i].parker = bench_parker_new(v);
		atomic_init(&s.t[i].stamp, 0);
		atomic_init(&s.t[i].ran, 0);
		s.t[i].thread = start_thread(storm_thread, &s.t[i]);
	}

	uint64_t start = bench_now_ns(), wave_first = 0, busy_ns = 0;
	unsigned waves = 0;
	for (;;) {
		bench_wait_count(&s.ready, s.k);
		atomic_store_explicit(&s.ready, 0, memory_order_relaxed);
		if (waves > 0) {
			uint64_t last = 0;
			for (unsigned i = 0; i < s.k; i++) {
				uint64_t r =
				    atomic_load_explicit(&s.t[i].ran, memory_order_relaxed);
				last = r > last ? r : last;
			}
			busy_ns += last - wave_first;
		}
		if (waves == s.max_waves || (waves >= 2 && bench_now_ns() - start >= c->storm_ns))
			break;
		bench_sleep_ns(STORM_GAP_NS);
		atomic_store_explicit(&s.wave, waves + 1, memory_order_relaxed);
		wave_first = bench_now_ns();
		for (unsigned i = 0; i < s.k; i++) {
			atomic_store_explicit(&s.t[i].stamp, bench_now_ns(), memory_order_relaxed);
			v->ops->unpark(s.t[i].parker);
		}
		waves++;
	}
	/* Every thread is prepared again: one last wave tells them to leave. */
	atomic_store_explicit(&s.stop, true, memory_order_relaxed);
	atomic_store_explicit(&s.wave, waves + 1, memory_order_relaxed);
	for (unsigned i = 0; i < s.k; i++)
		v->ops->unpark(s.t[i].parker);
	for (unsigned i = 0; i < s.k; i++) {
		pthread_join(s.t[i].thread, NULL);
		bench_parker_free(v, s.t[i].parker);
	}

	size_t n = (size_t)waves * s.k;
	double *m = &out[BM_STORM + 3 * k_index];
	m[0] = (double)n * 1e9 / (double)busy_ns;
	m[1] = bench_median(s.lat, n);
	m[2] = bench_percentile(s.lat, n, 0.99);
	free(s.lat);
	free(s.t);
}

/* ---- the polling ceiling of the largest storm ----------------------------------
 * A parker that polls (spin) notices an unpark only when it wakes to look,
 * so among K parked threads it can do no better than the machine lets K
 * threads wake: here K threads do nothing but sleep 1 us and wake. */

struct poller {
	atomic_bool *stop;
	uint64_t wakes;
	pthread_t thread;
};

static void *poller_main(void *arg)
{
	struct poller *p = arg;
	while (!atomic_load_explicit(p->stop, memory_order_relaxed)) {
		bench_sleep_ns(1000);
		p->wakes++;
	}
	return NULL;
}

double bench_poll_interval(unsigned k, uint64_t ns)
{
	struct poller *p = calloc(k, sizeof(*p));
	atomic_bool stop;
	uint64_t wakes = 0;
	if (!p)
		bench_fail("out of memory");
	atomic_init(&stop, false);
	uint64_t t0 = bench_now_ns();
	for (unsigned i = 0; i < k; i++) {
		p[i].stop = &stop;
		p[i].thread = start_thread(poller_main, &p[i]);
	}
	bench_sleep_ns(ns);
	atomic_store_explicit(&stop, true, memory_order_relaxed);
	for (unsigned i = 0; i < k; i++) {
		pthread_join(p[i].thread, NULL);
		wakes += p[i].wakes;
	}
	uint64_t elapsed = bench_now_ns() - t0;
	free(p);
	return wakes ? (double)elapsed * k / (double)wakes : NAN;
}

/* ---- timeout accuracy: park_until(now + 1 ms), nobody unparks ------------------ */

void bench_timeout(const struct bench_variant *v, const struct bench_cfg *c, double *out)
{
	if (!v->ops->park_until)
		return; /* no timed wait (C++20 atomic::wait): "-" */
	void *p = bench_parker_new(v);
	unsigned n = c->timeout_samples, early = 0;
	int64_t worst_early = 0;
	double *over = calloc(n, sizeof(*over));
	if (!over)
		bench_fail("out of memory");
	for (unsigned i = 0; i < n; i++) {
		v->ops->prepare_park(p);
		struct timespec now, deadline;
		now = tparker_now();
		deadline = bench_ts_add_ns(now, TIMEOUT_NS);
		bool unparked = v->ops->park_until(p, &deadline);
		now = tparker_now();
		if (unparked)
			bench_fail("%s: timeout: park_until returned 'unparked' but nobody "
				   "unparked it",
				   v->name);
		if (!v->ops->timed_out(p))
			bench_fail("%s: timeout: timed_out() is false after a real timeout",
				   v->name);
		int64_t d = bench_ts_diff_ns(&now, &deadline);
		if (d < 0) {
			early++;
			worst_early = -d > worst_early ? -d : worst_early;
		}
		over[i] = (double)d;
		bench_tick();
	}
	bench_parker_free(v, p);
	if (early)
		bench_fail("%s: timeout: park_until(now + 1 ms) returned before its deadline "
			   "%u of %u times (worst %lld ns early)",
			   v->name, early, n, (long long)worst_early);
	out[BM_TIMEOUT_MED] = bench_median(over, n);
	out[BM_TIMEOUT_P99] = bench_percentile(over, n, 0.99);
	out[BM_TIMEOUT_EARLY] = 0;
	free(over);
}

/* ---- idle cost: CPU time of parked threads ------------------------------------ */

struct idle {
	const struct bench_variant *v;
	void *parker[IDLE_THREADS];
	pthread_t thread[IDLE_THREADS];
	atomic_uint ready;
	atomic_bool released;
};

struct idle_arg {
	struct idle *idle;
	unsigned index;
};

static void *idle_thread(void *arg)
{
	struct idle_arg *a = arg;
	struct idle *s = a->idle;
	void *p = s->parker[a->index];
	s->v->ops->prepare_park(p);
	atomic_fetch_add_explicit(&s->ready, 1, memory_order_acq_rel);
	s->v->ops->park(p);
	if (!atomic_load_explicit(&s->released, memory_order_relaxed))
		bench_fail("%s: idle: park returned without an unpark", s->v->name);
	return NULL;
}

static uint64_t thread_cpu_ns(pthread_t t, const char *name)
{
	uint64_t ns;
	if (bench_thread_cpu_ns(t, &ns) != 0)
		bench_fail("%s: idle: cannot read a thread's CPU clock", name);
	return ns;
}

void bench_idle(const struct bench_variant *v, const struct bench_cfg *c, double *out)
{
	struct idle s = {.v = v};
	struct idle_arg args[IDLE_THREADS];
	uint64_t cpu0[IDLE_THREADS], cpu1 = 0, sum = 0;
	atomic_init(&s.ready, 0);
	atomic_init(&s.released, false);
	for (unsigned i = 0; i < IDLE_THREADS; i++) {
		s.parker[i] = bench_parker_new(v);
		args[i] = (struct idle_arg){&s, i};
		s.thread[i] = start_thread(idle_thread, &args[i]);
	}
	/* From the moment each thread is about to park: whatever it spins
	 * before sleeping is part of its idle cost. */
	bench_wait_count(&s.ready, IDLE_THREADS);
	uint64_t t0 = bench_now_ns();
	for (unsigned i = 0; i < IDLE_THREADS; i++)
		cpu0[i] = thread_cpu_ns(s.thread[i], v->name);
	bench_tick();
	bench_sleep_ns(c->idle_ns);
	bench_tick();
	for (unsigned i = 0; i < IDLE_THREADS; i++) {
		cpu1 = thread_cpu_ns(s.thread[i], v->name);
		sum += cpu1 - cpu0[i];
	}
	uint64_t t1 = bench_now_ns();
	atomic_store_explicit(&s.released, true, memory_order_relaxed);
	for (unsigned i = 0; i < IDLE_THREADS; i++)
		v->ops->unpark(s.parker[i]);
	for (unsigned i = 0; i < IDLE_THREADS; i++) {
		pthread_join(s.thread[i], NULL);
		bench_parker_free(v, s.parker[i]);
	}
	out[BM_IDLE] = (double)sum * 1e9 / (double)(t1 - t0);
}

/* ---- memory ----------------------------------------------------------------------- */

void bench_memory(const struct bench_variant *v, const struct bench_cfg *c, double *out)
{
	(void)c;
	out[BM_MEMORY] = (double)v->memory;
}
