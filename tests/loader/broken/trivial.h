/* SPDX-License-Identifier: MIT */
/*
 * Harmless operations shared by the test plugins: together they make a
 * working spin parker, so each broken plugin is broken in exactly one way,
 * and the one plugin that passes validation (tparker-good.so) really parks.
 */
#ifndef TPARKER_TEST_TRIVIAL_H
#define TPARKER_TEST_TRIVIAL_H

#include <stdatomic.h>

#include <tparker/backend.h>

#define TRIVIAL_STATE_SIZE ((uint32_t)sizeof(atomic_int))

int trivial_probe(const struct tparker_host *host, char *why, size_t why_len);
int trivial_init(void *state);
void trivial_destroy(void *state);
void trivial_prepare_park(void *state);
/* prepare_park storing TRIVIAL_OWN_PARKED: shows that the plugin's own
 * operation ran, not the core's word protocol store of 1. */
#define TRIVIAL_OWN_PARKED 7
void trivial_prepare_park_own(void *state);
void trivial_park(void *state);
bool trivial_park_until(void *state, const struct timespec *deadline);
bool trivial_timed_out(void *state);
bool trivial_unpark_lock(void *state, tparker_unpark_handle_t *h);
void trivial_unpark(const tparker_unpark_handle_t *h);
void trivial_thread_yield(void);

/* Every operation after probe, for designated initialisers. */
#define TRIVIAL_PARKER_OPS                                                                         \
	.init = trivial_init, .destroy = trivial_destroy, .prepare_park = trivial_prepare_park,    \
	.park = trivial_park, .park_until = trivial_park_until, .timed_out = trivial_timed_out,    \
	.unpark_lock = trivial_unpark_lock, .unpark = trivial_unpark,                              \
	.thread_yield = trivial_thread_yield

/* The same, with trivial_prepare_park_own. */
#define TRIVIAL_PARKER_OPS_OWN                                                                     \
	.init = trivial_init, .destroy = trivial_destroy,                                          \
	.prepare_park = trivial_prepare_park_own, .park = trivial_park,                            \
	.park_until = trivial_park_until, .timed_out = trivial_timed_out,                          \
	.unpark_lock = trivial_unpark_lock, .unpark = trivial_unpark,                              \
	.thread_yield = trivial_thread_yield

#endif
