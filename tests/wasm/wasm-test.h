/* SPDX-License-Identifier: MIT */
/* The WebAssembly tests' small harness: each case counts as passed or
 * failed, and the program ends with the "N passed, M failed" line that CI
 * counts, exiting 0 only when nothing failed. */
#ifndef TPARKER_TESTS_WASM_TEST_H
#define TPARKER_TESTS_WASM_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tparker/tparker.h"

static int wt_passed, wt_failed;
static bool wt_case_ok;

/* A failed check marks the case and says where; the case goes on. */
#define WT_CHECK(cond)                                                                             \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			printf("  check failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);        \
			wt_case_ok = false;                                                        \
		}                                                                                  \
	} while (0)

#define WT_RUN(fn)                                                                                 \
	do {                                                                                       \
		wt_case_ok = true;                                                                 \
		fn();                                                                              \
		printf("%s %s\n", wt_case_ok ? "PASS" : "FAIL", #fn);                              \
		if (wt_case_ok)                                                                    \
			wt_passed++;                                                               \
		else                                                                               \
			wt_failed++;                                                               \
		fflush(stdout);                                                                    \
	} while (0)

static inline int wt_finish(void)
{
	printf("%d passed, %d failed\n", wt_passed, wt_failed);
	fflush(stdout);
	return wt_failed ? 1 : 0;
}

static inline uint64_t wt_now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Whether CLOCK_MONOTONIC has reached the deadline *d: a timed park that
 * returned false must make this true (never early). */
static inline bool wt_reached(const struct timespec *d)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return !(now.tv_sec < d->tv_sec || (now.tv_sec == d->tv_sec && now.tv_nsec < d->tv_nsec));
}

/* A backend by name; "default" is the process's default. */
static inline const tparker_backend_t *wt_backend(const char *name)
{
	if (strcmp(name, "default") == 0)
		return tparker_default_backend();
	const tparker_backend_t *b = tparker_backend_get(name);
	if (!b) {
		printf("backend %s: %s\n", name, tparker_backend_error());
		exit(1);
	}
	return b;
}

#endif
