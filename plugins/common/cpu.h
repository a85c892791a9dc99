/* SPDX-License-Identifier: MIT */
/* The CPU the calling thread runs on, cheaply enough for an unpark fast
 * path: shared as static inline code by the core (the word protocol's
 * unpark_lock) and the plugins (the adaptive spin). */
#ifndef TPARKER_PLUGINS_COMMON_CPU_H
#define TPARKER_PLUGINS_COMMON_CPU_H

#include <sched.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__has_include)
#if __has_include(<sys/rseq.h>) && (defined(__x86_64__) || defined(__aarch64__))
#include <sys/rseq.h>
/* glibc 2.35 added __rseq_offset; __builtin_thread_pointer() is the thread
 * pointer it is relative to on these architectures. */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
#define TP_HAVE_RSEQ_CPU 1
#endif
#endif
#endif

/* glibc >= 2.35 registers rseq, whose cpu_id the kernel keeps current in
 * the thread's own memory, so this is one load instead of a call into libc;
 * sched_getcpu() otherwise (the vDSO or, in the end, a system call). -1 when
 * unknown. */
static inline int tp_current_cpu(void)
{
#if defined(TP_HAVE_RSEQ_CPU)
	if (__rseq_size >= offsetof(struct rseq, cpu_id) + sizeof(uint32_t)) {
		const volatile struct rseq *r =
		    (const volatile struct rseq *)((char *)__builtin_thread_pointer() +
						   __rseq_offset);
		int32_t cpu = (int32_t)r->cpu_id;
		if (cpu >= 0)
			return cpu;
	}
#endif
#if defined(__linux__) || defined(__GLIBC__)
	return sched_getcpu();
#else
	return -1;
#endif
}

#endif
