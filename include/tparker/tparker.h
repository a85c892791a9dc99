/* SPDX-License-Identifier: MIT */
/*
 * libtparker — thread parking for C.
 *
 * A parker lets one thread (its owner) block until another thread wakes it.
 * The protocol, in the order a wait queue uses it:
 *
 *   owner:  tparker_prepare_park(p); publish p in a queue (under a lock);
 *           tparker_park(p) or tparker_park_until(p, deadline);
 *           after a false from park_until, under the queue lock:
 *           if (tparker_timed_out(p)) remove p from the queue.
 *   waker:  under the queue lock: take p off the queue;
 *           h = tparker_unpark_lock(p); release the queue lock;
 *           tparker_unpark(h);
 *
 * An unpark that lands between prepare_park and park makes park return at
 * once. The waker's writes before tparker_unpark_lock() happen-before the
 * owner's return from park/park_until. Once tparker_unpark_lock() has
 * released the owner, the owner may destroy and free its parker before the
 * waker calls tparker_unpark(h): the handle holds all that unpark needs.
 */
#ifndef TPARKER_TPARKER_H
#define TPARKER_TPARKER_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#define TPARKER_ALIGNAS_(n) alignas(n)
#else
#define TPARKER_ALIGNAS_(n) _Alignas(n)
#endif

#if defined(_WIN32) && defined(TPARKER_BUILDING_CORE)
/* A DLL exports what it marks, and then only that. */
#define TPARKER_API __declspec(dllexport)
#elif defined(__GNUC__) && defined(TPARKER_BUILDING_CORE)
#define TPARKER_API __attribute__((visibility("default")))
#else
#define TPARKER_API
#endif

#if defined(__GNUC__)
#define TPARKER_EXTENSION_ __extension__
#else
#define TPARKER_EXTENSION_
#endif

/* Bytes in a tparker_t: the backend pointer, then the backend's state. */
#define TPARKER_SIZE 128

/* The library's private layout of a tparker_t, for the inline fast paths
 * below: the backend pointer at 0, the word protocol the parker's backend
 * follows (0: none) at byte TPARKER_PROTOCOL_OFFSET_, the backend's state
 * from TPARKER_STATE_OFFSET_ (its first 32 bits are the word). */
#define TPARKER_PROTOCOL_OFFSET_ 8
#define TPARKER_STATE_OFFSET_    16
#define TPARKER_WORD_V1_         1u
#define TPARKER_WORD_UNPARKED_   0u
#define TPARKER_WORD_PARKED_     1u

/* Opaque, embeddable parker storage; never copied or moved after init. */
typedef struct tparker {
	TPARKER_EXTENSION_ union {
		TPARKER_ALIGNAS_(16) unsigned char tparker_opaque_[TPARKER_SIZE];
		uint32_t tparker_words_[TPARKER_SIZE / 4];
	};
} tparker_t;

/* A backend (defined in <tparker/backend.h> for plugin authors). */
typedef struct tparker_backend tparker_backend_t;

/*
 * What tparker_unpark() needs, returned by value from tparker_unpark_lock().
 * Its fields belong to the library: never read or change them. A handle is
 * used exactly once. Two pointers, so it travels in registers.
 */
typedef struct tparker_unpark_handle {
	const tparker_backend_t *backend; /* NULL: nothing left to do */
	void *addr;                       /* backend's: what to wake */
} tparker_unpark_handle_t;

/*
 * Two layouts of struct timespec. On a glibc ABI whose traditional time_t is
 * 32 bits (i386, armhf, mips, powerpc: __TIMESIZE == 32), a program may pick
 * a 64-bit time_t with -D_TIME_BITS=64 -D_FILE_OFFSET_BITS=64, which changes
 * struct timespec. There libtparker exports each call that takes or returns
 * one twice, whatever time_t the library itself was built with:
 * tparker_park_until and tparker_deadline_after for the traditional layout,
 * tparker_park_until_time64 and tparker_deadline_after_time64 for the 64-bit
 * one. As glibc does for its own time functions, this header binds the usual
 * names to the symbols of the including program's layout, so a program of
 * either kind runs with the same library. Other ABIs have one layout and
 * only the usual names.
 */
