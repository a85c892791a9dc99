/* SPDX-License-Identifier: MIT */
/*
 * Linux futex2 backend: the futex_wait(2)/futex_wake(2) system calls of
 * Linux >= 6.7, with the same three-state word as the futex backend
 * (UNPARKED, PARKED, SLEEPING): only an unpark that finds SLEEPING makes a
 * system call.
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
 * Headers older than Linux 6.7 lack these. Every architecture numbers the
 * new calls from the unified table, where futex_wake and futex_wait come 5
 * and 6 after futex_waitv (454/455 and 449 on most; offset on alpha, mips).
 */
#ifndef __NR_futex_wake
#ifdef __NR_futex_waitv
#define __NR_futex_wake (__NR_futex_waitv + 5)
#else
#define __NR_futex_wake 454
#endif
#endif
#ifndef __NR_futex_wait
#define __NR_futex_wait (__NR_futex_wake + 1)
#endif
#ifndef FUTEX2_SIZE_U32
#define FUTEX2_SIZE_U32 0x02
#endif
#ifndef FUTEX2_PRIVATE
#define FUTEX2_PRIVATE 128
#endif

#define FUTEX2_FLAGS (FUTEX2_SIZE_U32 | FUTEX2_PRIVATE)
#define FUTEX2_MASK  ((unsigned long)FUTEX_BITSET_MATCH_ANY)

enum { FUTEX2_UNPARKED = 0, FUTEX2_PARKED = 1, FUTEX2_SLEEPING = 2 };

struct futex2_state {
	_Atomic uint32_t word;
	struct tp_spin_state spin;
};

/* The kernel's struct __kernel_timespec: 64-bit fields on every ABI. */
struct futex2_timespec {
	long long tv_sec;
	long long tv_nsec;
};

static_assert(sizeof(struct futex2_state) <= TPARKER_STATE_MAX, "futex2 state too large");
static_assert(sizeof(_Atomic uint32_t) == sizeof(uint32_t), "futex word is not 32 bits");
/* The kernel reads the word as a plain u32: the atomic must be one. */
static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics are not lock-free");

static long futex2_wait_call(_Atomic uint32_t *word, uint32_t val,
			     const struct futex2_timespec *abs_timeout)
{
	return syscall(__NR_futex_wait, word, (unsigned long)val, FUTEX2_MASK,
		       (unsigned int)FUTEX2_FLAGS, abs_timeout, (int)CLOCK_MONOTONIC);
}

static long futex2_wake_call(void *word)
{
	return syscall(__NR_futex_wake, word, FUTEX2_MASK, 1, (unsigned int)FUTEX2_FLAGS);
}

/* "failed: Function not implemented (ENOSYS)": the symbolic name is what
 * people search for, and strerrorname_np() is not in every libc. */
static void futex2_describe(char *why, size_t why_len, const char *call, int err)
{
	static const struct {
		int err;
		const char *name;
	} names[] = {
	    {ENOSYS, "ENOSYS"}, {EPERM, "EPERM"},   {EACCES, "EACCES"},
	    {EINVAL, "EINVAL"}, {EFAULT, "EFAULT"},
	};
	/* ENOSYS also comes from seccomp filters and from emulators (valgrind,
	 * qemu-user) that predate the calls. */
	const char *hint = err == ENOSYS
			       ? "; the futex2 backend needs Linux >= 6.7 and no sandbox or "
				 "emulator hiding the call"
			       : "";

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i].err == err) {
			snprintf(why, why_len, "%s failed: %s (%s)%s", call, strerror(err),
				 names[i].name, hint);
			return;
		}
	}
	snprintf(why, why_len, "%s failed: %s (errno %d)%s", call, strerror(err), err, hint);
}

static _Noreturn void futex2_fatal(const char *call, int err)
{
	fprintf(stderr, "tparker futex2: %s failed: %s (errno %d)\n", call, strerror(err), err);
	abort();
}

static int futex2_probe(const struct tparker_host *host, char *why, size_t why_len)
{
	_Atomic uint32_t word = 0;
	struct futex2_timespec past = {0, 0};

	if (futex2_wake_call(&word) < 0) {
		int err = errno;
		futex2_describe(why, why_len, "futex_wake()", err);
		return err;
	}
	/* A mismatched value returns at once (EAGAIN); the past timeout is a
	 * second guarantee that the probe never blocks. */
	if (futex2_wait_call(&word, 1, &past) < 0 && errno != EAGAIN && errno != ETIMEDOUT) {
		int err = errno;
		futex2_describe(why, why_len, "futex_wait()", err);
		return err;
	}
	tp_spin_configure(host, "futex2");
	return 0;
}

static int futex2_init(void *state)
{
	struct futex2_state *s = state;

	atomic_init(&s->word, FUTEX2_UNPARKED);
	tp_spin_init(&s->spin);
	return 0;
}

static void futex2_destroy(void *state)
{
	(void)state;
}

static void futex2_prepare_park(void *state)
{
	struct futex2_state *s = state;

	/* Relaxed: the owner publishes the parker under the caller's queue
	 * lock, which orders this store before any unparker's exchange. */
	atomic_store_explicit(&s->word, FUTEX2_PARKED, memory_order_relaxed);
}

