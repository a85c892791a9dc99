/* SPDX-License-Identifier: MIT */
/* Built with -std=c11 -Wall -Wextra -Wpedantic -Werror: the public headers
 * compile cleanly as C: tparker.h first on its own, then both twice over
 * (headers-cpp.cpp takes them in the other order). */
/* clang-format off */
#include <tparker/tparker.h>
#include <tparker/backend.h>
#include <tparker/tparker.h>
#include <tparker/backend.h>
#include <tparker/lot.h>
#include <tparker/sync.h>
#include <tparker/lot.h>
#include <tparker/sync.h>
/* clang-format on */

#include <stdalign.h>
#include <stddef.h>

_Static_assert(sizeof(tparker_t) == TPARKER_SIZE, "tparker_t is TPARKER_SIZE bytes");
_Static_assert(alignof(tparker_t) == 16, "tparker_t is 16-aligned");
_Static_assert(TPARKER_STATE_OFFSET + TPARKER_STATE_MAX == TPARKER_SIZE,
	       "the state fills the rest of tparker_t");
_Static_assert(TPARKER_BACKEND_MIN_SIZE <= sizeof(struct tparker_backend),
	       "the smallest valid table fits the struct");
_Static_assert(offsetof(struct tparker_backend, version) == 0 &&
		   offsetof(struct tparker_backend, size) == 4,
	       "version and size lead the table");

/* One of each kind of thing the headers declare, used. */
static const struct tparker_backend *entry(const struct tparker_host *host)
{
	(void)host;
	return NULL;
}

int main(void)
{
	tparker_t p;
	tparker_unpark_handle_t h = {NULL, NULL};
	tparker_backend_entry_fn fn = entry;
	struct timespec now = tparker_now();
	struct timespec later = {now.tv_sec + 1, 0};

	(void)p;
	tparker_cpu_relax();
	if (fn(NULL) != NULL || h.backend != NULL || !tparker_ts_before(&now, &later))
		return 1;
	tparker_mutex_t m = TPARKER_MUTEX_INIT;
	tparker_cond_t c = TPARKER_COND_INIT;
	if (!tparker_mutex_trylock(&m) || tparker_cond_signal(&c))
		return 1;
	tparker_mutex_unlock(&m);
	return tparker_version()[0] == '\0';
}
