/* SPDX-License-Identifier: MIT */
/* Inline baselines compiled into the tool, so every backend is measured
 * against well-known designs in the same run:
 *   raw-futex    parking_lot's linux.rs: one int, FUTEX_WAKE on every unpark
 *   raw-condvar  parking_lot's unix.rs: mutex + condvar + flag
 *   posix-sem    a sem_t and a flag
 *   cxx20-atomic C++20 std::atomic<int>::wait / notify_one (bench_cxx.cpp),
 *                when the tool was built with a C++ compiler
 * They are deliberately plain: a baseline that grew clever would hide what
 * the library's tricks buy. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "bench.h"
#if defined(HAVE_CXX_BASELINE)
#include "bench_cxx.h"
#endif

#if defined(__linux__)
/* ---- raw-futex ------------------------------------------------------------ */

struct raw_futex {
	atomic_int futex; /* 1: parked, 0: unparked */
};

static int rf_init(const struct bench_variant *v, void *p)
{
	(void)v;
	struct raw_futex *f = p;
	atomic_init(&f->futex, 0);
	return 0;
}

static void rf_destroy(void *p)
{
	(void)p;
}

static inline void rf_prepare_park(void *p)
{
	struct raw_futex *f = p;
	atomic_store_explicit(&f->futex, 1, memory_order_relaxed);
}

static bool rf_timed_out(void *p)
{
	struct raw_futex *f = p;
	return atomic_load_explicit(&f->futex, memory_order_relaxed) != 0;
}

static void rf_wait(struct raw_futex *f, const struct timespec *rel)
{
	/* EINTR, EAGAIN and ETIMEDOUT all send the caller back to its loop. */
	syscall(SYS_futex, (void *)&f->futex, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 1, rel, NULL, 0);
}

static inline void rf_park(void *p)
{
	struct raw_futex *f = p;
	while (atomic_load_explicit(&f->futex, memory_order_acquire) != 0)
		rf_wait(f, NULL);
}

static bool rf_park_until(void *p, const struct timespec *deadline)
{
	struct raw_futex *f = p;
	while (atomic_load_explicit(&f->futex, memory_order_acquire) != 0) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		int64_t left = bench_ts_diff_ns(deadline, &now);
		if (left <= 0)
			return false;
		struct timespec rel = {(time_t)(left / 1000000000), (long)(left % 1000000000)};
		rf_wait(f, &rel);
	}
	return true;
}

static inline void rf_unpark(void *p)
{
	struct raw_futex *f = p;
	/* unpark_lock: release the owner; unpark: always FUTEX_WAKE. */
	atomic_store_explicit(&f->futex, 0, memory_order_release);
	syscall(SYS_futex, (void *)&f->futex, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, NULL, NULL, 0);
}

BENCH_DEFINE_FASTPATH(rf_fastpath, rf_prepare_park, rf_unpark, rf_park)

static const struct bench_ops raw_futex_ops = {
    .init = rf_init,
    .destroy = rf_destroy,
    .prepare_park = rf_prepare_park,
    .park = rf_park,
    .park_until = rf_park_until,
    .timed_out = rf_timed_out,
    .unpark = rf_unpark,
    .fastpath = rf_fastpath,
};
#endif

/* ---- raw-condvar ------------------------------------------------------------ */

struct raw_condvar {
	pthread_mutex_t mutex;
	pthread_cond_t cond;
	bool should_park; /* under mutex, except in prepare_park (as unix.rs) */
};

static int rc_init(const struct bench_variant *v, void *p)
{
	(void)v;
	struct raw_condvar *c = p;
	pthread_condattr_t attr;
	int err = pthread_condattr_init(&attr);
	if (err)
		return err;
	err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (!err)
		err = pthread_cond_init(&c->cond, &attr);
	pthread_condattr_destroy(&attr);
	if (err)
		return err;
	err = pthread_mutex_init(&c->mutex, NULL);
	if (err)
		pthread_cond_destroy(&c->cond);
	c->should_park = false;
	return err;
}

static void rc_destroy(void *p)
{
	struct raw_condvar *c = p;
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->mutex);
}

