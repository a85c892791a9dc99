/* SPDX-License-Identifier: MIT */
/*
 * WebAssembly without threads, under node: the `wasm` backend.
 *   wasm-stub cases        what works without threads: the default is
 *                          wasm, an unpark before the park, a timed park
 *                          that waits its deadline out (never early)
 *   wasm-stub park         a park that would wait forever: must stop
 *   wasm-stub park-until   park_until without a deadline: the same stop
 * (check-stop.sh checks the stop's exit status and message.)
 */
#include "wasm-test.h"

static void case_default_is_wasm(void)
{
	WT_CHECK(strcmp(tparker_backend_name(tparker_default_backend()), "wasm") == 0);
}

static void case_unpark_before_park(void)
{
	tparker_t p;
	WT_CHECK(tparker_init(&p) == 0);
	tparker_prepare_park(&p);
	tparker_unpark(tparker_unpark_lock(&p));
	tparker_park(&p);
	tparker_prepare_park(&p);
	tparker_unpark(tparker_unpark_lock(&p));
	WT_CHECK(tparker_park_until(&p, NULL));
	tparker_destroy(&p);
}

static void case_timeout_never_early(void)
{
	static const uint64_t waits_ns[] = {0, 1000, 1000000, 20000000};
	tparker_t p;
	WT_CHECK(tparker_init(&p) == 0);
	for (size_t i = 0; i < sizeof(waits_ns) / sizeof(waits_ns[0]); i++) {
		tparker_prepare_park(&p);
		struct timespec d = tparker_deadline_after(waits_ns[i]);
		WT_CHECK(!tparker_park_until(&p, &d));
		WT_CHECK(wt_reached(&d));
		WT_CHECK(tparker_timed_out(&p));
	}
	tparker_destroy(&p);
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "cases") == 0) {
		printf("default %s: %s\n", tparker_backend_name(tparker_default_backend()),
		       tparker_default_reason());
		WT_RUN(case_default_is_wasm);
		WT_RUN(case_unpark_before_park);
		WT_RUN(case_timeout_never_early);
		return wt_finish();
	}
	if (argc == 2 && (strcmp(argv[1], "park") == 0 || strcmp(argv[1], "park-until") == 0)) {
		tparker_t p;
		if (tparker_init(&p) != 0)
			return 1;
		tparker_prepare_park(&p);
		printf("parking with nobody to unpark\n");
		fflush(stdout);
		if (strcmp(argv[1], "park") == 0)
			tparker_park(&p);
		else
			tparker_park_until(&p, NULL);
		printf("park returned: it should have stopped the program\n");
		return 1;
	}
	fprintf(stderr, "usage: wasm-stub cases|park|park-until\n");
	return 2;
}
