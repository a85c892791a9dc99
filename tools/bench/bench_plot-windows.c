/* SPDX-License-Identifier: MIT */
/* tparker bench --plot on Windows: not drawn (bench_plot.c runs gnuplot with
 * fork and exec); the table and --json are the same as elsewhere. */
#include <stdio.h>

#include "bench.h"

char *bench_find_gnuplot(void)
{
	return NULL;
}

int bench_plot(const struct bench_results *r, const char *file)
{
	(void)r;
	fprintf(stderr, "tparker: bench: --plot is not available on Windows: %s not drawn\n", file);
	return 1;
}