#if defined(__GLIBC__) && defined(__TIMESIZE) && __TIMESIZE == 32
#define TPARKER_TIME64_ABI_ 1
#if defined(TPARKER_BUILDING_CORE) || defined(__USE_TIME_BITS64)
/* The two calls are declared here, not with the others below. */
#define TPARKER_TIME_DECLS_ 1
#endif
#endif

#if defined(TPARKER_TIME_DECLS_) && defined(TPARKER_BUILDING_CORE)
/* The library defines both sets with these exact layouts, not with its own
 * struct timespec: the traditional one (time_t is long there) and the 64-bit
 * one, whose tv_nsec is a long beside 32 bits of padding. */
struct tparker_timespec32_ {
	long tv_sec;
	long tv_nsec;
};
struct tparker_timespec64_ {
	long long tv_sec;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	int tparker_pad_;
	long tv_nsec;
#else
	long tv_nsec;
	int tparker_pad_;
#endif
};
TPARKER_API bool tparker_park_until(tparker_t *p, const struct tparker_timespec32_ *deadline);
TPARKER_API bool tparker_park_until_time64(tparker_t *p,
					   const struct tparker_timespec64_ *deadline);
TPARKER_API struct tparker_timespec32_ tparker_deadline_after(uint64_t ns);
TPARKER_API struct tparker_timespec64_ tparker_deadline_after_time64(uint64_t ns);
#elif defined(TPARKER_TIME_DECLS_) && (defined(__GNUC__) || defined(__clang__))
/* A 64-bit time_t: the usual names, the _time64 symbols (glibc's
 * __REDIRECT). Calls, the address of a name and the inline paths below all
 * reach them. */
