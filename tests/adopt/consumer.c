/* SPDX-License-Identifier: MIT */
/* A program of a project that uses libtparker: an unpark before the park
 * makes the park return at once, then it says what it ran on. */
#include <stdio.h>
#include <string.h>
#include <tparker/tparker.h>

int main(void)
{
	tparker_t p;
	if (tparker_init(&p) != 0)
		return 1;
	tparker_prepare_park(&p);
	tparker_unpark(tparker_unpark_lock(&p));
	tparker_park(&p);
	tparker_destroy(&p);
	printf("libtparker %s, backend %s\n", tparker_version(),
	       tparker_backend_name(tparker_default_backend()));
	/* The build found the library it asked for: 1.1 or later of major 1. */
	return strncmp(tparker_version(), "1.", 2) != 0 || strcmp(tparker_version(), "1.1") < 0;
}
