/* SPDX-License-Identifier: MIT */
/*
 * Adaptive spinning before a futex sleep: shared by the futex and futex2
 * plugins as static inline code, since plugins link neither to libtparker
 * nor to each other.
 *
 * Spinning pays when the unparker is running on another CPU and comes soon:
 * a wakeup seen while spinning costs ~100 ns instead of two system calls and
 * a trip through the scheduler. It only burns time otherwise, so it is
 * bounded in time (TPARKER_SPIN_NS, not an iteration count that means
 * nothing across CPUs) and switched off where it cannot win:
 *   - the thread may run on one CPU only (machine or affinity mask): the
 *     unparker cannot run while we spin;
 *   - the last unparker ran on the CPU we are on: it has to be scheduled
 *     in our place before it can wake us;
 *   - spinning has rarely succeeded lately (a loaded machine, a producer
 *     slower than the bound): a per-parker score, with an occasional retry
 *     so that a parker recovers when conditions change.
 */
#ifndef TPARKER_PLUGINS_COMMON_SPIN_H
#define TPARKER_PLUGINS_COMMON_SPIN_H

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "tparker/backend.h"

#include "cpu.h"
#include "slack.h"

/* Long enough to cover a partner that is awake on another CPU and needs a
 * few microseconds to get back to us; short enough that a failed spin is
 * small next to the sleep that follows (a futex wake round trip costs
 * tens of microseconds on a VM). */
#define TP_SPIN_DEFAULT_NS 5000u
/* Above this, spinning is no longer "a little before sleeping". */
#define TP_SPIN_MAX_NS 1000000u
/* Relax iterations between clock reads: a pause is 10-150 cycles, a vDSO
 * clock read about as much, so the bound overshoots by well under 1 us. */
#define TP_SPIN_CHECK_EVERY 16
#define TP_SPIN_SCORE_INIT  2
#define TP_SPIN_SCORE_MAX   8
/* With a score of 0, one park in 2^shift retries a spin; each failed retry
 * doubles the wait, up to one park in 1024, so that a crowd of parkers
 * whose spins cannot succeed (a wake storm) stops stealing CPU time from
 * the threads that were just woken. */
#define TP_SPIN_RETRY_SHIFT_MIN 4
#define TP_SPIN_RETRY_SHIFT_MAX 10
/* Parks between two reads of the thread's affinity mask. */
#define TP_SPIN_AFFINITY_EVERY 4096u

/* Set once by probe, before any parker exists; relaxed loads after. */
static _Atomic uint32_t tp_spin_ns = TP_SPIN_DEFAULT_NS;

/* Per parker, beside the futex word. */
struct tp_spin_state {
	/* CPU of the last unparker, -1 unknown: written by unparkers before
	 * their releasing exchange, read by the owner. */
	_Atomic int32_t waker_cpu;
	/* Owner only. */
	uint8_t score;
	uint8_t retry_shift;
	uint16_t skipped;
};

static inline void tp_spin_init(struct tp_spin_state *s)
{
	atomic_init(&s->waker_cpu, -1);
	s->score = TP_SPIN_SCORE_INIT;
	s->retry_shift = TP_SPIN_RETRY_SHIFT_MIN;
	s->skipped = 0;
}

/* Read TPARKER_SPIN_NS and the machine's CPU count; from probe. */
static inline void tp_spin_configure(const struct tparker_host *host, const char *backend)
{
	uint32_t ns = TP_SPIN_DEFAULT_NS;
	const char *v = host && host->getenv ? host->getenv("TPARKER_SPIN_NS") : NULL;

	if (v) {
		char *end;
		errno = 0;
		unsigned long long n = strtoull(v, &end, 10);
		if (*v < '0' || *v > '9' || *end || errno || n > TP_SPIN_MAX_NS) {
			if (host->debug)
				host->debug("%s: ignoring TPARKER_SPIN_NS='%s' (want 0 to %u); "
					    "spinning up to %u ns",
					    backend, v, TP_SPIN_MAX_NS, ns);
		} else {
			ns = (uint32_t)n;
		}
	}
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (cpus == 1 && ns) {
		if (host && host->debug)
			host->debug("%s: one CPU online: never spinning before sleep", backend);
		ns = 0;
	} else if (host && host->debug) {
		host->debug("%s: spinning up to %u ns before sleeping", backend, ns);
	}
	atomic_store_explicit(&tp_spin_ns, ns, memory_order_relaxed);
}

/* How many CPUs this thread may run on, re-read now and then since a
 * thread can change its own affinity. */
static inline int tp_spin_thread_cpus(void)
{
	static _Thread_local int cpus;
	static _Thread_local uint32_t age;

	if (age-- == 0 || cpus == 0) {
		cpu_set_t set;
		cpus = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 2;
		age = TP_SPIN_AFFINITY_EVERY;
	}
	return cpus;
}

/* Unparker, before the exchange that releases the owner (after it, the
 * owner may free the parker). */
static inline void tp_spin_note_waker(struct tp_spin_state *s)
{
	atomic_store_explicit(&s->waker_cpu, tp_current_cpu(), memory_order_relaxed);
}

