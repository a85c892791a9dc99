/* SPDX-License-Identifier: MIT */
/* The public parker calls: one indirect call through the backend pointer
 * stored in the parker. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#include "../plugins/common/cpu.h"

_Static_assert(TPARKER_STATE_OFFSET >= sizeof(void *), "backend pointer fits before the state");
_Static_assert(TPARKER_STATE_OFFSET % 16 == 0, "state is 16-byte aligned");
_Static_assert(sizeof(tparker_t) == TPARKER_SIZE, "tparker_t has its documented size");
_Static_assert(_Alignof(tparker_t) == 16, "tparker_t is 16-byte aligned");
_Static_assert(TPARKER_PROTOCOL_OFFSET_ >= sizeof(void *) &&
		   TPARKER_PROTOCOL_OFFSET_ + sizeof(uint32_t) <= TPARKER_STATE_OFFSET,
	       "the word protocol field lies between the backend pointer and the state");

#define TP_TIME_T_MAX ((time_t)((((time_t)1 << (sizeof(time_t) * CHAR_BIT - 2)) - 1) * 2 + 1))

static _Noreturn void tp_misuse(const char *call, const char *what)
{
	tp_fatal("%s: %s", call, what);
}

/* A destroyed parker points here: any later use aborts with a message
 * instead of running on freed backend state. */
static _Noreturn void tp_dead_op(void)
{
	tp_fatal("parker used after tparker_destroy() (initialise it again first)");
}
static int tp_dead_probe(const struct tparker_host *h, char *w, size_t l)
{
	(void)h, (void)w, (void)l;
	tp_dead_op();
}
static int tp_dead_init(void *s)
{
	(void)s;
	tp_dead_op();
}
static void tp_dead_void(void *s)
{
	(void)s;
	tp_dead_op();
}
static bool tp_dead_until(void *s, const struct timespec *d)
{
	(void)s, (void)d;
	tp_dead_op();
}
static bool tp_dead_bool(void *s)
{
	(void)s;
	tp_dead_op();
}
static bool tp_dead_lock(void *s, tparker_unpark_handle_t *h)
{
	(void)s, (void)h;
	tp_dead_op();
}
static void tp_dead_unpark(const tparker_unpark_handle_t *h)
{
	(void)h;
	tp_dead_op();
}
static const struct tparker_backend tp_dead_backend = {
    .version = TPARKER_BACKEND_ABI_VERSION,
    .size = sizeof(struct tparker_backend),
    .name = "destroyed",
    .description = "a destroyed parker",
    .probe = tp_dead_probe,
    .init = tp_dead_init,
    .destroy = tp_dead_void,
    .prepare_park = tp_dead_void,
    .park = tp_dead_void,
    .park_until = tp_dead_until,
    .timed_out = tp_dead_bool,
    .unpark_lock = tp_dead_lock,
    .unpark = tp_dead_unpark,
    .thread_yield = tp_dead_op,
};

/* The misuse checks stay off the hot path: one predictable branch each, to
 * a cold function that a wrapper reaches by a tail jump, so the wrappers
 * themselves need no stack frame. */
static __attribute__((cold, noinline)) void tp_bad_parker(const tparker_t *p, const char *call)
{
	tp_misuse(call, p ? "parker not initialised (call tparker_init first)" : "NULL parker");
}

/* NULL when p is NULL or not initialised; memcpy keeps the access free of
 * aliasing questions and compiles to one load. */
static inline const struct tparker_backend *tp_backend_or_null(const tparker_t *p)
{
	const struct tparker_backend *b = NULL;
	if (TP_UNLIKELY(!p))
		return NULL;
	memcpy(&b, p->tparker_opaque_, sizeof(b));
	return b;
}

static inline const struct tparker_backend *tp_backend_of(const tparker_t *p, const char *call)
{
	const struct tparker_backend *b = tp_backend_or_null(p);
	if (TP_UNLIKELY(!b))
		tp_bad_parker(p, call);
	return b;
}

static inline void *tp_state(tparker_t *p)
{
	return p->tparker_opaque_ + TPARKER_STATE_OFFSET;
}

TPARKER_API int tparker_init_with(tparker_t *p, const tparker_backend_t *b)
{
	tp_ensure_init();
	if (!p || !b || !tp_registry_contains(b))
		return EINVAL;
	memset(p, 0, sizeof(*p));
	int err = b->init(tp_state(p));
	if (err)
		return err;
	memcpy(p->tparker_opaque_, &b, sizeof(b));
	/* tp_validate() let only a protocol this core knows through. */
	p->tparker_words_[TPARKER_PROTOCOL_OFFSET_ / 4] = b->word_protocol;
	return 0;
}