#define TPARKER_STR_(x)                 #x
#define TPARKER_ASMNAME2_(prefix, name) TPARKER_STR_(prefix) name
#define TPARKER_TIME64_(name) \
	__asm__(TPARKER_ASMNAME2_(__USER_LABEL_PREFIX__, #name "_time64"))
TPARKER_API bool tparker_park_until(tparker_t *p, const struct timespec *deadline)
	TPARKER_TIME64_(tparker_park_until);
TPARKER_API struct timespec tparker_deadline_after(uint64_t ns)
	TPARKER_TIME64_(tparker_deadline_after);
#elif defined(TPARKER_TIME_DECLS_)
/* A 64-bit time_t, a compiler without asm labels: macros, as glibc does. */
TPARKER_API bool tparker_park_until_time64(tparker_t *p, const struct timespec *deadline);
TPARKER_API struct timespec tparker_deadline_after_time64(uint64_t ns);
#define tparker_park_until     tparker_park_until_time64
#define tparker_deadline_after tparker_deadline_after_time64
#endif

/* Initialise with the process's default backend. 0 or an errno value. */
TPARKER_API int tparker_init(tparker_t *p);
/* Initialise with backend b (from tparker_default_backend(),
 * tparker_backend_get() or tparker_backend_open()). 0, EINVAL for a NULL
 * or unknown backend, or the backend's errno value. */
TPARKER_API int tparker_init_with(tparker_t *p, const tparker_backend_t *b);
/* Destroy. No thread may be parked on p or hold an unpark_lock on it
 * (a handle already returned by tparker_unpark_lock() stays valid). */
TPARKER_API void tparker_destroy(tparker_t *p);

/* Owner only: mark parked, before publishing p in a queue. */
TPARKER_API void tparker_prepare_park(tparker_t *p);
/* Owner only: block until unparked. Spurious wakeups and EINTR are absorbed. */
TPARKER_API void tparker_park(tparker_t *p);
/* Owner only: block until unparked (true) or until the absolute
 * CLOCK_MONOTONIC deadline passes (false). A past deadline returns at once;
 * a non-normalised deadline is clamped (tv_nsec into [0, 999999999]);
 * no deadline overflows. */
#ifndef TPARKER_TIME_DECLS_
TPARKER_API bool tparker_park_until(tparker_t *p, const struct timespec *deadline);
#endif
/* Owner only, after park_until returned false, under the queue lock:
 * true when no unparker reached p (a real timeout). */
TPARKER_API bool tparker_timed_out(tparker_t *p);

/* Waker, while holding its queue lock: phase 1 of the wake. */
TPARKER_API tparker_unpark_handle_t tparker_unpark_lock(tparker_t *p);
/* Waker, after releasing its locks (it may take them again first): phase 2.
 * Never reads p's memory: p may be freed by now. Nothing is held between
 * tparker_unpark_lock() and this call. */
TPARKER_API void tparker_unpark(tparker_unpark_handle_t h);

/* Give up the CPU, the default backend's way. */
TPARKER_API void tparker_thread_yield(void);

/* now + ns on CLOCK_MONOTONIC, saturating at the largest timespec. */
#ifndef TPARKER_TIME_DECLS_
TPARKER_API struct timespec tparker_deadline_after(uint64_t ns);
#endif

/* The backend chosen when the library was loaded (never NULL). */
TPARKER_API const tparker_backend_t *tparker_default_backend(void);
/* Why the default backend was chosen, one line (never NULL). */
TPARKER_API const char *tparker_default_reason(void);
/* "spin", "futex", "pthread", ...; "(null)" for NULL. */
TPARKER_API const char *tparker_backend_name(const tparker_backend_t *b);
/* A built-in or installed backend by name, loaded on demand; NULL when
 * absent or unusable here (tparker_backend_error() says why). */
TPARKER_API const tparker_backend_t *tparker_backend_get(const char *name);
/* dlopen one plugin file, validate and probe it. 0 and *out set, or an
 * errno value with tparker_backend_error() saying why. */
TPARKER_API int tparker_backend_open(const char *path, const tparker_backend_t **out);
/* The calling thread's reason for its last failed tparker_backend_get() or
 * tparker_backend_open(); "" when there is none. */
TPARKER_API const char *tparker_backend_error(void);

/* The library's version (MAJOR.MINOR.PATCH, e.g. "1.1.0") and its plugin
 * directory. */
TPARKER_API const char *tparker_version(void);
TPARKER_API const char *tparker_plugin_dir(void);

/*
 * Inline fast paths. When a parker's backend follows the library's word
 * protocol (every backend shipped with libtparker; see word_protocol in
 * <tparker/backend.h>),
 * the steps that need no system call run in the caller, without a call into
 * the library: prepare_park, a park or park_until that finds the parker
 * already unparked, an unpark with nothing to wake and, on Linux with glibc
 * 2.35 or later on x86-64 and aarch64 (where the caller's CPU is one load),
 * an unpark_lock that finds the owner awake. Everything else,
 * and every parker of another backend, calls the library as before, so a
 * program built with these paths runs on any libtparker 1.x. The names stay
 * real exported functions: their addresses, dlsym() and other languages
 * reach the same behaviour. Define TPARKER_NO_INLINE before including this
 * header to always call the library.
 */
#if defined(__GNUC__)
/* The parker's word when its backend follows word protocol 1, else NULL
 * (also for a NULL parker, which the library then reports). */
static inline uint32_t *tparker_word_v1_(tparker_t *p)
{
	if (__builtin_expect(p != 0 && p->tparker_words_[TPARKER_PROTOCOL_OFFSET_ / 4] ==
					   TPARKER_WORD_V1_,
			     1))
		return &p->tparker_words_[TPARKER_STATE_OFFSET_ / 4];
	return 0;
}

/* The word protocol's prepare_park: true when it was done here. */
static inline bool tparker_word_prepare_(tparker_t *p)
{
	uint32_t *w = tparker_word_v1_(p);
	if (w)
		__atomic_store_n(w, TPARKER_WORD_PARKED_, __ATOMIC_RELAXED);
	return w != 0;
}

/* The word protocol's early return of park: true when an unparker has
 * been here (acquire: its writes are visible to the caller). */
static inline bool tparker_word_unparked_(tparker_t *p)
{
	uint32_t *w = tparker_word_v1_(p);
	return w && __atomic_load_n(w, __ATOMIC_ACQUIRE) == TPARKER_WORD_UNPARKED_;
}

#if !defined(TPARKER_NO_INLINE) && !defined(TPARKER_BUILDING_CORE) && defined(__linux__) && \
    defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35)) && \
    (defined(__x86_64__) || defined(__aarch64__))
