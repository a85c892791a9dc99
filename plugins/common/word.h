/* SPDX-License-Identifier: MIT */
/*
 * The three-state word protocol shared by the futex and futex2 plugins
 * (static inline: plugins share no library). A backend supplies only its
 * kernel calls: a wait on the word and a wake of an address.
 *
 * The word is UNPARKED, PARKED (owner awake) or SLEEPING (owner asleep in
 * the kernel, or about to be). Only an unpark that finds SLEEPING needs a
 * wake, so an unpark that lands before the owner sleeps costs no system
 * call at all. tests/model/futex.pml checks this protocol.
 */
#ifndef TPARKER_PLUGINS_COMMON_WORD_H
#define TPARKER_PLUGINS_COMMON_WORD_H

#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tparker/backend.h"

#include "errname.h"
#include "slack.h"
#include "spin.h"

enum {
	TP_WORD_UNPARKED = TPARKER_WORD_UNPARKED,
	TP_WORD_PARKED = TPARKER_WORD_PARKED,
	TP_WORD_SLEEPING = 2
};

/* Laid out as word protocol 1 (<tparker/backend.h>): the word, then the
 * waker's CPU (the first field of the spin state). The core and inline code
 * in programs run prepare_park, the "already unparked" return of park and
 * the PARKED -> UNPARKED unpark_lock on it themselves; the functions below
 * do the same steps when called, and everything else. */
struct tp_word_state {
	_Atomic uint32_t word;
	struct tp_spin_state spin;
};

static_assert(offsetof(struct tp_word_state, word) == offsetof(struct tparker_word_v1, word),
	      "word protocol 1: the word comes first");
static_assert(offsetof(struct tp_word_state, spin.waker_cpu) ==
		  offsetof(struct tparker_word_v1, waker_cpu),
	      "word protocol 1: the waker's CPU follows the word");

static_assert(sizeof(struct tp_word_state) <= TPARKER_STATE_MAX, "word state too large");
static_assert(sizeof(_Atomic uint32_t) == sizeof(uint32_t), "futex word is not 32 bits");
/* The kernel reads the word as a plain u32: the atomic must be one. */
static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics are not lock-free");

/*
 * Sleep while *word == expected, until woken or until the absolute
 * CLOCK_MONOTONIC time abs (NULL: no limit). Returns 0 (woken, perhaps
 * spuriously), EINTR, EAGAIN (the word had changed) or ETIMEDOUT; any other
 * error is the backend's to report, and it aborts.
 */
typedef int (*tp_word_wait_fn)(_Atomic uint32_t *word, uint32_t expected,
			       const struct timespec *abs);

/* "<call> failed: Function not implemented (ENOSYS)<hint>". */
static inline void tp_word_describe(char *why, size_t why_len, const char *call, int err,
				    const char *hint)
{
	const char *name = tp_errno_name(err);

	if (name)
		snprintf(why, why_len, "%s failed: %s (%s)%s", call, strerror(err), name, hint);
	else
		snprintf(why, why_len, "%s failed: %s (errno %d)%s", call, strerror(err), err,
			 hint);
}

/* An errno the protocol cannot produce means memory corruption or a broken
 * kernel; carrying on could lose a wakeup, so stop loudly. */
static inline _Noreturn void tp_word_fatal(const char *backend, const char *call, int err)
{
	fprintf(stderr, "tparker %s: %s failed: %s (errno %d)\n", backend, call, strerror(err),
		err);
	abort();
}

static inline void tp_word_init(struct tp_word_state *s)
{
	atomic_init(&s->word, TP_WORD_UNPARKED);
	tp_spin_init(&s->spin);
}

static inline void tp_word_prepare_park(struct tp_word_state *s)
{
	/* Relaxed: the owner publishes the parker under the caller's queue
	 * lock, which orders this store before any unparker's exchange. */
	atomic_store_explicit(&s->word, TP_WORD_PARKED, memory_order_relaxed);
}

/* Move PARKED to SLEEPING; false when an unparker got there first. */
static inline bool tp_word_announce_sleep(struct tp_word_state *s, uint32_t seen)
{
	uint32_t expected = TP_WORD_PARKED;

	if (seen == TP_WORD_SLEEPING)
		return true;
	return atomic_compare_exchange_strong_explicit(&s->word, &expected, TP_WORD_SLEEPING,
						       memory_order_relaxed, memory_order_relaxed);
}

static inline void tp_word_park(struct tp_word_state *s, tp_word_wait_fn wait)
{
	uint32_t spin_ns = atomic_load_explicit(&tp_spin_ns, memory_order_relaxed);

	if (atomic_load_explicit(&s->word, memory_order_acquire) == TP_WORD_UNPARKED)
		return;
	if (tp_spin_worth_it(&s->spin, spin_ns))
		tp_spin_wait(&s->spin, &s->word, TP_WORD_PARKED, spin_ns, NULL);
	for (;;) {
		uint32_t v = atomic_load_explicit(&s->word, memory_order_acquire);
		if (v == TP_WORD_UNPARKED)
			return;
		if (tp_word_announce_sleep(s, v))
			wait(&s->word, TP_WORD_SLEEPING, NULL);
	}
}

static inline bool tp_word_park_until(struct tp_word_state *s, const struct timespec *deadline,
				      tp_word_wait_fn wait)
{
	uint32_t spin_ns = atomic_load_explicit(&tp_spin_ns, memory_order_relaxed);
	unsigned long slack = 0;
	bool decided = false, tightened = false, early, unparked;

	for (;;) {
		uint32_t v = atomic_load_explicit(&s->word, memory_order_acquire);
		if (v == TP_WORD_UNPARKED) {
			unparked = true;
			break;
		}
		if (tparker_deadline_passed(deadline)) {
			unparked = false;
			break;
		}
		/* Only now, with the deadline still ahead: the decision may
		 * read the affinity mask (a system call), and a spin that
		 * the deadline ends at once would count against spinning. */
		if (!decided) {
			decided = true;
			if (tp_spin_worth_it(&s->spin, spin_ns)) {
				tp_spin_wait(&s->spin, &s->word, TP_WORD_PARKED, spin_ns, deadline);
				continue;
			}
		}
		if (!tp_word_announce_sleep(s, v))
			continue;
		if (!tightened) {
			slack = tp_slack_tighten();
			tightened = true;
		}
		/* An absolute CLOCK_MONOTONIC time, so a retry after EINTR or a
		 * spurious wakeup does not drift. */
		struct timespec wake = tp_early_wake(&s->spin, deadline, spin_ns, &early);
		if (wait(&s->word, TP_WORD_SLEEPING, &wake) == ETIMEDOUT && early)
			tp_early_finish(&s->word, TP_WORD_SLEEPING, &wake, deadline);
	}
	tp_slack_restore(slack);
	return unparked;
}

static inline bool tp_word_timed_out(struct tp_word_state *s)
{
	return atomic_load_explicit(&s->word, memory_order_relaxed) != TP_WORD_UNPARKED;
}

static inline bool tp_word_unpark_lock(struct tp_word_state *s, tparker_unpark_handle_t *h)
{
	uint32_t old;

	/* Before the exchange: after it the owner may free the parker. */
	tp_spin_note_waker(&s->spin);
	old = atomic_exchange_explicit(&s->word, TP_WORD_UNPARKED, memory_order_release);
	h->addr = &s->word;
	return old == TP_WORD_SLEEPING;
}

#endif
