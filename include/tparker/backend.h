/* SPDX-License-Identifier: MIT */
/*
 * libtparker plugin ABI: what a backend plugin implements.
 *
 * A plugin is a shared object tparker-<name>.so that exports exactly one
 * symbol, TPARKER_BACKEND_ENTRY (its name carries the ABI major, so a plugin
 * of another major simply has no such symbol). The core calls it once with a
 * table of host services and receives a const struct tparker_backend. The
 * core then copies the table, checks every field (version, size, name,
 * state size, every required operation) and calls probe(); a plugin that
 * fails any check is closed again with a reason. An adopted plugin is never
 * unloaded.
 *
 * Plugins never link against libtparker: everything they need from the core
 * comes through struct tparker_host, and the inline helpers below.
 *
 * Compatibility: members are only ever appended. A plugin built against an
 * older minor has a smaller `size`; the core treats the members it lacks as
 * absent (NULL / 0). Each operation below says whether it is required.
 */
#ifndef TPARKER_BACKEND_H
#define TPARKER_BACKEND_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "tparker.h"

#if defined(_WIN32)
/* The monotonic clock there is QueryPerformanceCounter (tparker_now). */
#include <windows.h>
#elif !defined(CLOCK_MONOTONIC)
#error "<tparker/backend.h> needs POSIX clocks: define _POSIX_C_SOURCE=200809L (or _GNU_SOURCE) before including it"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define TPARKER_BACKEND_ABI_MAJOR 1
#define TPARKER_BACKEND_ABI_MINOR 1
/* The value a plugin puts in `version`: major in the high 16 bits. */
#define TPARKER_BACKEND_ABI_VERSION ((TPARKER_BACKEND_ABI_MAJOR << 16) | TPARKER_BACKEND_ABI_MINOR)

/*
 * The entry symbol, spelled once so the loader and plugins cannot disagree.
 *
 * park_until's deadline is the struct timespec of the core and its plugins,
 * so both must have the same time_t. On a glibc ABI whose traditional time_t
 * is 32 bits (see <tparker/tparker.h>), one built with -D_TIME_BITS=64 has
 * another struct timespec than one built without: there the entry symbol of
 * a 64-bit time_t carries "_time64", and the core finds only plugins built
 * with its own time_t (another is reported as having no entry symbol). Build
 * a plugin with the same time_t flags as the libtparker it is for; the
 * public calls (tparker.h) serve programs of either kind.
 */
#if defined(TPARKER_TIME64_ABI_) && defined(__USE_TIME_BITS64)
#define TPARKER_BACKEND_ENTRY tparker_backend_entry_v1_time64
#else
#define TPARKER_BACKEND_ENTRY tparker_backend_entry_v1
#endif
#define TPARKER_STRINGIFY_(x) #x
#define TPARKER_STRINGIFY(x) TPARKER_STRINGIFY_(x)
#define TPARKER_BACKEND_ENTRY_NAME TPARKER_STRINGIFY(TPARKER_BACKEND_ENTRY)

/* Room for a backend's per-parker state inside tparker_t: the state starts
 * 16 bytes in (after the backend pointer) and is 16-byte aligned. */
#define TPARKER_STATE_OFFSET TPARKER_STATE_OFFSET_
#define TPARKER_STATE_MAX (TPARKER_SIZE - TPARKER_STATE_OFFSET)

/* Longest backend name; names are [a-z0-9_-], starting with a letter. */
#define TPARKER_NAME_MAX 32

/* Services the core lends a plugin (libglvnd style), valid forever. */
struct tparker_host {
	uint32_t version; /* TPARKER_BACKEND_ABI_VERSION of the core */
	uint32_t size;    /* sizeof(struct tparker_host) as the core built it */
	/* The core's environment reader: secure_getenv() semantics, so a
	 * setuid program ignores the variable. Use it for every TPARKER_*
	 * variable a plugin reads. */
	const char *(*getenv)(const char *name);
	/* printf-style line to stderr when TPARKER_DEBUG=1, else nothing. */
	void (*debug)(const char *fmt, ...)
#if defined(_WIN32) && defined(__GNUC__)
		__attribute__((format(gnu_printf, 1, 2)))
#elif defined(__GNUC__)
		__attribute__((format(printf, 1, 2)))
#endif
		;
};

struct tparker_backend {
	/* TPARKER_BACKEND_ABI_VERSION; the core rejects another major. */
	uint32_t version;
	/* sizeof(struct tparker_backend) as the plugin was compiled; at least
	 * offsetof(struct tparker_backend, thread_yield) + its size. */
	uint32_t size;
	/* Unique name, [a-z][a-z0-9_-]*, at most TPARKER_NAME_MAX bytes; the
	 * file is tparker-<name>.so. */
	const char *name;
	/* One line for `tparker list`. */
	const char *description;
	/* Higher wins the automatic choice among usable backends. */
	int32_t priority;
	/* Bytes of per-parker state; at most TPARKER_STATE_MAX. */
	uint32_t state_size;
	/* init() is cheap enough to run for every parker a program makes
	 * (no system call, no allocation). */
	bool cheap_to_construct;

