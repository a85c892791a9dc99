/* SPDX-License-Identifier: MIT */
/*
 * The parker protocol (the README's "The protocol"), run unchanged against
 * every backend: one CUnit suite, conformance-<backend>, whose tests live
 * in one file per topic (see harness.h for what they share).
 *
 * Usage: test-conformance <backend>. Meson runs it once per backend with
 * TPARKER_BACKEND=<backend>,spin; when the library chose another backend
 * (the one asked for is unusable here) the run is skipped with exit 77, or
 * fails when TPTEST_REQUIRE_BACKEND is set (the Windows build, where every
 * backend must be usable under wine): a run on another backend than the one
 * chosen would test nothing of the choice.
 *
 * TPARKER_UNDER_VALGRIND (valgrind, emulators, wine) runs the loops at a
 * twentieth of their rounds with three times the patience. TPTEST_ONLY=<part
 * of a test's name> runs just the matching tests.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static bool env_flag(const char *name)
{
	const char *v = getenv(name);

	return v && *v && strcmp(v, "0") != 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s <backend>\n", argv[0]);
		return 2;
	}
	backend_name = argv[1];
	def = tparker_default_backend();
	if (strcmp(tparker_backend_name(def), backend_name) != 0) {
		const tparker_backend_t *b = tparker_backend_get(backend_name);
		bool required = env_flag("TPTEST_REQUIRE_BACKEND");
		printf("%s: backend %s is not usable here (%s); the default is %s (%s)\n",
		       required ? "FAIL" : "SKIP", backend_name,
		       b ? "but tparker_backend_get() finds it" : tparker_backend_error(),
		       tparker_backend_name(def), tparker_default_reason());
		return required ? 1 : 77;
	}
	printf("conformance of backend %s (%s)\n", backend_name, tparker_default_reason());
	if (env_flag("TPARKER_UNDER_VALGRIND")) {
		scale_down = 20;
		hang_ns *= 3;
		long_park_ns *= 3;
		watchdog_ns *= 3;
	}
	watchdog_start();

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	static char suite_name[64];
	snprintf(suite_name, sizeof(suite_name), "conformance-%s", backend_name);
	CU_pSuite s =
	    CU_add_suite_with_setup_and_teardown(suite_name, NULL, NULL, test_setup, test_teardown);
	if (!s)
		return 1;
	static const struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
		{"unpark before park", test_unpark_before_park},
#if defined(__linux__)
		{"unpark_lock records the waker's CPU", test_waker_cpu},
#endif
		{"ping-pong, 100000 round trips", test_pingpong},
		{"short timeouts are never early", test_timeouts},
		{"past deadlines return at once", test_past_deadlines},
		{"deadline_after saturates", test_deadline_after},
		{"huge deadlines do not wrap", test_huge_deadlines},
		{"non-normalised and NULL deadlines", test_odd_deadlines},
		{"timed_out: real timeout and racing unpark", test_timed_out},
		{"queue torture", test_torture},
#if !defined(_WIN32)
		{"signal storm", test_signal_storm},
#endif
		{"init/destroy cycles, init_with", test_init_destroy},
		{"init_with invalid backends", test_init_with_invalid},
		{"thread_yield", test_thread_yield},
		{"parker freed before unpark", test_lifetime},
		{"backends side by side", test_side_by_side},
		{"memory ordering through unpark", test_memory_ordering},
		{"relock between unpark_lock and unpark", test_relock},
	};
	const char *only = getenv("TPTEST_ONLY");
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		if (only && *only && !strstr(tests[i].name, only))
			continue;
		if (!CU_add_test(s, tests[i].name, tests[i].fn))
			return 1;
	}

	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_ErrorCode err = CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	if (err != CUE_SUCCESS)
		fprintf(stderr, "CUnit error: %s\n", CU_get_error_msg());
	return failed || err != CUE_SUCCESS ? 1 : 0;
}
