/* SPDX-License-Identifier: MIT */
/*
 * The Liftoff miscompile and its workaround. node 20's V8 (11.3) compiles
 * a module first with Liftoff, which clobbers values held in registers
 * across memory.atomic.wait32. Here a sum is held across waits that return
 * at once ("not equal"), in the shape that shows it.
 *
 *   wasm-liftoff fixed   linked with tparker-noliftoff.js: the sum must be
 *                        right and wasm_atomic the default; fails if the
 *                        workaround stops working.
 *   wasm-liftoff bug     linked without it: on an engine with the bug, the
 *                        sum is wrong and wasm_atomic's probe must have
 *                        declined (the default is not wasm_atomic, and the
 *                        reason names the miscompile); 77 (skip) on an
 *                        engine without the bug.
 */
#include "wasm-test.h"

static int32_t word;

/* Not inlined into main, whose own code the comparison below must not
 * share: the count lives across the waits here. */
static __attribute__((noinline)) int wait_sum(int n)
{
	int sum = 0;
	for (int i = 0; i < n; i++)
		sum += __builtin_wasm_memory_atomic_wait32(&word, 1, 0);
	return sum;
}

int main(int argc, char **argv)
{
	if (argc != 2 || (strcmp(argv[1], "fixed") && strcmp(argv[1], "bug"))) {
		fprintf(stderr, "usage: wasm-liftoff fixed|bug\n");
		return 2;
	}
	bool want_fixed = strcmp(argv[1], "fixed") == 0;
	wt_case_ok = true;
	int n = 1000 + argc, sum = wait_sum(n);
	const char *def = tparker_backend_name(tparker_default_backend());
	const tparker_backend_t *wa = tparker_backend_get("wasm_atomic");

	printf("%d of %d waits counted; default %s (%s)\n", sum, n, def, tparker_default_reason());
	if (!wa)
		printf("wasm_atomic: %s\n", tparker_backend_error());
	if (want_fixed) {
		WT_CHECK(sum == n);
		WT_CHECK(strcmp(def, "wasm_atomic") == 0);
		WT_CHECK(wa != NULL);
	} else {
		if (sum == n) {
			printf("this engine keeps values across wait32: nothing to show\n");
			return 77;
		}
		WT_CHECK(strcmp(def, "wasm_atomic") != 0);
		WT_CHECK(wa == NULL && strstr(tparker_backend_error(), "miscompiles"));
	}
	printf("%d passed, %d failed\n", wt_case_ok ? 1 : 0, wt_case_ok ? 0 : 1);
	return wt_case_ok ? 0 : 1;
}
