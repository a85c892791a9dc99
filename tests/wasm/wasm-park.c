/* SPDX-License-Identifier: MIT */
/*
 * WebAssembly with threads, under node: the conformance cases for the
 * backend named by argv[1] ("default" for the process's default), and
 * parkers of two backends side by side. main() runs on a worker
 * (-sPROXY_TO_PTHREAD), the other threads are pthreads (workers too).
 */
#include <pthread.h>
#include <stdatomic.h>

#include <emscripten/threading.h>

#include "wasm-test.h"

static const tparker_backend_t *backend;

static void case_unpark_before_park(void)
{
	tparker_t p;
	WT_CHECK(tparker_init_with(&p, backend) == 0);
	tparker_prepare_park(&p);
	tparker_unpark(tparker_unpark_lock(&p));
	tparker_park(&p); /* returns at once */
	tparker_prepare_park(&p);
	tparker_unpark(tparker_unpark_lock(&p));
	struct timespec d = tparker_deadline_after(10u * 1000000000u);
	uint64_t t0 = wt_now_ns();
	WT_CHECK(tparker_park_until(&p, &d));
	WT_CHECK(wt_now_ns() - t0 < 1000000000u);
	tparker_destroy(&p);
}

/* Two parkers, tokens in turn: each side checks the token it is handed. */
struct pingpong {
	tparker_t a, b;
	_Atomic int token;
	int rounds;
	_Atomic int bad;
};

static void *pong(void *arg)
{
	struct pingpong *pp = arg;
	for (int i = 0; i < pp->rounds; i++) {
		tparker_park(&pp->b);
		if (atomic_load(&pp->token) != 2 * i + 1)
			atomic_fetch_add(&pp->bad, 1);
		tparker_prepare_park(&pp->b);
		atomic_store(&pp->token, 2 * i + 2);
		tparker_unpark(tparker_unpark_lock(&pp->a));
	}
	return NULL;
}

static void pingpong_run(const tparker_backend_t *ba, const tparker_backend_t *bb, int rounds)
{
	struct pingpong pp = {.rounds = rounds};
	pthread_t t;
	WT_CHECK(tparker_init_with(&pp.a, ba) == 0);
	WT_CHECK(tparker_init_with(&pp.b, bb) == 0);
	tparker_prepare_park(&pp.b);
	WT_CHECK(pthread_create(&t, NULL, pong, &pp) == 0);
	for (int i = 0; i < rounds; i++) {
		tparker_prepare_park(&pp.a);
		atomic_store(&pp.token, 2 * i + 1);
		tparker_unpark(tparker_unpark_lock(&pp.b));
		tparker_park(&pp.a);
		if (atomic_load(&pp.token) != 2 * i + 2)
			atomic_fetch_add(&pp.bad, 1);
	}
	WT_CHECK(pthread_join(t, NULL) == 0);
	WT_CHECK(atomic_load(&pp.bad) == 0);
	WT_CHECK(atomic_load(&pp.token) == 2 * rounds);
	tparker_destroy(&pp.a);
	tparker_destroy(&pp.b);
}

static void case_pingpong(void)
{
	pingpong_run(backend, backend, 5000);
}

/* wasm_atomic and spin in one ping-pong: each side's parker has its own
 * backend. */
static void case_two_backends(void)
{
	const tparker_backend_t *wa = wt_backend("wasm_atomic"), *spin = wt_backend("spin");
	pingpong_run(wa, spin, 500);
	pingpong_run(spin, wa, 500);
}

/* Timed parks that nobody ends: false, and never before the deadline. */
static void case_timeout_never_early(void)
{
	static const uint64_t waits_ns[] = {0, 1000, 100000, 1000000, 5000000, 20000000};
	tparker_t p;
	WT_CHECK(tparker_init_with(&p, backend) == 0);
	for (size_t i = 0; i < sizeof(waits_ns) / sizeof(waits_ns[0]); i++) {
		for (int rep = 0; rep < 5; rep++) {
			tparker_prepare_park(&p);
			struct timespec d = tparker_deadline_after(waits_ns[i]);
			WT_CHECK(!tparker_park_until(&p, &d));
			WT_CHECK(wt_reached(&d));
			WT_CHECK(tparker_timed_out(&p));
		}
	}
	/* A deadline long past. */
	tparker_prepare_park(&p);
	struct timespec past = {0, 0};
	WT_CHECK(!tparker_park_until(&p, &past));
	tparker_destroy(&p);
}

