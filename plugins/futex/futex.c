/* SPDX-License-Identifier: MIT */
/*
 * Linux futex backend: one 32-bit word per parker, private futexes. The
 * protocol on the word is plugins/common/word.h; this file holds the
 * futex(2) calls.
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

#include "../common/futex_check.h"
#include "../common/word.h"

static long futex_call(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *ts,
		       uint32_t val3)
{
	return syscall(FUTEX_SYSCALL, word, op, (unsigned long)val, ts, NULL, (unsigned long)val3);
}

/* Sleep while *word == expected: tp_word_wait_fn. */
static int futex_wait(_Atomic uint32_t *word, uint32_t expected, const struct timespec *abs)
{
	/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time;
	 * FUTEX_WAIT's timeout would be relative. */
	long r =
	    abs ? futex_call(word, FUTEX_WAIT_BITSET_PRIVATE, expected, abs, FUTEX_BITSET_MATCH_ANY)
		: futex_call(word, FUTEX_WAIT_PRIVATE, expected, NULL, 0);
	if (r == 0)
		return 0;
	int err = errno;
	if (err == EINTR || err == EAGAIN || (abs && err == ETIMEDOUT))
		return err;
	tp_word_fatal("futex",
		      abs ? "futex(FUTEX_WAIT_BITSET_PRIVATE)" : "futex(FUTEX_WAIT_PRIVATE)", err);
}

static int futex_probe(const struct tparker_host *host, char *why, size_t why_len)
{
	/* Wake and both waits, through the call futex_call() makes. */
	int err = tp_futex_check(FUTEX_SYSCALL, FUTEX_SYSCALL_NAME, "", why, why_len);

	if (err)
		return err;
	tp_spin_configure(host, "futex");
	return 0;
}

static int futex_init(void *state)
{
	tp_word_init(state);
	return 0;
}

static void futex_destroy(void *state)
{
	(void)state;
}

static void futex_prepare_park(void *state)
{
	tp_word_prepare_park(state);
}

static void futex_park(void *state)
{
	tp_word_park(state, futex_wait);
}

static bool futex_park_until(void *state, const struct timespec *deadline)
{
	return tp_word_park_until(state, deadline, futex_wait);
}

static bool futex_timed_out(void *state)
{
	return tp_word_timed_out(state);
}

static bool futex_unpark_lock(void *state, tparker_unpark_handle_t *h)
{
	return tp_word_unpark_lock(state, h);
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
		tp_word_fatal("futex", "futex(FUTEX_WAKE_PRIVATE)", err);
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
    .state_size = sizeof(struct tp_word_state),
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
    .word_protocol = TPARKER_WORD_PROTOCOL_V1,
};

TPARKER_BACKEND_DEFINE(futex_backend)
