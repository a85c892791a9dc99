/* SPDX-License-Identifier: MIT */
/*
 * The little the tests need from the platform: threads, a mutex, the
 * library's monotonic clock, sleeps and a yield. POSIX threads on POSIX;
 * Win32 threads (_beginthreadex, so that the C runtime sets up each thread
 * it is used on) and SRW locks on Windows, where the tests link nothing but
 * libtparker and the system DLLs (no libwinpthread-1.dll beside them).
 *
 * A thread function is void *fn(void *) on both; its result is ignored.
 * Everything here is static inline: each test program takes the header
 * alone, without a library of its own.
 */
#ifndef TPTEST_PORT_H
#define TPTEST_PORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tparker/backend.h> /* tparker_now(): the library's clock on both */

#if defined(_WIN32)
#include <process.h>
#include <windows.h>
#else
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#endif

/* printf-style checking that matches the C library the tests call: mingw's
 * C99 printf (__USE_MINGW_ANSI_STDIO) on Windows, not the Microsoft one. */
#if defined(_WIN32)
#define TP_PRINTF(f, a) __attribute__((format(gnu_printf, f, a)))
#else
#define TP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#endif

#define TP_NS_PER_MS 1000000LL
#define TP_NS_PER_S  1000000000LL

/* ---- clock ---------------------------------------------------------------- */

/* The clock deadlines are absolute on: CLOCK_MONOTONIC on POSIX,
 * QueryPerformanceCounter on Windows. Reading another one would make a
 * "never early" check compare against the wrong time. */
static inline struct timespec tp_now(void)
{
	return tparker_now();
}

static inline int64_t tp_ns_until(const struct timespec *until)
{
	struct timespec t = tp_now();

	return (int64_t)(until->tv_sec - t.tv_sec) * TP_NS_PER_S + (until->tv_nsec - t.tv_nsec);
}

/* Sleeps at least ns, the whole interval even when signals interrupt it. */
static inline void tp_sleep_ns(int64_t ns)
{
	if (ns <= 0)
		return;
	struct timespec until = tp_now();
	int64_t nsec = until.tv_nsec + ns % TP_NS_PER_S;

	until.tv_sec += (time_t)(ns / TP_NS_PER_S + nsec / TP_NS_PER_S);
	until.tv_nsec = (long)(nsec % TP_NS_PER_S);
#if defined(_WIN32)
	/* Sleep() takes whole milliseconds: round up, and check the clock
	 * again, as a tick may end a sleep a little before the interval. */
	for (int64_t left; (left = tp_ns_until(&until)) > 0;)
		Sleep((DWORD)((left + TP_NS_PER_MS - 1) / TP_NS_PER_MS));
#else
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
		;
#endif
}

static inline void tp_yield(void)
{
#if defined(_WIN32)
	SwitchToThread();
#else
	sched_yield();
#endif
}

/* ---- threads -------------------------------------------------------------- */

#if defined(_WIN32)
typedef HANDLE tp_thread_t;

struct tp_thread_start_ {
	void *(*fn)(void *);
	void *arg;
};

static inline unsigned __stdcall tp_thread_main_(void *p)
{
	struct tp_thread_start_ s = *(struct tp_thread_start_ *)p;

	free(p);
	s.fn(s.arg);
	return 0;
}
#else
typedef pthread_t tp_thread_t;
#endif

/* Starts fn(arg) on a new thread; a failure ends the program (a test that
 * cannot start its threads has nothing to say). */
static inline void tp_thread_start(tp_thread_t *t, void *(*fn)(void *), void *arg)
{
#if defined(_WIN32)
	struct tp_thread_start_ *s = malloc(sizeof(*s));
	uintptr_t h = 0;

	if (s) {
		s->fn = fn;
		s->arg = arg;
		h = _beginthreadex(NULL, 0, tp_thread_main_, s, 0, NULL);
	}
	if (!h) {
		fprintf(stderr, "FAIL: _beginthreadex: error %lu\n", GetLastError());
		exit(1);
	}
	*t = (HANDLE)h;
#else
	int err = pthread_create(t, NULL, fn, arg);

	if (err) {
		fprintf(stderr, "FAIL: pthread_create: %s\n", strerror(err));
		exit(1);
	}
#endif
}

static inline void tp_thread_join(tp_thread_t t)
{
#if defined(_WIN32)
	WaitForSingleObject(t, INFINITE);
	CloseHandle(t);
#else
	pthread_join(t, NULL);
#endif
}

static inline void tp_thread_detach(tp_thread_t t)
{
#if defined(_WIN32)
	CloseHandle(t);
#else
	pthread_detach(t);
#endif
}

/* ---- mutex ---------------------------------------------------------------- */

#if defined(_WIN32)
typedef SRWLOCK tp_mutex_t;
#define TP_MUTEX_INIT SRWLOCK_INIT
#else
typedef pthread_mutex_t tp_mutex_t;
#define TP_MUTEX_INIT PTHREAD_MUTEX_INITIALIZER
#endif

static inline void tp_mutex_init(tp_mutex_t *m)
{
#if defined(_WIN32)
	InitializeSRWLock(m);
#else
	pthread_mutex_init(m, NULL);
#endif
}

static inline void tp_mutex_destroy(tp_mutex_t *m)
{
#if defined(_WIN32)
	(void)m; /* an SRW lock holds no resources */
#else
	pthread_mutex_destroy(m);
#endif
}

static inline void tp_mutex_lock(tp_mutex_t *m)
{
#if defined(_WIN32)
	AcquireSRWLockExclusive(m);
#else
	int err = pthread_mutex_lock(m);

	if (err) {
		fprintf(stderr, "FAIL: pthread_mutex_lock: %s\n", strerror(err));
		_Exit(1);
	}
#endif
}

static inline void tp_mutex_unlock(tp_mutex_t *m)
{
#if defined(_WIN32)
	ReleaseSRWLockExclusive(m);
#else
	pthread_mutex_unlock(m);
#endif
}

/* true when the lock was free and is now held. */
static inline bool tp_mutex_trylock(tp_mutex_t *m)
{
#if defined(_WIN32)
	return TryAcquireSRWLockExclusive(m) != 0;
#else
	return pthread_mutex_trylock(m) == 0;
#endif
}

/* ---- aligned memory ------------------------------------------------------- */

/* C11's aligned_alloc, which msvcrt lacks; freed with tp_aligned_free(). */
static inline void *tp_aligned_alloc(size_t align, size_t size)
{
#if defined(_WIN32)
	return _aligned_malloc(size, align);
#else
	return aligned_alloc(align, size);
#endif
}

static inline void tp_aligned_free(void *p)
{
#if defined(_WIN32)
	_aligned_free(p);
#else
	free(p);
#endif
}

#endif
