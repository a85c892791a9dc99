/* SPDX-License-Identifier: MIT */
/* tparker bench --only lock (bench_lock.c). */
#ifndef TPARKER_TOOLS_BENCH_LOCK_H
#define TPARKER_TOOLS_BENCH_LOCK_H

#include <stdbool.h>

/* Measures and prints a table (or JSON); 0. */
int bench_lock_run(unsigned rounds, bool quick, bool json);

#endif
