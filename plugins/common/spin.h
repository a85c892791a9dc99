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
 * nothing across CPUs) and adapts:
 *   - the thread may run on one CPU only (machine or affinity mask): the
 *     unparker cannot run while we spin, so no spin at all;
 *   - the last unparker ran on the CPU we are on: it has to be scheduled
 *     in our place before it can wake us, so the spin yields the CPU
 *     (a few times) instead of pausing. A partner queued behind us runs at once, and
 *     the two stay runnable rather than asleep, which lets an idle CPU
 *     pull one of them over. Skipping the spin instead is a trap: each
 *     futex wake then places the woken thread on its waker's CPU again,
 *     and the pair never leaves the one CPU (measured: every decision of a
 *     fresh ping-pong pair was that skip, none ever spun);
 *   - spinning has rarely succeeded lately (a loaded machine, a producer
 *     slower than the bound): a per-parker score, with an occasional retry
 *     so that a parker recovers when conditions change. A retry is a probe
 *     TP_SPIN_PROBE_FACTOR times longer than the bound: a partner that was
 *     asleep (why the spins failed) takes longer than the bound to wake,
 *     on a VM tens of microseconds, so a retry of the normal length fails
 *     just as the spins before it did, and the pair stays asleep for good.
 *     A probe that succeeds fills the score, so that the partner, which
 *     is awake now, has time to find spinning pays too.
 *
 * No thread-local storage: a plugin is dlopen'ed, so its TLS is allocated
 * with malloc on a thread's first touch, and a park must never allocate (an
 * allocator's own lock may be built on a parker). What must be remembered
 * lives in the parker, whose owner-only fields are per thread in effect,
 * or is process-wide.
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
/* Spin decisions of a parker between two reads of its owner's affinity
 * mask (a thread can change its own): a system call of well under 1 us
 * over 512 parks, and a thread released from one CPU spins again within
 * a few milliseconds. */
#define TP_SPIN_AFFINITY_EVERY 512u
/* A retry spins this many times the bound (capped at TP_SPIN_MAX_NS): long
 * enough to cover a sleeping partner's wakeup (5 us -> 40 us). */
#define TP_SPIN_PROBE_FACTOR 8u
/* At most this many yields per spin on the waker's CPU: a partner queued
 * behind us needs one to run and wake us; on a loaded machine each yield
 * can hand the CPU to another program for a whole time slice, so a spin
 * made of yields is kept to a few. */
#define TP_SPIN_YIELDS 4

/* Set once by probe, before any parker exists; relaxed loads after. */
static _Atomic uint32_t tp_spin_ns = TP_SPIN_DEFAULT_NS;
/* CPUs in the affinity mask of the thread that probed, which the threads it
 * starts inherit: where a new parker starts, so that a parker made for a
 * single wait costs no system call to learn it. Set by probe. */
static _Atomic uint32_t tp_spin_cpus_at_probe = 2;

/* Per parker, beside the futex word. */
struct tp_spin_state {
	/* CPU of the last unparker, -1 unknown: written by unparkers before
	 * their releasing exchange, read by the owner. */
	_Atomic int32_t waker_cpu;
	/* Owner only. */
	uint8_t score;
	uint8_t retry_shift;
	uint16_t skipped;
	/* CPUs the owner may run on, as last read, and spin decisions left
	 * until the next read. */
	uint16_t cpus;
	uint16_t age;
	/* The plan tp_spin_worth_it made for the next tp_spin_wait: yield
	 * rather than pause (the waker shares our CPU), and probe (a retry). */
	bool yield;
	bool probe;
};

static inline uint16_t tp_spin_read_cpus(void)
{
#if defined(__linux__) && defined(CPU_COUNT)
	cpu_set_t set;
	/* A mask wider than cpu_set_t (over 1024 CPUs) is many CPUs. */
	int n = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 2;
#else
	/* No affinity mask to read: the CPUs online. */
	long n = sysconf(_SC_NPROCESSORS_ONLN);
#endif
	return (uint16_t)(n > 0 ? (n < UINT16_MAX ? n : UINT16_MAX) : 2);
}

