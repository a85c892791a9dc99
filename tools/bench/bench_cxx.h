/* SPDX-License-Identifier: MIT */
/* The C++20 atomic::wait baseline (bench_cxx.cpp), seen from C: plain
 * functions on bench_cxx_size() bytes, since <stdatomic.h> and <atomic> do
 * not mix in one translation unit. */
#ifndef TPARKER_TOOLS_BENCH_CXX_H
#define TPARKER_TOOLS_BENCH_CXX_H

#include <stddef.h>
#include <stdint.h>
#ifndef __cplusplus
#include <stdbool.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

size_t bench_cxx_size(void);
void bench_cxx_init(void *p);
void bench_cxx_destroy(void *p);
void bench_cxx_prepare_park(void *p);
void bench_cxx_park(void *p);
bool bench_cxx_timed_out(void *p);
void bench_cxx_unpark(void *p);
uint64_t bench_cxx_fastpath(void *p, uint64_t n);
/* The fast path with a seq_cst store before notify_one (bench_cxx.cpp). */
uint64_t bench_cxx_fastpath_seq_cst(void *p, uint64_t n);

#ifdef __cplusplus
}
#endif

#endif