static inline void rc_prepare_park(void *p)
{
	/* No lock: nobody can reach the parker before the owner publishes it,
	 * and publishing orders this write. */
	struct raw_condvar *c = p;
	c->should_park = true;
}

static inline void rc_park(void *p)
{
	struct raw_condvar *c = p;
	pthread_mutex_lock(&c->mutex);
	while (c->should_park)
		pthread_cond_wait(&c->cond, &c->mutex);
	pthread_mutex_unlock(&c->mutex);
}

static bool rc_park_until(void *p, const struct timespec *deadline)
{
	struct raw_condvar *c = p;
	pthread_mutex_lock(&c->mutex);
	while (c->should_park) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (bench_ts_diff_ns(deadline, &now) <= 0) {
			pthread_mutex_unlock(&c->mutex);
			return false;
		}
		pthread_cond_timedwait(&c->cond, &c->mutex, deadline);
	}
	pthread_mutex_unlock(&c->mutex);
	return true;
}

static bool rc_timed_out(void *p)
{
	struct raw_condvar *c = p;
	pthread_mutex_lock(&c->mutex);
	bool r = c->should_park;
	pthread_mutex_unlock(&c->mutex);
	return r;
}

static inline void rc_unpark(void *p)
{
	struct raw_condvar *c = p;
	/* unpark_lock takes the mutex (keeping the parker alive); unpark
	 * clears the flag, signals and unlocks. */
	pthread_mutex_lock(&c->mutex);
	c->should_park = false;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->mutex);
}

BENCH_DEFINE_FASTPATH(rc_fastpath, rc_prepare_park, rc_unpark, rc_park)

static const struct bench_ops raw_condvar_ops = {
    .init = rc_init,
    .destroy = rc_destroy,
    .prepare_park = rc_prepare_park,
    .park = rc_park,
    .park_until = rc_park_until,
    .timed_out = rc_timed_out,
    .unpark = rc_unpark,
    .fastpath = rc_fastpath,
};

/* ---- posix-sem ---------------------------------------------------------------
 * The flag says whether an unparker has come (timed_out needs that under
 * the queue lock); the semaphore carries the wakeup. A post that arrives
 * after its park already returned is stale: park re-checks the flag after
 * every wait, and prepare_park drains stale posts so the count stays small. */

struct posix_sem {
	sem_t sem;
	atomic_int parked;
};

static int ps_init(const struct bench_variant *v, void *p)
{
	(void)v;
	struct posix_sem *s = p;
	atomic_init(&s->parked, 0);
	return sem_init(&s->sem, 0, 0) == 0 ? 0 : errno;
}

static void ps_destroy(void *p)
{
	struct posix_sem *s = p;
	sem_destroy(&s->sem);
}

static inline void ps_prepare_park(void *p)
{
	struct posix_sem *s = p;
	while (sem_trywait(&s->sem) == 0)
		;
	atomic_store_explicit(&s->parked, 1, memory_order_relaxed);
}

static inline void ps_park(void *p)
{
	struct posix_sem *s = p;
	while (atomic_load_explicit(&s->parked, memory_order_acquire) != 0)
		sem_wait(&s->sem); /* EINTR: loop */
}

static bool ps_park_until(void *p, const struct timespec *deadline)
{
	struct posix_sem *s = p;
	while (atomic_load_explicit(&s->parked, memory_order_acquire) != 0) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (bench_ts_diff_ns(deadline, &now) <= 0)
			return false;
#if defined(HAVE_SEM_CLOCKWAIT)
		sem_clockwait(&s->sem, CLOCK_MONOTONIC, deadline);
#else
		struct timespec real;
		clock_gettime(CLOCK_REALTIME, &real);
		real = bench_ts_add_ns(real, (uint64_t)bench_ts_diff_ns(deadline, &now));
		sem_timedwait(&s->sem, &real);
#endif
	}
	return true;
}

static bool ps_timed_out(void *p)
{
	struct posix_sem *s = p;
	return atomic_load_explicit(&s->parked, memory_order_relaxed) != 0;
}

static inline void ps_unpark(void *p)
{
	struct posix_sem *s = p;
	atomic_store_explicit(&s->parked, 0, memory_order_release);
	sem_post(&s->sem);
}

