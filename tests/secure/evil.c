/* SPDX-License-Identifier: MIT */
/*
 * tparker-evil.so: a plugin that must never be loaded into a setuid or
 * setgid program. It works (a trivial polling backend that outranks every
 * real one), and loading it leaves a mark: its ELF constructor creates the
 * file TPTEST_EVIL_MARK, a path fixed at build time because a constructor
 * in a privileged process must not trust the environment either.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#include "tparker/backend.h"

#ifndef TPTEST_EVIL_MARK
#error "TPTEST_EVIL_MARK must be set by the build"
#endif

__attribute__((constructor)) static void evil_mark(void)
{
	int fd = open(TPTEST_EVIL_MARK, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		static const char msg[] = "tparker-evil.so was loaded\n";
		ssize_t r = write(fd, msg, sizeof(msg) - 1);
		(void)r;
		close(fd);
	}
}

static int evil_probe(const struct tparker_host *host, char *why, size_t why_len)
{
	(void)host, (void)why, (void)why_len;
	return 0;
}

static int evil_init(void *state)
{
	atomic_init((atomic_int *)state, 0);
	return 0;
}

static void evil_destroy(void *state)
{
	(void)state;
}

static void evil_prepare_park(void *state)
{
	atomic_store_explicit((atomic_int *)state, 1, memory_order_relaxed);
}

static bool evil_parked(void *state)
{
	return atomic_load_explicit((atomic_int *)state, memory_order_acquire) != 0;
}

static void evil_park(void *state)
{
	while (evil_parked(state))
		sched_yield();
}

static bool evil_park_until(void *state, const struct timespec *deadline)
{
	while (evil_parked(state)) {
		if (tparker_deadline_passed(deadline))
			return false;
		sched_yield();
	}
	return true;
}

static bool evil_timed_out(void *state)
{
	return evil_parked(state);
}

static bool evil_unpark_lock(void *state, tparker_unpark_handle_t *h)
{
	(void)h;
	atomic_store_explicit((atomic_int *)state, 0, memory_order_release);
	return false;
}

static void evil_unpark(const tparker_unpark_handle_t *h)
{
	(void)h;
}

static void evil_thread_yield(void)
{
	sched_yield();
}

static const struct tparker_backend evil_backend = {
    .version = TPARKER_BACKEND_ABI_VERSION,
    .size = sizeof(struct tparker_backend),
    .name = "evil",
    .description = "test plugin that must never load into a setuid/setgid program",
    .priority = 10000,
    .state_size = sizeof(atomic_int),
    .cheap_to_construct = true,
    .probe = evil_probe,
    .init = evil_init,
    .destroy = evil_destroy,
    .prepare_park = evil_prepare_park,
    .park = evil_park,
    .park_until = evil_park_until,
    .timed_out = evil_timed_out,
    .unpark_lock = evil_unpark_lock,
    .unpark = evil_unpark,
    .thread_yield = evil_thread_yield,
};

TPARKER_BACKEND_DEFINE(evil_backend)
