/* SPDX-License-Identifier: MIT */
/*
 * The lot's private parts shared by its files. The lot sits on the public
 * parker API only: it knows nothing of backends.
 */
#ifndef TPARKER_LOT_INTERNAL_H
#define TPARKER_LOT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <tparker/tparker.h>

/* Misuse the library can detect: a message, then abort(). */
#if defined(_WIN32)
/* mingw's gcc reads format(printf) as Microsoft's printf, which knows no
 * %zu; the build asks for mingw's C99 one (__USE_MINGW_ANSI_STDIO). */
__attribute__((noreturn, format(gnu_printf, 1, 2))) void tp_lot_fatal(const char *fmt, ...);
#else
__attribute__((noreturn, format(printf, 1, 2))) void tp_lot_fatal(const char *fmt, ...);
#endif

/* tparker_park_until() with the library's own struct timespec, whatever
 * layout the exported name takes on this ABI. */
bool tp_lot_park_until(tparker_t *p, const struct timespec *deadline);

static inline void tp_lot_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__) || (defined(__arm__) && __ARM_ARCH >= 7)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/* A short, bounded spin before parking (parking_lot_core's SpinWait): a
 * few pause loops, then a few yields, then give up. */
struct tp_spinwait {
	unsigned counter;
};

static inline bool tp_spinwait_spin(struct tp_spinwait *s)
{
	if (s->counter >= 10)
		return false;
	s->counter++;
	if (s->counter <= 3) {
		for (unsigned i = 0; i < (1u << s->counter); i++)
			tp_lot_relax();
	} else {
		tparker_thread_yield();
	}
	return true;
}

#endif
