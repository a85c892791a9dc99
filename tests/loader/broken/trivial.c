/* SPDX-License-Identifier: MIT */
/* On Windows, SwitchToThread: mingw-w64 has sched_yield only in
 * libwinpthread-1.dll, which a test DLL must not need. */
#ifdef _WIN32
#include <windows.h>
#define trivial_yield() ((void)SwitchToThread())
#else
#include <sched.h>
#define trivial_yield() ((void)sched_yield())
#endif

#include "trivial.h"

int trivial_probe(const struct tparker_host *host, char *why, size_t why_len)
{
	(void)host;
	(void)why;
	(void)why_len;
	return 0;
}

int trivial_init(void *state)
{
	atomic_init((atomic_int *)state, 0);
	return 0;
}

void trivial_destroy(void *state)
{
	(void)state;
}

void trivial_prepare_park(void *state)
{
	atomic_store_explicit((atomic_int *)state, 1, memory_order_relaxed);
}

void trivial_prepare_park_own(void *state)
{
	atomic_store_explicit((atomic_int *)state, TRIVIAL_OWN_PARKED, memory_order_relaxed);
}

static bool still_parked(void *state)
{
	return atomic_load_explicit((atomic_int *)state, memory_order_acquire) != 0;
}

void trivial_park(void *state)
{
	while (still_parked(state))
		trivial_yield();
}

bool trivial_park_until(void *state, const struct timespec *deadline)
{
	while (still_parked(state)) {
		if (tparker_deadline_passed(deadline))
			return false;
		trivial_yield();
	}
	return true;
}

bool trivial_timed_out(void *state)
{
	return still_parked(state);
}

/* The store releases the owner, which may free state right after: nothing
 * is left for unpark to do. */
bool trivial_unpark_lock(void *state, tparker_unpark_handle_t *h)
{
	(void)h;
	atomic_store_explicit((atomic_int *)state, 0, memory_order_release);
	return false;
}

void trivial_unpark(const tparker_unpark_handle_t *h)
{
	(void)h;
}

void trivial_thread_yield(void)
{
	trivial_yield();
}
