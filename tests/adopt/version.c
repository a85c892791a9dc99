/* SPDX-License-Identifier: MIT */
/* tparker_version() is the project's version (TPTEST_VERSION, from
 * meson.build's project()). */
#include <stdio.h>
#include <string.h>
#include <tparker/tparker.h>

int main(void)
{
	const char *v = tparker_version();
	if (strcmp(v, TPTEST_VERSION) != 0) {
		printf("FAIL: tparker_version() says '%s', the project is %s\n", v, TPTEST_VERSION);
		return 1;
	}
	printf("ok: tparker_version() says %s\n", v);
	return 0;
}