	/* Required. Does this backend work here, right now (a kernel without
	 * the system call, a seccomp filter, an emulator)? Called once, from
	 * any thread, before any other operation. Returns 0, or an errno value
	 * and writes a one-line reason into why[0..why_len). */
	int (*probe)(const struct tparker_host *host, char *why, size_t why_len);

	/* Required. Initialise state (TPARKER_STATE_MAX bytes, 16-aligned,
	 * contents unspecified) as unparked. 0 or an errno value. */
	int (*init)(void *state);
	/* Required. No thread is parked on state or inside unpark_lock. */
	void (*destroy)(void *state);

	/* Required. Owner thread: mark parked; no system call. */
	void (*prepare_park)(void *state);
	/* Required. Owner thread: return only once an unparker has run
	 * unpark_lock (possibly before park was called); absorb spurious
	 * wakeups and EINTR. Acquire ordering on the way out. */
	void (*park)(void *state);
	/* Required. Owner thread: like park, but give up at the absolute
	 * CLOCK_MONOTONIC deadline. The core hands a normalised deadline
	 * (0 <= tv_nsec < 1e9, tv_sec >= 0) in the struct timespec of the
	 * core's own time_t, which is the plugin's (see TPARKER_BACKEND_ENTRY);
	 * the core converts a program's layout. Returns true when unparked,
	 * false on timeout; a deadline already past makes no system call.
	 * Never returns false before the deadline. */
	bool (*park_until)(void *state, const struct timespec *deadline);
	/* Required. Owner thread, after park_until returned false, while the
	 * caller holds the lock that unparkers take before unpark_lock: true
	 * when no unparker has reached the parker (a real timeout). It must
	 * not wait for an unparker between unpark_lock and unpark: that
	 * unparker may need the lock the caller holds. */
	bool (*timed_out)(void *state);
	/* Required. Any thread, holding its queue lock: release the parked
	 * thread (release ordering) and fill h->addr with all that
	 * unpark needs. From here on the owner may free state at any moment,
	 * and the caller may take any of its locks, its queue lock too, before
	 * it calls unpark: hold nothing from here to unpark that timed_out,
	 * park or another unparker could wait for. Return false when no unpark
	 * call is needed at all (the owner was not asleep): then the core drops
	 * the handle and unpark is not called. No system call. */
	bool (*unpark_lock)(void *state, tparker_unpark_handle_t *h);
	/* Required. Any thread, after releasing its locks: wake whoever the
	 * handle names. Must not read freed parker memory: everything comes
	 * from h->addr. A wake of an address nobody waits on any
	 * more is harmless. */
	void (*unpark)(const tparker_unpark_handle_t *h);
	/* Required. Give up the CPU. */
	void (*thread_yield)(void);

	/* ---- ABI 1.1 ---- */
	/* Optional (0: none). TPARKER_WORD_PROTOCOL_V1 lets the core, and the
	 * inline fast paths compiled into programs, run the steps that need no
	 * system call without calling this backend; see "Word protocol" below.
	 * A value this core does not know is treated as 0. The operations
	 * above stay required and must keep the same protocol. */
	uint32_t word_protocol;
	/* Members appended by later minors go here; each is optional. */
};

/*
 * Word protocol 1. The backend's state starts with two naturally aligned
 * 32-bit fields that every party reads and writes with atomic operations:
 *
 *   word       TPARKER_WORD_UNPARKED (0), TPARKER_WORD_PARKED (1) while the
 *              owner is awake after prepare_park, or any other value of the
 *              backend's own (typically "asleep, wake me with unpark");
 *   waker_cpu  the CPU the last unparker ran on, -1 when unknown.
 *
 * In exchange the core, and code in programs, may run these steps instead
 * of calling the backend:
 *   prepare_park      store PARKED (relaxed);
 *   park, park_until  return at once (true) when an acquire load of the
 *                     word sees UNPARKED;
 *   unpark_lock       store the caller's CPU into waker_cpu (relaxed), then
 *                     compare-exchange the word PARKED -> UNPARKED (release):
 *                     on success no unpark is needed; on failure the
 *                     backend's unpark_lock runs as usual.
 * So a backend must move the word away from PARKED (compare-exchange) before
 * its owner waits for an unpark call (polling the word while PARKED is
 * fine: the spin backend does), and treat UNPARKED as "an unparker has been
 * here". state_size is at least 8.
 */