TPARKER_API int tparker_init(tparker_t *p)
{
	return tparker_init_with(p, tp_default());
}

TPARKER_API void tparker_destroy(tparker_t *p)
{
	const struct tparker_backend *b = tp_backend_of(p, "tparker_destroy");
	if (b == &tp_dead_backend)
		tp_misuse("tparker_destroy", "parker destroyed twice");
	/* No more inline fast paths: every later call reaches the dead table. */
	p->tparker_words_[TPARKER_PROTOCOL_OFFSET_ / 4] = 0;
	b->destroy(tp_state(p));
	b = &tp_dead_backend;
	memcpy(p->tparker_opaque_, &b, sizeof(b));
}

/* Word protocol 1 (<tparker/backend.h>): the exported functions run the
 * same steps as the inline paths of <tparker/tparker.h>, with the same
 * helpers, before they dispatch. */
TPARKER_API void tparker_prepare_park(tparker_t *p)
{
	if (tparker_word_prepare_(p))
		return;
	const struct tparker_backend *b = tp_backend_or_null(p);
	if (TP_UNLIKELY(!b)) {
		tp_bad_parker(p, "tparker_prepare_park");
		return;
	}
	b->prepare_park(tp_state(p));
}

TPARKER_API void tparker_park(tparker_t *p)
{
	if (tparker_word_unparked_(p))
		return;
	const struct tparker_backend *b = tp_backend_or_null(p);
	if (TP_UNLIKELY(!b)) {
		tp_bad_parker(p, "tparker_park");
		return;
	}
	b->park(tp_state(p));
}

/*
 * The exported calls that take or return a timespec. On a glibc ABI with a
 * traditional 32-bit time_t (tparker.h) the library exports two of each and
 * defines them with exact layouts, not with its own struct timespec, whose
 * time_t may be either: tparker_park_until and tparker_deadline_after take
 * the traditional layout, the _time64 ones the 64-bit one. Elsewhere there
 * is one layout, the library's own.
 */
#ifdef TPARKER_TIME64_ABI_
typedef struct tparker_timespec32_ tp_api_timespec;
#define TP_API_SEC_MAX	  LONG_MAX
#define TP_TIME64_SEC_MAX LLONG_MAX
_Static_assert(sizeof(struct tparker_timespec32_) == 2 * sizeof(long) &&
		   sizeof(struct tparker_timespec64_) == 16,
	       "the two timespec layouts of a glibc ABI with a traditional 32-bit time_t");
/* The library's own struct timespec is one of the two. */
#define TP_SAME_TIMESPEC(t)                                                                        \
	(sizeof(struct timespec) == sizeof(t) &&                                                   \
	 offsetof(struct timespec, tv_sec) == offsetof(t, tv_sec) &&                               \
	 offsetof(struct timespec, tv_nsec) == offsetof(t, tv_nsec))
_Static_assert(sizeof(time_t) == 8 ? TP_SAME_TIMESPEC(struct tparker_timespec64_)
				   : TP_SAME_TIMESPEC(struct tparker_timespec32_),
	       "struct timespec has glibc's layout for this time_t");
#else
typedef struct timespec tp_api_timespec;
#define TP_API_SEC_MAX TP_TIME_T_MAX
#endif

/* A deadline of any layout as a normalised timespec of the library's own:
 * tv_nsec clamped into [0, 999999999]; a negative tv_sec is long past; a
 * tv_sec beyond the library's time_t (a 64-bit deadline, a library with a
 * 32-bit time_t) is the largest timespec: later, never earlier. */
static inline struct timespec tp_normalise(long long sec, long nsec)
{
	struct timespec n;
	if (nsec < 0)
		nsec = 0;
	else if (nsec > 999999999L)
		nsec = 999999999L;
	if (sec < 0) {
		sec = 0;
		nsec = 0;
	}
	if (sizeof(time_t) < sizeof(sec) &&
	    (unsigned long long)sec > (unsigned long long)TP_TIME_T_MAX) {
		n.tv_sec = TP_TIME_T_MAX;
		n.tv_nsec = 999999999L;
	} else {
		n.tv_sec = (time_t)sec;
		n.tv_nsec = nsec;
	}
	return n;
}

