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

#include "../common/word.h"

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

/* The kernel's struct __kernel_timespec: 64-bit fields on every ABI. */
struct futex2_timespec {
	long long tv_sec;
	long long tv_nsec;
};

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

/* ENOSYS also comes from seccomp filters and from emulators (valgrind,
 * qemu-user) that predate the calls. */
static void futex2_describe(char *why, size_t why_len, const char *call, int err)
{
	tp_word_describe(why, why_len, call, err,
			 err == ENOSYS ? "; the futex2 backend needs Linux >= 6.7 and no sandbox "
					 "or emulator hiding the call"
				       : "");
}

/* Sleep while *word == expected: tp_word_wait_fn. */
static int futex2_wait(_Atomic uint32_t *word, uint32_t expected, const struct timespec *abs)
{
	/* Absolute on CLOCK_MONOTONIC, in the kernel's 64-bit layout. */
	struct futex2_timespec t = {abs ? abs->tv_sec : 0, abs ? abs->tv_nsec : 0};

	if (futex2_wait_call(word, expected, abs ? &t : NULL) == 0)
		return 0;
	int err = errno;
	if (err == EINTR || err == EAGAIN || (abs && err == ETIMEDOUT))
		return err;
	tp_word_fatal("futex2", "futex_wait()", err);
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
	tp_word_init(state);
	return 0;
}

static void futex2_destroy(void *state)
{
	(void)state;
}

static void futex2_prepare_park(void *state)
{
	tp_word_prepare_park(state);
}

static void futex2_park(void *state)
{
	tp_word_park(state, futex2_wait);
}

static bool futex2_park_until(void *state, const struct timespec *deadline)
{
	return tp_word_park_until(state, deadline, futex2_wait);
}

static bool futex2_timed_out(void *state)
{
	return tp_word_timed_out(state);
}

static bool futex2_unpark_lock(void *state, tparker_unpark_handle_t *h)
{
	return tp_word_unpark_lock(state, h);
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
		tp_word_fatal("futex2", "futex_wake()", err);
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
    .state_size = sizeof(struct tp_word_state),
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
    .word_protocol = TPARKER_WORD_PROTOCOL_V1,
};

TPARKER_BACKEND_DEFINE(futex2_backend)
