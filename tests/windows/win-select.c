/* SPDX-License-Identifier: MIT */
/*
 * The default backend of the Windows build is the one argv[1] names: the
 * probe's choice (waitonaddress where Windows has it), TPARKER_BACKEND's
 * (a name or a list), or keyed when the plugin path lacks waitonaddress.
 * Every backend found is listed with tparker_backend_get(). Exit 0 pass,
 * 1 fail.
 */
#include <stdio.h>
#include <string.h>

#include "tparker/tparker.h"

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s EXPECTED [AVAILABLE...]\n", argv[0]);
		return 1;
	}
	const char *chosen = tparker_backend_name(tparker_default_backend());
	printf("default: %s (%s)\n", chosen, tparker_default_reason());
	int failures = 0;
	if (strcmp(chosen, argv[1]) != 0) {
		fprintf(stderr, "expected %s as the default, got %s\n", argv[1], chosen);
		failures++;
	}
	for (int i = 2; i < argc; i++) {
		if (!tparker_backend_get(argv[i])) {
			fprintf(stderr, "%s: %s\n", argv[i], tparker_backend_error());
			failures++;
		}
	}
	return failures ? 1 : 0;
}