/* park_until past the word's early return, for every layout; NULL: park. */
static inline bool tp_park_until(tparker_t *p, bool has_deadline, long long sec, long nsec)
{
	const struct tparker_backend *b = tp_backend_of(p, "tparker_park_until");
	if (!has_deadline) {
		b->park(tp_state(p));
		return true;
	}
	struct timespec d = tp_normalise(sec, nsec);
	return b->park_until(tp_state(p), &d);
}

TPARKER_API bool tparker_park_until(tparker_t *p, const tp_api_timespec *deadline)
{
	if (tparker_word_unparked_(p))
		return true;
	return tp_park_until(p, deadline != NULL, deadline ? deadline->tv_sec : 0,
			     deadline ? deadline->tv_nsec : 0);
}

#ifdef TPARKER_TIME64_ABI_
TPARKER_API bool tparker_park_until_time64(tparker_t *p, const struct tparker_timespec64_ *deadline)
{
	if (tparker_word_unparked_(p))
		return true;
	return tp_park_until(p, deadline != NULL, deadline ? deadline->tv_sec : 0,
			     deadline ? deadline->tv_nsec : 0);
}
#endif

TPARKER_API bool tparker_timed_out(tparker_t *p)
{
	return tp_backend_of(p, "tparker_timed_out")->timed_out(tp_state(p));
}

TPARKER_API tparker_unpark_handle_t tparker_unpark_lock(tparker_t *p)
{
	uint32_t *w = tparker_word_v1_(p);
	if (w) {
		/* Before the exchange: after it the owner may free the parker. */
		__atomic_store_n(&w[1], (uint32_t)tp_current_cpu(), __ATOMIC_RELAXED);
		uint32_t parked = TPARKER_WORD_PARKED;
		if (__atomic_compare_exchange_n(w, &parked, TPARKER_WORD_UNPARKED, false,
						__ATOMIC_RELEASE, __ATOMIC_RELAXED))
			return (tparker_unpark_handle_t){NULL, NULL};
	}
	const struct tparker_backend *b = tp_backend_of(p, "tparker_unpark_lock");
	tparker_unpark_handle_t h = {NULL, NULL};
	bool wake = b->unpark_lock(tp_state(p), &h);
	return (tparker_unpark_handle_t){wake ? b : NULL, h.addr};
}

/* Out of line so that the common "nothing to wake" case is a test and a
 * return, with no stack frame to build the pointer the backend wants. */
static __attribute__((noinline)) void tp_unpark_slow(tparker_unpark_handle_t h)
{
	h.backend->unpark(&h);
}

TPARKER_API void tparker_unpark(tparker_unpark_handle_t h)
{
	if (h.backend)
		tp_unpark_slow(h);
}

TPARKER_API void tparker_thread_yield(void)
{
	tp_default()->thread_yield();
}

/* now + ns on CLOCK_MONOTONIC (never negative), in seconds saturating at
 * sec_max, with the largest tv_nsec there. */
static inline void tp_deadline_after(uint64_t ns, long long sec_max, long long *sec, long *nsec)
{
	struct timespec now = tparker_now();
	unsigned long long add = ns / 1000000000u;
	long n = now.tv_nsec + (long)(ns % 1000000000u);
	if (n >= 1000000000L) {
		n -= 1000000000L;
		add++;
	}
	if (now.tv_sec > sec_max || add > (unsigned long long)(sec_max - now.tv_sec)) {
		*sec = sec_max;
		*nsec = 999999999L;
	} else {
		*sec = now.tv_sec + (long long)add;
		*nsec = n;
	}
}

TPARKER_API tp_api_timespec tparker_deadline_after(uint64_t ns)
{
	long long sec;
	long nsec;
	tp_deadline_after(ns, TP_API_SEC_MAX, &sec, &nsec);
	tp_api_timespec t = {0};
	t.tv_sec = sec;
	t.tv_nsec = nsec;
	return t;
}

#ifdef TPARKER_TIME64_ABI_
TPARKER_API struct tparker_timespec64_ tparker_deadline_after_time64(uint64_t ns)
{
	long long sec;
	long nsec;
	tp_deadline_after(ns, TP_TIME64_SEC_MAX, &sec, &nsec);
	/* The padding too: the caller may copy it anywhere. */
	struct tparker_timespec64_ t = {0};
	t.tv_sec = sec;
	t.tv_nsec = nsec;
	return t;
}
#endif

TPARKER_API const char *tparker_backend_name(const tparker_backend_t *b)
{
	return b ? b->name : "(null)";
}
