/* SPDX-License-Identifier: MIT */
/*
 * Linux futex backend: one 32-bit word per parker, private futexes.
 *
 * The word is UNPARKED, PARKED (owner awake) or SLEEPING (owner asleep in
 * the kernel, or about to be). Only an unpark that finds SLEEPING needs a
 * FUTEX_WAKE, so an unpark that lands before the owner sleeps costs no
 * system call at all.
 */
#include <assert.h>
#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tparker/backend.h"

#include "../common/spin.h"

/*
 * A 32-bit ABI built with a 64-bit time_t must use the time64 call, whose
 * timespec layout matches its struct timespec; everywhere else plain futex
 * takes the native struct timespec.
 */
#ifdef SYS_futex_time64
#define FUTEX_SYSCALL (sizeof(time_t) > sizeof(long) ? SYS_futex_time64 : SYS_futex)
#else
#define FUTEX_SYSCALL SYS_futex
#endif

enum { FUTEX_UNPARKED = 0, FUTEX_PARKED = 1, FUTEX_SLEEPING = 2 };

struct futex_state {
	_Atomic uint32_t word;
	struct tp_spin_state spin;
};

static_assert(sizeof(struct futex_state) <= TPARKER_STATE_MAX, "futex state too large");
static_assert(sizeof(_Atomic uint32_t) == sizeof(uint32_t), "futex word is not 32 bits");
/* The kernel reads the word as a plain u32: the atomic must be one. */
static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics are not lock-free");

static long futex_call(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *ts,
		       uint32_t val3)
{
	return syscall(FUTEX_SYSCALL, word, op, (unsigned long)val, ts, NULL, (unsigned long)val3);
}

/* "failed: Function not implemented (ENOSYS)": the symbolic name is what
 * people search for, and strerrorname_np() is not in every libc. */
static void futex_describe(char *why, size_t why_len, const char *call, int err)
{
	static const struct {
		int err;
		const char *name;
	} names[] = {
	    {ENOSYS, "ENOSYS"}, {EPERM, "EPERM"},   {EACCES, "EACCES"},
	    {EINVAL, "EINVAL"}, {EFAULT, "EFAULT"},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i].err == err) {
			snprintf(why, why_len, "%s failed: %s (%s)", call, strerror(err),
				 names[i].name);
			return;
		}
	}
	snprintf(why, why_len, "%s failed: %s (errno %d)", call, strerror(err), err);
}

/* An errno the protocol cannot produce means memory corruption or a broken
 * kernel; carrying on could lose a wakeup, so stop loudly. */
static _Noreturn void futex_fatal(const char *call, int err)
{
	fprintf(stderr, "tparker futex: %s failed: %s (errno %d)\n", call, strerror(err), err);
	abort();
}

static int futex_probe(const struct tparker_host *host, char *why, size_t why_len)
{
	/* Wake and both waits are tried, as some seccomp sandboxes filter
	 * futex by operation; a mismatched value makes each wait return at
	 * once with EAGAIN. */
	static const struct {
		const char *call;
		int op;
		uint32_t val;
	} checks[] = {
	    {"futex(FUTEX_WAKE_PRIVATE)", FUTEX_WAKE_PRIVATE, 1},
	    {"futex(FUTEX_WAIT_PRIVATE)", FUTEX_WAIT_PRIVATE, 1},
	    {"futex(FUTEX_WAIT_BITSET_PRIVATE)", FUTEX_WAIT_BITSET_PRIVATE, 1},
	};
	_Atomic uint32_t word = 0;
	struct timespec past = {0, 0};

	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		const struct timespec *ts = checks[i].op == FUTEX_WAKE_PRIVATE ? NULL : &past;
		if (futex_call(&word, checks[i].op, checks[i].val, ts, FUTEX_BITSET_MATCH_ANY) >= 0)
			continue;
		int err = errno;
		if (err == EAGAIN || err == ETIMEDOUT)
			continue;
		futex_describe(why, why_len, checks[i].call, err);
		return err;
	}
	tp_spin_configure(host, "futex");
	return 0;
}

static int futex_init(void *state)
{
	struct futex_state *s = state;

	atomic_init(&s->word, FUTEX_UNPARKED);
	tp_spin_init(&s->spin);
	return 0;
}

static void futex_destroy(void *state)
{
	(void)state;
}

static void futex_prepare_park(void *state)
{
	struct futex_state *s = state;

	/* Relaxed: the owner publishes the parker under the caller's queue
	 * lock, which orders this store before any unparker's exchange. */
	atomic_store_explicit(&s->word, FUTEX_PARKED, memory_order_relaxed);
}

/* Move PARKED to SLEEPING; false when an unparker got there first. */
static bool futex_announce_sleep(struct futex_state *s, uint32_t seen)
{
	uint32_t expected = FUTEX_PARKED;

	if (seen == FUTEX_SLEEPING)
		return true;
	return atomic_compare_exchange_strong_explicit(&s->word, &expected, FUTEX_SLEEPING,
						       memory_order_relaxed, memory_order_relaxed);
}

