/* SPDX-License-Identifier: MIT */
/*
 * The limit of one process's table of backends, and one past it: spin, the
 * usable built-in plugins and as many plugin files as fill the table of 64
 * are adopted, the next file is refused with a reason that names the limit,
 * and the adopted ones still park.
 *
 * Environment (set by meson): TPARKER_BACKEND=spin, TPARKER_PLUGIN_PATH the
 * folder of tparker-many00.so to tparker-many63.so, TPTEST_BUILTINS the
 * comma list of the plugins compiled into the library (may be empty).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tparker/tparker.h>

#define TABLE_MAX 64

int main(void)
{
	int adopted = 1, bad = 0; /* spin */
	/* The built-in ones that passed their probe hold a place each. */
	const char *env = getenv("TPTEST_BUILTINS");
	char builtins[256];
	snprintf(builtins, sizeof(builtins), "%s", env ? env : "");
	char *save = NULL;
	for (char *n = strtok_r(builtins, ",", &save); n; n = strtok_r(NULL, ",", &save))
		adopted += tparker_backend_get(n) != NULL;
	int preloaded = adopted;
	const tparker_backend_t *last = NULL;
	for (int i = 0; i < TABLE_MAX; i++) {
		char name[16];
		snprintf(name, sizeof(name), "many%02d", i);
		const tparker_backend_t *b = tparker_backend_get(name);
		if (b) {
			adopted++;
			last = b;
			continue;
		}
		const char *why = tparker_backend_error();
		if (adopted != TABLE_MAX || !strstr(why, "too many backends loaded (at most 64)")) {
			fprintf(stderr, "FAIL: %s refused with %d adopted: %s\n", name, adopted,
				why);
			bad = 1;
		}
	}
	if (adopted != TABLE_MAX) {
		fprintf(stderr, "FAIL: %d backends adopted, want %d\n", adopted, TABLE_MAX);
		bad = 1;
	}
	tparker_t p;
	if (!last || tparker_init_with(&p, last) != 0) {
		fprintf(stderr, "FAIL: the last adopted plugin does not init\n");
		return 1;
	}
	tparker_prepare_park(&p);
	tparker_unpark(tparker_unpark_lock(&p));
	tparker_park(&p);
	tparker_destroy(&p);
	printf("%d backends adopted (spin, %d built in, %d plugin files), the next file refused\n",
	       adopted, preloaded - 1, adopted - preloaded);
	return bad;
}