#define TPARKER_WORD_PROTOCOL_V1 TPARKER_WORD_V1_
#define TPARKER_WORD_UNPARKED    TPARKER_WORD_UNPARKED_
#define TPARKER_WORD_PARKED      TPARKER_WORD_PARKED_
struct tparker_word_v1 {
	uint32_t word;
	int32_t waker_cpu;
};

/* The size of the smallest valid table of this major. */
#define TPARKER_BACKEND_MIN_SIZE \
	(offsetof(struct tparker_backend, thread_yield) + sizeof(void (*)(void)))

typedef const struct tparker_backend *(*tparker_backend_entry_fn)(const struct tparker_host *host);

#if defined(_WIN32)
#define TPARKER_PLUGIN_EXPORT __declspec(dllexport)
#elif defined(__GNUC__)
#define TPARKER_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define TPARKER_PLUGIN_EXPORT
#endif

#if defined(TPARKER_BUILTIN_PLUGIN)
/*
 * A plugin compiled into the core (the build's builtin_plugins option):
 * built with -DTPARKER_BUILTIN_PLUGIN=<name>, TPARKER_BACKEND_DEFINE(ops)
 * defines tparker_builtin_<name>_entry() instead of the exported entry
 * symbol, with the same signature, and the host pointer becomes
 * tparker_builtin_<name>_host: several plugins then live in one library
 * without a clash, and none of them is exported. The core's table of
 * built-in entries calls it once, as the loader calls a file's entry.
 */
#define TPARKER_BUILTIN_NAME_(prefix, name, suffix) prefix##name##suffix
#define TPARKER_BUILTIN_NAME(prefix, name, suffix) TPARKER_BUILTIN_NAME_(prefix, name, suffix)
#define tparker_plugin_host TPARKER_BUILTIN_NAME(tparker_builtin_, TPARKER_BUILTIN_PLUGIN, _host)
#define TPARKER_BUILTIN_ENTRY TPARKER_BUILTIN_NAME(tparker_builtin_, TPARKER_BUILTIN_PLUGIN, _entry)
#define TPARKER_BACKEND_DEFINE(ops)                                                           \
	const struct tparker_host *tparker_plugin_host;                                       \
	const struct tparker_backend *TPARKER_BUILTIN_ENTRY(const struct tparker_host *host); \
	const struct tparker_backend *TPARKER_BUILTIN_ENTRY(const struct tparker_host *host)  \
	{                                                                                      \
		tparker_plugin_host = host;                                                    \
		return &(ops);                                                                 \
	}
#else
/* In a plugin: TPARKER_BACKEND_DEFINE(my_ops) exports the entry symbol and
 * keeps the host table in tparker_plugin_host for the plugin's own use. */
#define TPARKER_BACKEND_DEFINE(ops)                                                           \
	const struct tparker_host *tparker_plugin_host;                                       \
	TPARKER_PLUGIN_EXPORT const struct tparker_backend *TPARKER_BACKEND_ENTRY(            \
		const struct tparker_host *host);                                              \
	TPARKER_PLUGIN_EXPORT const struct tparker_backend *TPARKER_BACKEND_ENTRY(            \
		const struct tparker_host *host)                                               \
	{                                                                                      \
		tparker_plugin_host = host;                                                    \
		return &(ops);                                                                 \
	}
#endif

/* ---- inline helpers shared by the core and plugins ---------------------- */

/* Current CLOCK_MONOTONIC time (vDSO: no system call on Linux). On Windows
 * the library's monotonic clock is QueryPerformanceCounter (no system call
 * either), split into seconds and a remainder: a 128-bit product would make
 * the DLLs import libgcc's. The remainder is below the frequency, so the
 * product fits 64 bits for any frequency below 9.2 GHz. */
static inline struct timespec tparker_now(void)
{
	struct timespec ts;
#if defined(_WIN32)
	LARGE_INTEGER count, freq;
	QueryPerformanceCounter(&count);
	QueryPerformanceFrequency(&freq);
	ts.tv_sec = (time_t)(count.QuadPart / freq.QuadPart);
	ts.tv_nsec = (long)(count.QuadPart % freq.QuadPart * 1000000000LL / freq.QuadPart);
#else
	clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
	return ts;
}

/* a < b for normalised timespecs. */
static inline bool tparker_ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Has the normalised deadline passed? */
static inline bool tparker_deadline_passed(const struct timespec *deadline)
{
	struct timespec now = tparker_now();
	return !tparker_ts_before(&now, deadline);
}

/* The CPU's spin-wait hint. */
static inline void tparker_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#elif defined(__riscv)
	__asm__ __volatile__(".insn i 0x0F, 0, x0, x0, 0x010" ::: "memory"); /* pause */
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

#ifdef __cplusplus
}
#endif

#endif /* TPARKER_BACKEND_H */