/* A timed park that an unpark ends: true, long before its deadline. */
struct timed {
	tparker_t p;
	_Atomic int parked;
};

static void *timed_waker(void *arg)
{
	struct timed *t = arg;
	while (!atomic_load(&t->parked))
		sched_yield();
	struct timespec pause = {0, 20000000};
	nanosleep(&pause, NULL);
	tparker_unpark(tparker_unpark_lock(&t->p));
	return NULL;
}

static void case_timed_unparked(void)
{
	struct timed t = {0};
	pthread_t th;
	WT_CHECK(tparker_init_with(&t.p, backend) == 0);
	tparker_prepare_park(&t.p);
	WT_CHECK(pthread_create(&th, NULL, timed_waker, &t) == 0);
	atomic_store(&t.parked, 1);
	struct timespec d = tparker_deadline_after(30ull * 1000000000u);
	uint64_t t0 = wt_now_ns();
	WT_CHECK(tparker_park_until(&t.p, &d));
	WT_CHECK(wt_now_ns() - t0 < 20ull * 1000000000u);
	WT_CHECK(!tparker_timed_out(&t.p));
	WT_CHECK(pthread_join(th, NULL) == 0);
	tparker_destroy(&t.p);
}

/* A storm: many threads parked at once, all woken by one thread. */
#define STORM_THREADS 12
struct storm {
	tparker_t p[STORM_THREADS];
	_Atomic int ready, woken;
	_Atomic int go;
};

struct storm_arg {
	struct storm *s;
	int i;
};

static void *storm_parker(void *arg)
{
	struct storm_arg *a = arg;
	struct storm *s = a->s;
	tparker_prepare_park(&s->p[a->i]);
	atomic_fetch_add(&s->ready, 1);
	tparker_park(&s->p[a->i]);
	/* Only the waker's unpark ends the park: go was set before it. */
	if (atomic_load(&s->go))
		atomic_fetch_add(&s->woken, 1);
	return NULL;
}

static void case_storm(void)
{
	struct storm s = {0};
	struct storm_arg args[STORM_THREADS];
	pthread_t th[STORM_THREADS];
	pthread_attr_t attr;
	/* Small stacks: the memory is fixed (16 MiB, no growth) and each
	 * thread's stack comes out of it. */
	WT_CHECK(pthread_attr_init(&attr) == 0);
	WT_CHECK(pthread_attr_setstacksize(&attr, 128 * 1024) == 0);
	for (int i = 0; i < STORM_THREADS; i++) {
		WT_CHECK(tparker_init_with(&s.p[i], backend) == 0);
		args[i] = (struct storm_arg){&s, i};
		WT_CHECK(pthread_create(&th[i], &attr, storm_parker, &args[i]) == 0);
	}
	pthread_attr_destroy(&attr);
	while (atomic_load(&s.ready) < STORM_THREADS)
		sched_yield();
	/* Let them reach the wait itself, not only prepare_park. */
	struct timespec pause = {0, 50000000};
	nanosleep(&pause, NULL);
	WT_CHECK(atomic_load(&s.woken) == 0);
	atomic_store(&s.go, 1);
	tparker_unpark_handle_t h[STORM_THREADS];
	for (int i = 0; i < STORM_THREADS; i++)
		h[i] = tparker_unpark_lock(&s.p[i]);
	for (int i = 0; i < STORM_THREADS; i++)
		tparker_unpark(h[i]);
	for (int i = 0; i < STORM_THREADS; i++)
		WT_CHECK(pthread_join(th[i], NULL) == 0);
	WT_CHECK(atomic_load(&s.woken) == STORM_THREADS);
	for (int i = 0; i < STORM_THREADS; i++)
		tparker_destroy(&s.p[i]);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: wasm-park BACKEND|default\n");
		return 2;
	}
	backend = wt_backend(argv[1]);
	printf("backend %s (default %s: %s); main() on the runtime's main thread: %s\n",
	       tparker_backend_name(backend), tparker_backend_name(tparker_default_backend()),
	       tparker_default_reason(), emscripten_is_main_runtime_thread() ? "yes" : "no");
	WT_RUN(case_unpark_before_park);
	WT_RUN(case_pingpong);
	WT_RUN(case_timeout_never_early);
	WT_RUN(case_timed_unparked);
	WT_RUN(case_storm);
	WT_RUN(case_two_backends);
	return wt_finish();
}