BENCH_DEFINE_FASTPATH(ps_fastpath, ps_prepare_park, ps_unpark, ps_park)

static const struct bench_ops posix_sem_ops = {
    .init = ps_init,
    .destroy = ps_destroy,
    .prepare_park = ps_prepare_park,
    .park = ps_park,
    .park_until = ps_park_until,
    .timed_out = ps_timed_out,
    .unpark = ps_unpark,
    .fastpath = ps_fastpath,
};

#if defined(HAVE_CXX_BASELINE)
/* ---- cxx20-atomic --------------------------------------------------------- */

static int cx_init(const struct bench_variant *v, void *p)
{
	(void)v;
	bench_cxx_init(p);
	return 0;
}

static const struct bench_ops cxx_ops = {
    .init = cx_init,
    .destroy = bench_cxx_destroy,
    .prepare_park = bench_cxx_prepare_park,
    .park = bench_cxx_park,
    .park_until = NULL, /* C++20 has no timed wait */
    .timed_out = bench_cxx_timed_out,
    .unpark = bench_cxx_unpark,
    .fastpath = bench_cxx_fastpath,
};

static const struct bench_ops cxx_seq_cst_ops = {
    .init = cx_init,
    .destroy = bench_cxx_destroy,
    .fastpath = bench_cxx_fastpath_seq_cst,
};
#endif

/* ---- cas-floor -------------------------------------------------------------
 * The fast path's floor on this CPU: a parker whose unparker must learn, in
 * one atomic step, whether the owner went to sleep (or it could lose the
 * wakeup) pays at least one read-modify-write per cycle. This is that cycle
 * and nothing else: store PARKED, compare-exchange PARKED -> UNPARKED, load;
 * no CPU recorded, no library, no wake. */

static int floor_init(const struct bench_variant *v, void *p)
{
	(void)v;
	atomic_init((_Atomic uint32_t *)p, 0);
	return 0;
}

static void floor_destroy(void *p)
{
	(void)p;
}

static inline void floor_prepare_park(void *p)
{
	atomic_store_explicit((_Atomic uint32_t *)p, 1, memory_order_relaxed);
}

static inline void floor_unpark(void *p)
{
	uint32_t parked = 1;
	atomic_compare_exchange_strong_explicit((_Atomic uint32_t *)p, &parked, 0,
						memory_order_release, memory_order_relaxed);
}

static inline void floor_park(void *p)
{
	while (atomic_load_explicit((_Atomic uint32_t *)p, memory_order_acquire) != 0)
		;
}

BENCH_DEFINE_FASTPATH(floor_fastpath, floor_prepare_park, floor_unpark, floor_park)

static const struct bench_ops floor_ops = {
    .init = floor_init,
    .destroy = floor_destroy,
    .fastpath = floor_fastpath,
};

static void baseline(struct bench_variant *v, const char *name, const struct bench_ops *ops,
		     size_t size)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", name);
	v->kind = BENCH_BASELINE;
	v->ops = ops;
	v->parker_size = size;
	v->memory = size;
}

size_t bench_baselines(struct bench_variant *out, size_t max)
{
	size_t n = 0;
#if defined(__linux__)
	if (n < max)
		baseline(&out[n++], "raw-futex", &raw_futex_ops, sizeof(struct raw_futex));
#endif
	if (n < max)
		baseline(&out[n++], "raw-condvar", &raw_condvar_ops, sizeof(struct raw_condvar));
	if (n < max)
		baseline(&out[n++], "posix-sem", &posix_sem_ops, sizeof(struct posix_sem));
#if defined(HAVE_CXX_BASELINE)
	if (n < max)
		baseline(&out[n++], "cxx20-atomic", &cxx_ops, bench_cxx_size());
	if (n < max) {
		baseline(&out[n], "cxx20-seq-cst", &cxx_seq_cst_ops, bench_cxx_size());
		out[n++].fastpath_only = true;
	}
#endif
	if (n < max) {
		baseline(&out[n], "cas-floor", &floor_ops, sizeof(_Atomic uint32_t));
		out[n++].fastpath_only = true;
	}
	return n;
}