static inline void tp_spin_init(struct tp_spin_state *s)
{
	atomic_init(&s->waker_cpu, -1);
	s->score = TP_SPIN_SCORE_INIT;
	s->retry_shift = TP_SPIN_RETRY_SHIFT_MIN;
	s->skipped = 0;
	s->cpus = (uint16_t)atomic_load_explicit(&tp_spin_cpus_at_probe, memory_order_relaxed);
	s->age = TP_SPIN_AFFINITY_EVERY;
	s->yield = false;
	s->probe = false;
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
	atomic_store_explicit(&tp_spin_cpus_at_probe, tp_spin_read_cpus(), memory_order_relaxed);
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

/* Owner: how many CPUs it may run on, re-read now and then. */
static inline unsigned tp_spin_owner_cpus(struct tp_spin_state *s)
{
	if (--s->age == 0) {
		s->cpus = tp_spin_read_cpus();
		s->age = TP_SPIN_AFFINITY_EVERY;
	}
	return s->cpus;
}

/* Unparker, before the exchange that releases the owner (after it, the
 * owner may free the parker). */
static inline void tp_spin_note_waker(struct tp_spin_state *s)
{
	atomic_store_explicit(&s->waker_cpu, tp_current_cpu(), memory_order_relaxed);
}

/* Owner: is a spin worth trying now? Plans how for tp_spin_wait. */
static inline bool tp_spin_worth_it(struct tp_spin_state *s, uint32_t ns)
{
	if (!ns || tp_spin_owner_cpus(s) <= 1)
		return false;
	int32_t waker = atomic_load_explicit(&s->waker_cpu, memory_order_relaxed);
	s->yield = waker >= 0 && waker == tp_current_cpu();
	s->probe = false;
	if (s->score == 0) {
		if (++s->skipped < (1u << s->retry_shift))
			return false;
		s->skipped = 0;
		s->probe = true;
	}
	return true;
}

/* Owner: the bound of the spin tp_spin_worth_it planned. */
static inline uint32_t tp_spin_bound(const struct tp_spin_state *s, uint32_t ns)
{
	if (!s->probe)
		return ns;
	return ns < TP_SPIN_MAX_NS / TP_SPIN_PROBE_FACTOR ? ns * TP_SPIN_PROBE_FACTOR
							  : TP_SPIN_MAX_NS;
}

/* Owner: learn from a spin that was not cut short by a deadline. */
static inline void tp_spin_learn(struct tp_spin_state *s, bool ok)
{
	if (ok) {
		/* A probe that succeeded: the partner is awake again and
		 * must find out for itself; spin for it meanwhile. */
		s->score = s->probe			  ? TP_SPIN_SCORE_MAX
			   : s->score < TP_SPIN_SCORE_MAX ? s->score + 1
							  : TP_SPIN_SCORE_MAX;
		s->retry_shift = TP_SPIN_RETRY_SHIFT_MIN;
	} else if (s->score > 0) {
		s->score--;
	} else if (s->retry_shift < TP_SPIN_RETRY_SHIFT_MAX) {
		s->retry_shift++;
	}
}

static inline uint64_t tp_spin_ts_ns(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000u + (uint64_t)t->tv_nsec;
}

/*
 * Owner: spin as tp_spin_worth_it planned, ns being TPARKER_SPIN_NS, until
 * *word leaves `parked` (true) or the bound passes, or the deadline (may be
 * NULL) (false). Updates the score, except when the deadline cut the spin
 * short: that says nothing about whether spinning pays.
 */
static inline bool tp_spin_wait(struct tp_spin_state *s, _Atomic uint32_t *word, uint32_t parked,
				uint32_t ns, const struct timespec *deadline)
{
	struct timespec now = tparker_now();
	uint64_t end = tp_spin_ts_ns(&now) + tp_spin_bound(s, ns);
	/* A yield is a system call: the clock is read after each. */
	int every = s->yield ? 1 : TP_SPIN_CHECK_EVERY, yields = 0;
	bool ok = false, cut = false;

	/* A deadline beyond ~584 years cannot be converted, nor matter. */
	if (deadline && (uint64_t)deadline->tv_sec < UINT64_MAX / 1000000000u - 1) {
		uint64_t d = tp_spin_ts_ns(deadline);
		if (d < end) {
			end = d;
			cut = true;
		}
	}
	for (;;) {
		for (int i = 0; i < every; i++) {
			if (atomic_load_explicit(word, memory_order_relaxed) != parked) {
				ok = true;
				goto done;
			}
			if (s->yield)
				sched_yield();
			else
				tparker_cpu_relax();
		}
		now = tparker_now();
		if (tp_spin_ts_ns(&now) >= end || (s->yield && ++yields == TP_SPIN_YIELDS))
			break;
	}
done:
	/* A yield can hand the CPU to another program for a whole time slice
	 * (a loaded machine): a wakeup seen only after the bound is no sign
	 * that spinning pays, though it spares us the sleep. */
	if (ok && s->yield && yields > 0 && tp_spin_ts_ns(&now) >= end)
		tp_spin_learn(s, false);
	else if (ok || !cut)
		tp_spin_learn(s, ok);
	return ok;
}

/*
 * Timed sleeps end late even with a tight timer slack: the timer interrupt,
 * leaving an idle CPU (through the hypervisor on a VM) and the scheduler
 * take 2-30 us (60-70 us on some VMs). So a timed sleep asks the kernel for
 * an earlier time, by what recent timed sleeps overshot, and spins the rest
 * of the way to the deadline. Two bounds keep that spin cheap: at most
 * TP_EARLY_MAX_NS per timed sleep, and at most 1/TP_EARLY_FRACTION of the
 * time left to sleep, so a short timeout is never turned into a busy wait
 * (a 1 ms park spins at most 100 us, a 200 us one at most 25 us). The
 * estimate tracks an upper quantile (up fast, down slowly) so that most
 * sleeps end before the deadline, and the caps keep a loaded machine from
 * making it large.
 *
 * The lateness belongs to the machine (timer, idle exit, hypervisor), not to
 * a thread, so the estimate is process-wide: a parker made for one wait
 * starts with what others learned. Updates race harmlessly (an estimate; a
 * lost update is one sample fewer) and follow a sleep, never a fast path.
 */
#define TP_EARLY_MAX_NS  100000u
#define TP_EARLY_FRACTION 8

static _Atomic uint32_t tp_early_ns;

/* Owner: when to ask the kernel to wake us (the deadline is still ahead).
 * *active: spinning to the deadline is allowed here, so call
 * tp_early_finish after a timeout. */
static inline struct timespec tp_early_wake(const struct tp_spin_state *s,
					    const struct timespec *deadline, uint32_t spin_ns,
					    bool *active)
{
	struct timespec wake = *deadline;
	uint32_t e = atomic_load_explicit(&tp_early_ns, memory_order_relaxed);

	*active = spin_ns && s->cpus > 1;
	if (!*active || e == 0)
		return wake;
	struct timespec now = tparker_now();
	int64_t left = (int64_t)(deadline->tv_sec - now.tv_sec) * 1000000000 +
		       (deadline->tv_nsec - now.tv_nsec);
	if (left <= 0)
		return wake;
	if ((int64_t)e > left / TP_EARLY_FRACTION)
		e = (uint32_t)(left / TP_EARLY_FRACTION);
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
	uint32_t e = atomic_load_explicit(&tp_early_ns, memory_order_relaxed);

	if (late < 0)
		late = 0;
	if (late > 2 * (int64_t)TP_EARLY_MAX_NS)
		late = 2 * (int64_t)TP_EARLY_MAX_NS;
	if (late > (int64_t)e)
		e += (uint32_t)((late - (int64_t)e) / 4);
	else
		e -= (uint32_t)(((int64_t)e - late) / 16);
	atomic_store_explicit(&tp_early_ns, e < TP_EARLY_MAX_NS ? e : TP_EARLY_MAX_NS,
			      memory_order_relaxed);

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