/* Move PARKED to SLEEPING; false when an unparker got there first. */
static bool futex2_announce_sleep(struct futex2_state *s, uint32_t seen)
{
	uint32_t expected = FUTEX2_PARKED;

	if (seen == FUTEX2_SLEEPING)
		return true;
	return atomic_compare_exchange_strong_explicit(&s->word, &expected, FUTEX2_SLEEPING,
						       memory_order_relaxed, memory_order_relaxed);
}

static void futex2_park(void *state)
{
	struct futex2_state *s = state;
	uint32_t spin_ns = atomic_load_explicit(&tp_spin_ns, memory_order_relaxed);

	if (atomic_load_explicit(&s->word, memory_order_acquire) == FUTEX2_UNPARKED)
		return;
	if (tp_spin_worth_it(&s->spin, spin_ns))
		tp_spin_wait(&s->spin, &s->word, FUTEX2_PARKED, spin_ns, NULL);
	for (;;) {
		uint32_t v = atomic_load_explicit(&s->word, memory_order_acquire);
		if (v == FUTEX2_UNPARKED)
			return;
		if (!futex2_announce_sleep(s, v))
			continue;
		if (futex2_wait_call(&s->word, FUTEX2_SLEEPING, NULL) == 0)
			continue;
		int err = errno;
		if (err != EINTR && err != EAGAIN)
			futex2_fatal("futex_wait()", err);
	}
}

static bool futex2_park_until(void *state, const struct timespec *deadline)
{
	struct futex2_state *s = state;
	uint32_t spin_ns = atomic_load_explicit(&tp_spin_ns, memory_order_relaxed);
	unsigned long slack = 0;
	bool tightened = false, early, unparked;

	if (atomic_load_explicit(&s->word, memory_order_acquire) == FUTEX2_UNPARKED)
		return true;
	if (tp_spin_worth_it(&s->spin, spin_ns))
		tp_spin_wait(&s->spin, &s->word, FUTEX2_PARKED, spin_ns, deadline);
	for (;;) {
		uint32_t v = atomic_load_explicit(&s->word, memory_order_acquire);
		if (v == FUTEX2_UNPARKED) {
			unparked = true;
			break;
		}
		if (tparker_deadline_passed(deadline)) {
			unparked = false;
			break;
		}
		if (!futex2_announce_sleep(s, v))
			continue;
		if (!tightened) {
			slack = tp_slack_tighten();
			tightened = true;
		}
		/* Absolute on CLOCK_MONOTONIC, so a retry after EINTR or a
		 * spurious wakeup does not drift. */
		struct timespec wake = tp_early_wake(deadline, spin_ns, &early);
		struct futex2_timespec abs_timeout = {wake.tv_sec, wake.tv_nsec};
		if (futex2_wait_call(&s->word, FUTEX2_SLEEPING, &abs_timeout) == 0)
			continue;
		int err = errno;
		if (err == ETIMEDOUT && early)
			tp_early_finish(&s->word, FUTEX2_SLEEPING, &wake, deadline);
		if (err != EINTR && err != EAGAIN && err != ETIMEDOUT)
			futex2_fatal("futex_wait()", err);
	}
	tp_slack_restore(slack);
	return unparked;
}

static bool futex2_timed_out(void *state)
{
	struct futex2_state *s = state;

	return atomic_load_explicit(&s->word, memory_order_relaxed) != FUTEX2_UNPARKED;
}

static bool futex2_unpark_lock(void *state, tparker_unpark_handle_t *h)
{
	struct futex2_state *s = state;
	uint32_t old;

	tp_spin_note_waker(&s->spin);
	old = atomic_exchange_explicit(&s->word, FUTEX2_UNPARKED, memory_order_release);

	h->addr = &s->word;
	return old == FUTEX2_SLEEPING;
}

static void futex2_unpark(const tparker_unpark_handle_t *h)
{
	if (futex2_wake_call(h->addr) >= 0)
		return;
	int err = errno;
	/* The owner may have freed the parker already (EFAULT), or its memory
	 * may now hold a PI futex (EINVAL): both are legitimate, nobody of
	 * ours waits there any more. glibc's futex_wake reasons the same. */
	if (err != EFAULT && err != EINVAL)
		futex2_fatal("futex_wake()", err);
}

static void futex2_thread_yield(void)
{
	sched_yield();
}

static const struct tparker_backend futex2_backend = {
    .version = TPARKER_BACKEND_ABI_VERSION,
    .size = sizeof(struct tparker_backend),
    .name = "futex2",
    .description = "Linux >= 6.7 futex_wait(2)/futex_wake(2) on a private 32-bit word",
    .priority = 250,
    .state_size = sizeof(struct futex2_state),
    .cheap_to_construct = true,
    .probe = futex2_probe,
    .init = futex2_init,
    .destroy = futex2_destroy,
    .prepare_park = futex2_prepare_park,
    .park = futex2_park,
    .park_until = futex2_park_until,
    .timed_out = futex2_timed_out,
    .unpark_lock = futex2_unpark_lock,
    .unpark = futex2_unpark,
    .thread_yield = futex2_thread_yield,
};

TPARKER_BACKEND_DEFINE(futex2_backend)
