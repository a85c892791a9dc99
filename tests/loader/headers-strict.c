/* SPDX-License-Identifier: MIT */
/* Compiled (not linked) with plain -std=c11 -Wpedantic -Werror and no feature
 * macro at all, unlike the rest of the project (-D_GNU_SOURCE): a user's
 * strict ISO C program can include <tparker/tparker.h>. */
#include <tparker/tparker.h>
#include <tparker/lot.h>
#include <tparker/sync.h>

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
	tparker_mutex_t m = TPARKER_MUTEX_INIT;
	tparker_cond_t c = TPARKER_COND_INIT;
	if (!tparker_mutex_lock_until(&m, &deadline))
		return 1;
	(void)tparker_cond_wait_until(&c, &m, &deadline);
	tparker_mutex_unlock(&m);
	(void)tparker_wait(&m.state, &m.state, 1, &deadline);
	return woken;
}
