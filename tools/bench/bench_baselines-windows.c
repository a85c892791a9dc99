/* SPDX-License-Identifier: MIT */
/* Windows has none of bench_baselines.c's designs (raw futex, POSIX
 * semaphores, a pthread condvar are Linux and POSIX designs; mingw-w64's
 * emulations of the last two would measure the emulation): the Windows bench
 * compares the backends with each other, and says so (bench_baselines_note). */
#include "bench.h"

size_t bench_baselines(struct bench_variant *out, size_t max)
{
	(void)out;
	(void)max;
	return 0;
}