static void futex_park(void *state)
{
	struct futex_state *s = state;
	uint32_t spin_ns = atomic_load_explicit(&tp_spin_ns, memory_order_relaxed);

	if (atomic_load_explicit(&s->word, memory_order_acquire) == FUTEX_UNPARKED)
		return;
	if (tp_spin_worth_it(&s->spin, spin_ns))
		tp_spin_wait(&s->spin, &s->word, FUTEX_PARKED, spin_ns, NULL);
	for (;;) {
		uint32_t v = atomic_load_explicit(&s->word, memory_order_acquire);
		if (v == FUTEX_UNPARKED)
			return;
		if (!futex_announce_sleep(s, v))
			continue;
		if (futex_call(&s->word, FUTEX_WAIT_PRIVATE, FUTEX_SLEEPING, NULL, 0) == 0)
			continue;
		int err = errno;
		if (err != EINTR && err != EAGAIN)
			futex_fatal("futex(FUTEX_WAIT_PRIVATE)", err);
	}
}

static bool futex_park_until(void *state, const struct timespec *deadline)
{
	struct futex_state *s = state;
	uint32_t spin_ns = atomic_load_explicit(&tp_spin_ns, memory_order_relaxed);
	unsigned long slack = 0;
	bool tightened = false, early, unparked;

	if (atomic_load_explicit(&s->word, memory_order_acquire) == FUTEX_UNPARKED)
		return true;
	if (tp_spin_worth_it(&s->spin, spin_ns))
		tp_spin_wait(&s->spin, &s->word, FUTEX_PARKED, spin_ns, deadline);
	for (;;) {
		uint32_t v = atomic_load_explicit(&s->word, memory_order_acquire);
		if (v == FUTEX_UNPARKED) {
			unparked = true;
			break;
		}
		if (tparker_deadline_passed(deadline)) {
			unparked = false;
			break;
		}
		if (!futex_announce_sleep(s, v))
			continue;
		if (!tightened) {
			slack = tp_slack_tighten();
			tightened = true;
		}
		/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time, so
		 * a retry after EINTR or a spurious wakeup does not drift. */
		struct timespec wake = tp_early_wake(deadline, spin_ns, &early);
		if (futex_call(&s->word, FUTEX_WAIT_BITSET_PRIVATE, FUTEX_SLEEPING, &wake,
			       FUTEX_BITSET_MATCH_ANY) == 0)
			continue;
		int err = errno;
		if (err == ETIMEDOUT && early)
			tp_early_finish(&s->word, FUTEX_SLEEPING, &wake, deadline);
		if (err != EINTR && err != EAGAIN && err != ETIMEDOUT)
			futex_fatal("futex(FUTEX_WAIT_BITSET_PRIVATE)", err);
	}
	tp_slack_restore(slack);
	return unparked;
}

static bool futex_timed_out(void *state)
{
	struct futex_state *s = state;

	return atomic_load_explicit(&s->word, memory_order_relaxed) != FUTEX_UNPARKED;
}

static bool futex_unpark_lock(void *state, tparker_unpark_handle_t *h)
{
	struct futex_state *s = state;
	uint32_t old;

	tp_spin_note_waker(&s->spin);
	old = atomic_exchange_explicit(&s->word, FUTEX_UNPARKED, memory_order_release);

	h->addr = &s->word;
	return old == FUTEX_SLEEPING;
}

static void futex_unpark(const tparker_unpark_handle_t *h)
{
	if (futex_call(h->addr, FUTEX_WAKE_PRIVATE, 1, NULL, 0) >= 0)
		return;
	int err = errno;
	/* The owner may have freed the parker already (EFAULT), or its memory
	 * may now hold a PI futex (EINVAL): both are legitimate, nobody of
	 * ours waits there any more. glibc's futex_wake reasons the same. */
	if (err != EFAULT && err != EINVAL)
		futex_fatal("futex(FUTEX_WAKE_PRIVATE)", err);
}

static void futex_thread_yield(void)
{
	sched_yield();
}

static const struct tparker_backend futex_backend = {
    .version = TPARKER_BACKEND_ABI_VERSION,
    .size = sizeof(struct tparker_backend),
    .name = "futex",
    .description = "Linux futex(2), private FUTEX_WAIT/FUTEX_WAKE on a 32-bit word",
    .priority = 300,
    .state_size = sizeof(struct futex_state),
    .cheap_to_construct = true,
    .probe = futex_probe,
    .init = futex_init,
    .destroy = futex_destroy,
    .prepare_park = futex_prepare_park,
    .park = futex_park,
    .park_until = futex_park_until,
    .timed_out = futex_timed_out,
    .unpark_lock = futex_unpark_lock,
    .unpark = futex_unpark,
    .thread_yield = futex_thread_yield,
};

TPARKER_BACKEND_DEFINE(futex_backend)
