/* SPDX-License-Identifier: MIT */
/*
 * Can this process sleep and be woken on a futex? Shared by the probes of
 * the plugins that sleep on futexes, directly (futex) or through the C
 * library's mutexes and condition variables (pthread on Linux). Static
 * inline: plugins share no library.
 *
 * Seccomp sandboxes may deny futex as a whole or filter it by operation,
 * and glibc aborts ("The futex facility returned an unexpected error
 * code") when a wait or wake it needs fails, so a probe tries each
 * operation its backend relies on. glibc's mutex and condition variable
 * (nptl, 2.25 and later) use FUTEX_WAIT_PRIVATE and FUTEX_WAKE_PRIVATE, and
 * FUTEX_WAIT_BITSET_PRIVATE for condition variable waits (FUTEX_CLOCK_REALTIME
 * only for a CLOCK_REALTIME condition variable, which no backend here uses).
 */
#ifndef TPARKER_PLUGINS_COMMON_FUTEX_CHECK_H
#define TPARKER_PLUGINS_COMMON_FUTEX_CHECK_H

#include <errno.h>
#include <linux/futex.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "errname.h"

/*
 * A 32-bit ABI built with a 64-bit time_t must use the time64 call, whose
 * timespec layout matches its struct timespec; everywhere else plain futex
 * takes the native struct timespec.
 */
#ifdef SYS_futex_time64
#define FUTEX_SYSCALL	   (sizeof(time_t) > sizeof(long) ? SYS_futex_time64 : SYS_futex)
#define FUTEX_SYSCALL_NAME (sizeof(time_t) > sizeof(long) ? "futex_time64" : "futex")
#else
#define FUTEX_SYSCALL	   SYS_futex
#define FUTEX_SYSCALL_NAME "futex"
#endif

/* "<prefix><call>(<op>) failed: Function not implemented (ENOSYS)". */
static inline void tp_futex_describe(char *why, size_t why_len, const char *prefix,
				     const char *call, const char *op, int err)
{
	const char *name = tp_errno_name(err);

	if (name)
		snprintf(why, why_len, "%s%s(%s) failed: %s (%s)", prefix, call, op, strerror(err),
			 name);
	else
		snprintf(why, why_len, "%s%s(%s) failed: %s (errno %d)", prefix, call, op,
			 strerror(err), err);
}

/*
 * Try wake, FUTEX_WAIT_PRIVATE and FUTEX_WAIT_BITSET_PRIVATE through system
 * call nr (named call in the reason). Each wait is given a value that does
 * not match, so it returns at once with EAGAIN; the zero timeout (relative
 * 0, or an absolute time long past) is a second guarantee that the check
 * never blocks. Sixteen zero bytes read as zero in the native, the 32-bit
 * and the time64 timespec layouts alike. Returns 0, or the errno
 * value of the first operation that failed, with a one-line reason in
 * why[0..why_len), prefix first.
 */
static inline int tp_futex_check(long nr, const char *call, const char *prefix, char *why,
				 size_t why_len)
{
	static const struct {
		const char *name;
		int op;
		uint32_t val;
	} checks[] = {
	    {"FUTEX_WAKE_PRIVATE", FUTEX_WAKE_PRIVATE, 1},
	    {"FUTEX_WAIT_PRIVATE", FUTEX_WAIT_PRIVATE, 1},
	    {"FUTEX_WAIT_BITSET_PRIVATE", FUTEX_WAIT_BITSET_PRIVATE, 1},
	};
	uint32_t word = 0;
	const long long zero[2] = {0, 0};

	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		const void *ts = checks[i].op == FUTEX_WAKE_PRIVATE ? NULL : zero;
		if (syscall(nr, &word, checks[i].op, (unsigned long)checks[i].val, ts, NULL,
			    (unsigned long)FUTEX_BITSET_MATCH_ANY) >= 0)
			continue;
		int err = errno;
		if (err == EAGAIN || err == ETIMEDOUT)
			continue;
		tp_futex_describe(why, why_len, prefix, call, checks[i].name, err);
		return err;
	}
	return 0;
}

/*
 * What the C library's mutexes and condition variables need: glibc's low
 * level lock waits and wakes through plain futex on every ABI; on a 32-bit
 * ABI its condition variable waits use futex_time64 when glibc assumes a
 * kernel that has it, or for a deadline past 2038, and plain futex
 * otherwise. So both calls must work where both exist.
 */
static inline int tp_futex_check_libc(const char *prefix, char *why, size_t why_len)
{
	int err = tp_futex_check(SYS_futex, "futex", prefix, why, why_len);
#if defined(SYS_futex_time64)
	if (!err && SYS_futex_time64 != SYS_futex)
		err = tp_futex_check(SYS_futex_time64, "futex_time64", prefix, why, why_len);
#endif
	return err;
}

#endif /* TPARKER_PLUGINS_COMMON_FUTEX_CHECK_H */