/* Owner: is a spin worth trying now? */
static inline bool tp_spin_worth_it(struct tp_spin_state *s, uint32_t ns)
{
	if (!ns || tp_spin_thread_cpus() <= 1)
		return false;
	int32_t waker = atomic_load_explicit(&s->waker_cpu, memory_order_relaxed);
	if (waker >= 0 && waker == tp_current_cpu())
		return false;
	if (s->score == 0) {
		if (++s->skipped < (1u << s->retry_shift))
			return false;
		s->skipped = 0;
	}
	return true;
}

static inline uint64_t tp_spin_ts_ns(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000u + (uint64_t)t->tv_nsec;
}

/*
 * Owner: spin until *word leaves `parked` (true) or ns nanoseconds pass, or
 * the deadline (may be NULL) (false). Updates the score.
 */
static inline bool tp_spin_wait(struct tp_spin_state *s, _Atomic uint32_t *word, uint32_t parked,
				uint32_t ns, const struct timespec *deadline)
{
	struct timespec now = tparker_now();
	uint64_t end = tp_spin_ts_ns(&now) + ns;
	bool ok = false;

	/* A deadline beyond ~584 years cannot be converted, nor matter. */
	if (deadline && (uint64_t)deadline->tv_sec < UINT64_MAX / 1000000000u - 1) {
		uint64_t d = tp_spin_ts_ns(deadline);
		end = d < end ? d : end;
	}
	for (;;) {
		for (int i = 0; i < TP_SPIN_CHECK_EVERY; i++) {
			if (atomic_load_explicit(word, memory_order_relaxed) != parked) {
				ok = true;
				goto done;
			}
			tparker_cpu_relax();
		}
		now = tparker_now();
		if (tp_spin_ts_ns(&now) >= end)
			break;
	}
done:
	if (ok) {
		if (s->score < TP_SPIN_SCORE_MAX)
			s->score++;
		s->retry_shift = TP_SPIN_RETRY_SHIFT_MIN;
	} else if (s->score > 0) {
		s->score--;
	} else if (s->retry_shift < TP_SPIN_RETRY_SHIFT_MAX) {
		s->retry_shift++;
	}
	return ok;
}

/*
 * Timed sleeps end late even with a tight timer slack: the timer interrupt,
 * leaving an idle CPU (through the hypervisor on a VM) and the scheduler
 * take 2-30 us. So a timed sleep asks the kernel for an earlier time, by
 * what this thread's recent timed sleeps overshot, and spins the rest of
 * the way to the deadline: the deadline is met to the microsecond for at
 * most TP_EARLY_MAX_NS of spinning per timed sleep. The estimate tracks an
 * upper quantile (up fast, down slowly) so that most sleeps end before the
 * deadline, and is capped so that a loaded machine cannot make it large.
 */
#define TP_EARLY_MAX_NS 50000u

static _Thread_local uint32_t tp_early_ns;

/* When to ask the kernel to wake us. *active: spinning to the deadline is
 * allowed here, so call tp_early_finish after a timeout. */
static inline struct timespec tp_early_wake(const struct timespec *deadline, uint32_t spin_ns,
					    bool *active)
{
	struct timespec wake = *deadline;
	uint32_t e = tp_early_ns;

	*active = spin_ns && tp_spin_thread_cpus() > 1;
	if (!*active || (wake.tv_sec == 0 && wake.tv_nsec < (long)e))
		return wake;
	wake.tv_nsec -= (long)e;
	if (wake.tv_nsec < 0) {
		wake.tv_nsec += 1000000000L;
		wake.tv_sec--;
	}
	return wake;
}

/* After a timed sleep that asked for `wake` ended by its timeout: learn how
 * late it was, then spin to the deadline unless *word leaves `sleeping`. */
static inline void tp_early_finish(_Atomic uint32_t *word, uint32_t sleeping,
				   const struct timespec *wake, const struct timespec *deadline)
{
	struct timespec now = tparker_now();
	int64_t late =
	    (int64_t)(now.tv_sec - wake->tv_sec) * 1000000000 + (now.tv_nsec - wake->tv_nsec);
	uint32_t e = tp_early_ns;

	if (late < 0)
		late = 0;
	if (late > 2 * (int64_t)TP_EARLY_MAX_NS)
		late = 2 * (int64_t)TP_EARLY_MAX_NS;
	if (late > (int64_t)e)
		e += (uint32_t)((late - (int64_t)e) / 4);
	else
		e -= (uint32_t)(((int64_t)e - late) / 16);
	tp_early_ns = e < TP_EARLY_MAX_NS ? e : TP_EARLY_MAX_NS;

	while (tparker_ts_before(&now, deadline)) {
		for (int i = 0; i < TP_SPIN_CHECK_EVERY; i++) {
			if (atomic_load_explicit(word, memory_order_relaxed) != sleeping)
				return;
			tparker_cpu_relax();
		}
		now = tparker_now();
	}
}

#endif /* TPARKER_PLUGINS_COMMON_SPIN_H */
