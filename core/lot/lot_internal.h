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

#include <tparker/lot.h>
#include <tparker/tparker.h>

/* Misuse the library can detect: a message, then abort(). */
#if defined(_WIN32)
/* mingw's gcc reads format(printf) as Microsoft's printf, which knows no
 * %zu; the build asks for mingw's C99 one (__USE_MINGW_ANSI_STDIO). */
__attribute__((noreturn, format(gnu_printf, 1, 2))) void tp_lot_fatal(const char *fmt, ...);
#else
__attribute__((noreturn, format(printf, 1, 2))) void tp_lot_fatal(const char *fmt, ...);
#endif

/* tparker_lot_park() with the library's own struct timespec. */
tparker_park_result_t tp_lot_park_ts(uintptr_t key, bool (*validate)(void *),
				     void (*before_sleep)(void *),
				     void (*timed_out)(void *, uintptr_t, bool), void *ctx,
				     uintptr_t park_token, const struct timespec *deadline);

/* tparker_park_until() with the library's own struct timespec, whatever
 * layout the exported name takes on this ABI. */
bool tp_lot_park_until(tparker_t *p, const struct timespec *deadline);

/* A deadline of any exported layout (sec, nsec) as the library's own
 * struct timespec in *buf: a tv_sec beyond the library's time_t is the
 * largest timespec (later, never earlier), a negative one is long past;
 * tparker_park_until() clamps tv_nsec. */
static inline const struct timespec *tp_lot_deadline(struct timespec *buf, bool set, long long sec,
						     long nsec)
{
	if (!set)
		return NULL;
	if (sec < 0) {
		buf->tv_sec = 0;
		buf->tv_nsec = 0;
	} else if (sizeof(time_t) < sizeof(sec) && sec > (long long)INT32_MAX) {
		buf->tv_sec = (time_t)INT32_MAX;
		buf->tv_nsec = 999999999L;
	} else {
		buf->tv_sec = (time_t)sec;
		buf->tv_nsec = nsec;
	}
	return buf;
}
#define TP_LOT_DEADLINE(buf, d)                                                                    \
	tp_lot_deadline(&(buf), (d) != NULL, (d) ? (d)->tv_sec : 0, (d) ? (d)->tv_nsec : 0)

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
