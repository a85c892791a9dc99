/* SPDX-License-Identifier: MIT */
/*
 * Run by test-select under controlled environments.
 *   select-child          prints the default backend's name and the reason it
 *                         was chosen, after checking that it parks;
 *   select-child NAME...  prints "NAME usable" or "NAME unusable" for each,
 *                         so test-select learns what works in a process like
 *                         its other children (not, say, under valgrind).
 */
#include <stdio.h>

#include <tparker/tparker.h>

int main(int argc, char **argv)
{
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			printf("%s %s\n", argv[i],
			       tparker_backend_get(argv[i]) ? "usable" : "unusable");
		return 0;
	}

	const tparker_backend_t *b = tparker_default_backend();
	tparker_t p;
	int rc = tparker_init(&p);
	if (rc != 0) {
		printf("%s\ninit failed: %d\n", tparker_backend_name(b), rc);
		return 1;
	}
	tparker_prepare_park(&p);
	tparker_unpark(tparker_unpark_lock(&p));
	tparker_park(&p);
	tparker_destroy(&p);
	printf("%s\n%s\n", tparker_backend_name(b), tparker_default_reason());
	return 0;
}
