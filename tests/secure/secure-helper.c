/* SPDX-License-Identifier: MIT */
/*
 * The program the secure-execution test installs setuid/setgid root: it
 * says which backend libtparker chose and why, whether the kernel put it in
 * secure-execution mode, and that a park cycle works on that backend.
 */
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>

#include "tparker/tparker.h"

int main(void)
{
	const tparker_backend_t *b = tparker_default_backend();
	printf("backend=%s\n", tparker_backend_name(b));
	printf("reason=%s\n", tparker_default_reason());
	printf("secure=%lu\n", getauxval(AT_SECURE));

	tparker_t p;
	int err = tparker_init(&p);
	if (err) {
		fprintf(stderr, "secure-helper: tparker_init: %s\n", strerror(err));
		return 1;
	}
	tparker_prepare_park(&p);
	tparker_unpark(tparker_unpark_lock(&p));
	tparker_park(&p);
	tparker_destroy(&p);
	printf("park=ok\n");
	return 0;
}
