/* SPDX-License-Identifier: MIT */
/*
 * Backends side by side: a parker of the backend under test and one of
 * another backend in the same process each wake only through their own
 * unpark, and ping-pongs on each and across both run at once.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

/* ---- backends side by side ---------------------------------------------- */

void test_side_by_side(void)
{
	const tparker_backend_t *other = NULL;

	begin_test("side by side");
	const tparker_backend_t *spin = tparker_backend_get("spin");
	EXPECT(spin != NULL, "tparker_backend_get(\"spin\") failed: %s", tparker_backend_error());
	if (spin)
		EXPECT(strcmp(tparker_backend_name(spin), "spin") == 0,
		       "get(\"spin\") is named \"%s\"", tparker_backend_name(spin));
	if (strcmp(backend_name, "spin") != 0) {
		other = spin;
	} else {
		/* The plugins of this platform, in priority order. */
#if defined(_WIN32)
		static const char *const names[] = {"waitonaddress", "keyed"};
#else
		static const char *const names[] = {"futex", "futex2", "pthread"};
#endif
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !other; i++) {
			other = tparker_backend_get(names[i]);
			if (other)
				EXPECT(strcmp(tparker_backend_name(other), names[i]) == 0,
				       "get(\"%s\") is named \"%s\"", names[i],
				       tparker_backend_name(other));
		}
	}
	if (!other)
		other = def; /* a spin run with no plugin usable here */
	printf("[%s beside %s] ", backend_name, tparker_backend_name(other));

	tparker_t a, b;
	init_parker(&a, def);
	init_parker(&b, other);
	EXPECT(strcmp(tparker_backend_name(def), backend_name) == 0, "default is \"%s\"",
	       tparker_backend_name(def));
	/* Each parker dispatches to its own backend: waking one leaves the
	 * other parked. */
	tparker_prepare_park(&a);
	tparker_prepare_park(&b);
	tparker_unpark(tparker_unpark_lock(&b));
	struct timespec d = tparker_deadline_after(2 * NS_PER_MS);
	EXPECT(!tparker_park_until(&a, &d), "default parker woken by the other's unpark");
	d = tparker_deadline_after(5 * NS_PER_S);
	EXPECT(tparker_park_until(&b, &d), "other parker not woken by its unpark");
	tparker_unpark(tparker_unpark_lock(&a));
	d = tparker_deadline_after(5 * NS_PER_S);
	EXPECT(tparker_park_until(&a, &d), "default parker not woken by its unpark");
	tparker_destroy(&a);
	tparker_destroy(&b);

	/* Three exchanges at once: each backend alone, and one across both. */
	static struct pingpong pp[3];
	static struct pp_arg args[3][2];
	unsigned long rounds = 20000 / scale_down;
	pingpong_start(&pp[0], args[0], "default", def, def, rounds);
	pingpong_start(&pp[1], args[1], "other", other, other, rounds);
	pingpong_start(&pp[2], args[2], "default <-> other", def, other, rounds);
	for (int i = 0; i < 3; i++)
		pingpong_finish(&pp[i]);
}