/* The caller's CPU for word protocol 1's unpark_lock, in one load: glibc
 * 2.35 and later give each thread an rseq area whose cpu_id (a 32-bit field
 * at byte 4, the kernel's ABI) the kernel keeps current, at __rseq_offset
 * from the thread pointer (glibc's declarations, repeated unless
 * <sys/rseq.h> came first, so that this header does not pull it in). False
 * when the thread has none (rseq turned off, or not registered): the
 * library is called then. */
#if !defined(RSEQ_SIG)
extern const __PTRDIFF_TYPE__ __rseq_offset;
extern const unsigned int __rseq_size;
#endif
#define TPARKER_INLINE_UNPARK_LOCK_ 1
static inline bool tparker_rseq_cpu_(uint32_t *cpu)
{
	if (__builtin_expect(__rseq_size < 8, 0))
		return false;
	*cpu = __atomic_load_n((uint32_t *)((char *)__builtin_thread_pointer() + __rseq_offset + 4),
			       __ATOMIC_RELAXED);
	return __builtin_expect((int32_t)*cpu >= 0, 1);
}
#endif

#if !defined(TPARKER_NO_INLINE) && !defined(TPARKER_BUILDING_CORE)
static inline void tparker_prepare_park_inline_(tparker_t *p)
{
	if (!tparker_word_prepare_(p))
		(tparker_prepare_park)(p);
}

static inline void tparker_park_inline_(tparker_t *p)
{
	if (!tparker_word_unparked_(p))
		(tparker_park)(p);
}

static inline bool tparker_park_until_inline_(tparker_t *p, const struct timespec *deadline)
{
	return tparker_word_unparked_(p) || (tparker_park_until)(p, deadline);
}

static inline void tparker_unpark_inline_(tparker_unpark_handle_t h)
{
	if (h.backend)
		(tparker_unpark)(h);
}

#if defined(TPARKER_INLINE_UNPARK_LOCK_)
/* The word protocol's unpark_lock: the waker's CPU, then PARKED ->
 * UNPARKED; the library when that fails (the owner is asleep, or it is not
 * this protocol's parker). */
static inline tparker_unpark_handle_t tparker_unpark_lock_inline_(tparker_t *p)
{
	uint32_t *w = tparker_word_v1_(p);
	uint32_t cpu, parked = TPARKER_WORD_PARKED_;

	if (w && tparker_rseq_cpu_(&cpu)) {
		__atomic_store_n(&w[1], cpu, __ATOMIC_RELAXED);
		if (__atomic_compare_exchange_n(w, &parked, TPARKER_WORD_UNPARKED_, false,
						__ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
			tparker_unpark_handle_t none = {0, 0};
			return none;
		}
	}
	return (tparker_unpark_lock)(p);
}
#define tparker_unpark_lock(...) tparker_unpark_lock_inline_(__VA_ARGS__)
#endif

/* Variadic, so that an argument with a top-level comma (a compound
 * literal) passes through whole. */
#define tparker_prepare_park(...) tparker_prepare_park_inline_(__VA_ARGS__)
#define tparker_park(...)         tparker_park_inline_(__VA_ARGS__)
#define tparker_park_until(...)   tparker_park_until_inline_(__VA_ARGS__)
#define tparker_unpark(...)       tparker_unpark_inline_(__VA_ARGS__)
#endif
#endif

#ifdef __cplusplus
}
#endif

#endif /* TPARKER_TPARKER_H */
