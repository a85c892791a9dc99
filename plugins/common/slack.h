/* SPDX-License-Identifier: MIT */
/* Timer slack around a timed sleep, for every plugin that sleeps with a
 * deadline (static inline: plugins share no library). */
#ifndef TPARKER_PLUGINS_COMMON_SLACK_H
#define TPARKER_PLUGINS_COMMON_SLACK_H

#if defined(__linux__)
#include <sys/prctl.h>
#endif

/*
 * Timer slack: the kernel lets a timed sleep end up to the thread's slack
 * (50 us by default) late so that it can batch timer interrupts. A parker
 * with a deadline wants it to the microsecond, so a timed sleep runs with a
 * slack of 1 ns and puts the thread's own value back before returning.
 * The value is read each time rather than cached per thread: one more
 * prctl, made before the sleep so it adds nothing to the overshoot, and a
 * slack the program set for itself in between is never overwritten with a
 * stale copy.
 */
#if defined(__linux__)
static inline unsigned long tp_slack_tighten(void)
{
	int old = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);

	if (old <= 1)
		return 0; /* already tight, or unreadable: leave it alone */
	if (prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0) != 0)
		return 0;
	return (unsigned long)old;
}

static inline void tp_slack_restore(unsigned long old)
{
	if (old)
		prctl(PR_SET_TIMERSLACK, old, 0, 0, 0);
}
#else
/* Timer slack is a Linux notion: elsewhere there is nothing to change. */
static inline unsigned long tp_slack_tighten(void)
{
	return 0;
}

static inline void tp_slack_restore(unsigned long old)
{
	(void)old;
}
#endif

#endif /* TPARKER_PLUGINS_COMMON_SLACK_H */
