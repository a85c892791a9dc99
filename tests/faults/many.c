/* SPDX-License-Identifier: MIT */
/*
 * 100 000 parkers created and destroyed, 1 000 alive at a time, each
 * through a full cycle: meant for valgrind's leak check (and ASan's), which
 * would flag a backend that allocates in init and forgets it in destroy.
 */
#include "tparker/tparker.h"

#include "harness.h"

#define TOTAL 100000
#define BATCH 1000

int main(int argc, char **argv)
{
	tpt_start("many", argc, argv);
	tpt_watchdog(20, "100 000 parkers");

	static tparker_t *alive[BATCH];
	for (unsigned done = 0; done < TOTAL; done += BATCH) {
		for (unsigned i = 0; i < BATCH; i++) {
			alive[i] = malloc(sizeof(tparker_t));
			if (!alive[i])
				tpt_fail("out of memory");
			int err = tparker_init(alive[i]);
			if (err)
				tpt_fail("tparker_init of parker %u: %s", done + i, strerror(err));
		}
		for (unsigned i = 0; i < BATCH; i++) {
			tparker_t *p = alive[i];
			/* An unpark before park, then a timeout that nobody races. */
			tparker_prepare_park(p);
			tparker_unpark(tparker_unpark_lock(p));
			tparker_park(p);
			tparker_prepare_park(p);
			struct timespec past = {0, 0};
			if (tparker_park_until(p, &past))
				tpt_fail("park_until(past) of parker %u returned true", done + i);
			if (!tparker_timed_out(p))
				tpt_fail("timed_out() of parker %u is false", done + i);
		}
		for (unsigned i = 0; i < BATCH; i++) {
			tparker_destroy(alive[i]);
			free(alive[i]);
		}
	}
	printf("many %s: %d parkers created, cycled and destroyed, %d alive at a time\n",
	       tpt_backend, TOTAL, BATCH);
	return 0;
}
