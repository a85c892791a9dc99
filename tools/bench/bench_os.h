/* SPDX-License-Identifier: MIT */
/* What the bench needs from the platform beyond C11 and POSIX threads (which
 * mingw-w64 provides on Windows): one twin per platform, bench_os-posix.c and
 * bench_os-windows.c, chosen in meson.build. */
#ifndef TPARKER_TOOLS_BENCH_OS_H
#define TPARKER_TOOLS_BENCH_OS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* bench_sleep_ns and bench_pin_self (bench.h) live in the twins too. */

void *bench_aligned_alloc(size_t align, size_t size); /* size: a multiple of align */
void bench_aligned_free(void *p);

/* The first CPU this process may run on, or -1 when that cannot be known. */
int bench_first_cpu(void);
long bench_online_cpus(void);
/* The system's name and version, and its load averages ("" where there are none). */
void bench_machine(char *system, size_t system_len, char *loadavg, size_t loadavg_len);
/* The CPU time thread t has used so far: 0, or an errno value. */
int bench_thread_cpu_ns(pthread_t t, uint64_t *ns);

/* The system's own wait and wake on a 32-bit word (the raw column of the lock
 * bench's wait/wake row), and its name for the table. */
extern const char bench_word_name[];
void bench_word_wait(uint32_t *word, uint32_t seen);
void bench_word_wake_one(uint32_t *word);

/* One line saying whose figures these are when it is not plainly the
 * system's (under wine: wine's), else NULL. */
const char *bench_platform_note(void);
/* Why the baselines are fewer here than on Linux, or NULL. */
const char *bench_baselines_note(void);

#endif
