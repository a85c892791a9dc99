/* SPDX-License-Identifier: MIT */
/* Compiled (not linked) with plain -std=c11 -Wpedantic -Werror and no feature
 * macro at all, unlike the rest of the project (-D_GNU_SOURCE): a user's
 * strict ISO C program can include <tparker/tparker.h>. */
#include <tparker/tparker.h>

int tparker_strict_check(void);

int tparker_strict_check(void)
{
	tparker_t p;
	struct timespec deadline = tparker_deadline_after(1000);
	if (tparker_init(&p) != 0)
		return 1;
	tparker_prepare_park(&p);
	bool woken = tparker_park_until(&p, &deadline);
	tparker_destroy(&p);
	return woken;
}
