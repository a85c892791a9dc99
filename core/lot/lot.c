/* SPDX-License-Identifier: MIT */
/*
 * The parking lot (parking_lot_core 0.9's design): a hash table of FIFO
 * queues keyed by address, each guarded by a word-sized lock that itself
 * parks through the parker, so the lot runs on every backend.
 *
 * Each parking thread has a queue entry holding its parker, made on its
 * first park and freed at thread exit (a pthread key destructor). The
 * calling thread finds it through an initial-exec thread-local pointer:
 * reading it never allocates, also in a libtparker loaded with dlopen,
 * where it costs one pointer of the static TLS surplus glibc keeps for such
 * libraries. A park after the entry is gone (from a later thread-local
 * destructor) uses a temporary entry on its stack.
 *
 * The table grows with the number of parking threads (LOAD_FACTOR buckets
 * each), never shrinks, and an old table is never freed: a thread may still
 * be reading it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tparker/lot.h>

#include "lot_internal.h"

/* C11's aligned_alloc; Windows has none, and its aligned blocks need their
 * own free. */
#if defined(_WIN32)
#include <malloc.h>
#define lot_aligned_alloc(align, size) _aligned_malloc(size, align)
#define lot_aligned_free(p)	       _aligned_free(p)
#else
#define lot_aligned_alloc(align, size) aligned_alloc(align, size)
#define lot_aligned_free(p)	       free(p)
#endif

#define TP_LIKELY(x)   __builtin_expect(!!(x), 1)
#define TP_UNLIKELY(x) __builtin_expect(!!(x), 0)

#define LOAD_FACTOR 3
/* Handles unparked after the queue lock is released; beyond these, under it. */
#define UNPARK_BATCH 32

void tp_lot_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("libtparker: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

bool tp_lot_park_until(tparker_t *p, const struct timespec *deadline)
{
#ifdef TPARKER_TIME64_ABI_
	if (sizeof(time_t) == 8) {
		struct tparker_timespec64_ d = {0};
		d.tv_sec = deadline->tv_sec;
		d.tv_nsec = deadline->tv_nsec;
		return tparker_park_until_time64(p, &d);
	}
	struct tparker_timespec32_ d = {0};
	d.tv_sec = (long)deadline->tv_sec;
	d.tv_nsec = deadline->tv_nsec;
	return tparker_park_until(p, &d);
#else
	return tparker_park_until(p, deadline);
#endif
}

/* ---- the word lock --------------------------------------------------------- */

/*
 * A lock in one word (parking_lot_core's WordLock): bit 0 locked, bit 1 the
 * queue is being worked on by an unlocker, the rest the head of a queue of
 * waiting threads linked through nodes on their own stacks or entries.
 * Waiters push at the head; the unlocker wakes the tail (FIFO).
 */
#define WL_LOCKED	((uintptr_t)1)
#define WL_QUEUE_LOCKED ((uintptr_t)2)
#define WL_QUEUE_MASK	(~(uintptr_t)3)

struct wl_node {
	tparker_t parker;
	struct wl_node *next, *prev, *tail;
};

struct lot_thread {
	tparker_t parker;
	struct wl_node wl;
	uintptr_t key; /* atomic: a requeue changes it while the owner reads it */
	struct lot_thread *next;
	uintptr_t park_token, unpark_token;
};

static __thread struct lot_thread *tls_self __attribute__((tls_model("initial-exec")));
/* tls_self after the thread's entry was freed. */
#define LOT_GONE ((struct lot_thread *)(uintptr_t)1)

static void wl_lock_slow(uintptr_t *w)
{
	struct tp_spinwait spin = {0};
	struct lot_thread *self = tls_self;
	struct wl_node tmp, *node;
	bool tmp_ready = false;
	uintptr_t state = __atomic_load_n(w, __ATOMIC_RELAXED);

	if (TP_LIKELY(self > LOT_GONE))
		node = &self->wl;
	else
		node = &tmp;
	for (;;) {
		if (!(state & WL_LOCKED)) {
			if (__atomic_compare_exchange_n(w, &state, state | WL_LOCKED, true,
							__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
				break;
			continue;
		}
		if (!(state & WL_QUEUE_MASK) && tp_spinwait_spin(&spin)) {
			state = __atomic_load_n(w, __ATOMIC_RELAXED);
			continue;
		}
		if (node == &tmp && !tmp_ready) {
			int e = tparker_init(&tmp.parker);
			if (e)
				tp_lot_fatal("no parker for a queue lock (%s)", strerror(e));
			tmp_ready = true;
		}
		tparker_prepare_park(&node->parker);
		struct wl_node *head = (struct wl_node *)(state & WL_QUEUE_MASK);
		node->prev = NULL;
		if (!head) {
			node->tail = node;
			node->next = NULL;
		} else {
			node->tail = NULL;
			node->next = head;
		}
		if (!__atomic_compare_exchange_n(w, &state,
						 (state & ~WL_QUEUE_MASK) | (uintptr_t)node, true,
						 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			continue;
		tparker_park(&node->parker);
		spin.counter = 0;
		state = __atomic_load_n(w, __ATOMIC_RELAXED);
	}
	if (tmp_ready)
		tparker_destroy(&tmp.parker);
}

static inline void wl_lock(uintptr_t *w)
{
	uintptr_t zero = 0;
	if (TP_UNLIKELY(!__atomic_compare_exchange_n(w, &zero, WL_LOCKED, true, __ATOMIC_ACQUIRE,
						     __ATOMIC_RELAXED)))
		wl_lock_slow(w);
}

static void wl_unlock_slow(uintptr_t *w)
{
	uintptr_t state = __atomic_load_n(w, __ATOMIC_RELAXED);
	for (;;) {
		if ((state & WL_QUEUE_LOCKED) || !(state & WL_QUEUE_MASK))
			return;
		if (__atomic_compare_exchange_n(w, &state, state | WL_QUEUE_LOCKED, true,
						__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			break;
	}
	for (;;) {
		/* Link the queue backwards from the head to the first node
		 * that knows the tail, and cache the tail in the head. */
		struct wl_node *head = (struct wl_node *)(state & WL_QUEUE_MASK), *cur = head;
		struct wl_node *tail;
		for (;;) {
			tail = cur->tail;
			if (tail)
				break;
			struct wl_node *next = cur->next;
			next->prev = cur;
			cur = next;
		}
		head->tail = tail;

		/* Locked again: its unlocker will wake a thread instead. */
		if (state & WL_LOCKED) {
			if (__atomic_compare_exchange_n(w, &state, state & ~WL_QUEUE_LOCKED, false,
							__ATOMIC_RELEASE, __ATOMIC_ACQUIRE))
				return;
			continue;
		}

		struct wl_node *new_tail = tail->prev;
		if (!new_tail) {
			bool requeued = false;
			for (;;) {
				if (__atomic_compare_exchange_n(w, &state, state & WL_LOCKED, false,
								__ATOMIC_RELEASE, __ATOMIC_ACQUIRE))
					break;
				if (!(state & WL_QUEUE_MASK))
					continue;
				/* Threads arrived: start over with them. */
				requeued = true;
				break;
			}
			if (requeued)
				continue;
		} else {
			head->tail = new_tail;
			__atomic_fetch_and(w, ~WL_QUEUE_LOCKED, __ATOMIC_RELEASE);
		}
		tparker_unpark_handle_t h = tparker_unpark_lock(&tail->parker);
		tparker_unpark(h);
		return;
	}
}

static inline void wl_unlock(uintptr_t *w)
{
	uintptr_t state = __atomic_sub_fetch(w, WL_LOCKED, __ATOMIC_RELEASE);
	if ((state & WL_QUEUE_LOCKED) || !(state & WL_QUEUE_MASK))
		return;
	wl_unlock_slow(w);
}

/* ---- the table --------------------------------------------------------------- */

struct lot_bucket {
	uintptr_t lock;
	struct lot_thread *head, *tail;
	uint64_t fair_ns; /* the next time be_fair may be true */
	uint32_t seed;
} __attribute__((aligned(64)));

struct lot_table {
	size_t n;
	unsigned bits;
	struct lot_table *prev; /* kept, never freed: readers may remain */
	struct lot_bucket b[];
};

static struct lot_table *g_table;
static size_t g_threads;

static uint64_t mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* parking_lot_core's FairTimeout: true, then not again for a random time
 * below 1 ms (0.5 ms on average). Under the bucket lock. */
static bool bucket_be_fair(struct lot_bucket *b)
{
	uint64_t now = mono_ns();
	if (now <= b->fair_ns)
		return false;
	uint32_t x = b->seed;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	b->seed = x;
	b->fair_ns = now + x % 1000000u;
	return true;
}

static struct lot_table *table_new(size_t threads, struct lot_table *prev)
{
	size_t n = 4;
	unsigned bits = 2;
	while (n < threads * LOAD_FACTOR && n < ((size_t)1 << (sizeof(size_t) * 8 - 2))) {
		n <<= 1;
		bits++;
	}
	size_t size = sizeof(struct lot_table) + n * sizeof(struct lot_bucket);
	size = (size + 63) & ~(size_t)63;
	struct lot_table *t = lot_aligned_alloc(64, size);
	if (!t)
		return NULL;
	memset(t, 0, size);
	t->n = n;
	t->bits = bits;
	t->prev = prev;
	uint64_t now = mono_ns();
	for (size_t i = 0; i < n; i++) {
		t->b[i].fair_ns = now;
		t->b[i].seed = (uint32_t)i + 1;
	}
	return t;
}

static struct lot_table *get_table(void)
{
	struct lot_table *t = __atomic_load_n(&g_table, __ATOMIC_ACQUIRE);
	if (TP_LIKELY(t))
		return t;
	struct lot_table *fresh = table_new(LOAD_FACTOR, NULL);
	if (!fresh)
		tp_lot_fatal("out of memory for the parking lot's table");
	if (__atomic_compare_exchange_n(&g_table, &t, fresh, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE))
		return fresh;
	lot_aligned_free(fresh);
	return t;
}

static inline size_t key_hash(uintptr_t key, unsigned bits)
{
#if UINTPTR_MAX > 0xffffffffu
	return (size_t)((key * (uintptr_t)0x9E3779B97F4A7C15ull) >> (64 - bits));
#else
	return (size_t)((key * (uintptr_t)0x9E3779B9u) >> (32 - bits));
#endif
}

/* Grow the table for this many threads. Nothing happens when memory is
 * short: a smaller table is slower, not wrong. */
static void grow_table(size_t threads)
{
	struct lot_table *old, *fresh = NULL;
	for (;;) {
		old = get_table();
		if (old->n >= threads * LOAD_FACTOR) {
			lot_aligned_free(fresh);
			return;
		}
		/* Allocated before any bucket is locked: the allocator may
		 * itself park (on a lock built on the lot). */
		if (!fresh || fresh->n < threads * LOAD_FACTOR) {
			lot_aligned_free(fresh);
			fresh = table_new(threads, NULL);
			if (!fresh)
				return;
		}
		for (size_t i = 0; i < old->n; i++)
			wl_lock(&old->b[i].lock);
		if (__atomic_load_n(&g_table, __ATOMIC_RELAXED) == old)
			break;
		for (size_t i = 0; i < old->n; i++)
			wl_unlock(&old->b[i].lock);
	}
	fresh->prev = old;
	for (size_t i = 0; i < old->n; i++) {
		struct lot_thread *cur = old->b[i].head;
		while (cur) {
			struct lot_thread *next = cur->next;
			struct lot_bucket *nb = &fresh->b[key_hash(
			    __atomic_load_n(&cur->key, __ATOMIC_RELAXED), fresh->bits)];
			if (nb->tail)
				nb->tail->next = cur;
			else
				nb->head = cur;
			nb->tail = cur;
			cur->next = NULL;
			cur = next;
		}
	}
	__atomic_store_n(&g_table, fresh, __ATOMIC_RELEASE);
	for (size_t i = 0; i < old->n; i++)
		wl_unlock(&old->b[i].lock);
}

static struct lot_bucket *lock_bucket(uintptr_t key)
{
	for (;;) {
		struct lot_table *t = get_table();
		struct lot_bucket *b = &t->b[key_hash(key, t->bits)];
		wl_lock(&b->lock);
		if (TP_LIKELY(__atomic_load_n(&g_table, __ATOMIC_RELAXED) == t))
			return b;
		wl_unlock(&b->lock);
	}
}

/* The bucket of a queued thread's key, which a requeue may change. */
static struct lot_bucket *lock_bucket_checked(struct lot_thread *self, uintptr_t *key)
{
	for (;;) {
		struct lot_table *t = get_table();
		uintptr_t k = __atomic_load_n(&self->key, __ATOMIC_RELAXED);
		struct lot_bucket *b = &t->b[key_hash(k, t->bits)];
		wl_lock(&b->lock);
		if (__atomic_load_n(&g_table, __ATOMIC_RELAXED) == t &&
		    __atomic_load_n(&self->key, __ATOMIC_RELAXED) == k) {
			*key = k;
			return b;
		}
		wl_unlock(&b->lock);
	}
}

/* Both buckets locked, the lower address first; one lock when they are one. */
static void lock_bucket_pair(uintptr_t k1, uintptr_t k2, struct lot_bucket **b1,
			     struct lot_bucket **b2)
{
	for (;;) {
		struct lot_table *t = get_table();
		size_t h1 = key_hash(k1, t->bits), h2 = key_hash(k2, t->bits);
		struct lot_bucket *first = &t->b[h1 <= h2 ? h1 : h2];
		wl_lock(&first->lock);
		if (__atomic_load_n(&g_table, __ATOMIC_RELAXED) != t) {
			wl_unlock(&first->lock);
			continue;
		}
		if (h1 != h2)
			wl_lock(&t->b[h1 <= h2 ? h2 : h1].lock);
		*b1 = &t->b[h1];
		*b2 = &t->b[h2];
		return;
	}
}

static void unlock_bucket_pair(struct lot_bucket *b1, struct lot_bucket *b2)
{
	wl_unlock(&b1->lock);
	if (b1 != b2)
		wl_unlock(&b2->lock);
}

/* ---- thread entries ------------------------------------------------------------ */

static pthread_key_t lot_key;
static pthread_once_t lot_once = PTHREAD_ONCE_INIT;
static bool lot_key_ok;

static void thread_init(struct lot_thread *t)
{
	memset(t, 0, sizeof(*t));
	int e = tparker_init(&t->parker);
	if (!e)
		e = tparker_init(&t->wl.parker);
	if (e)
		tp_lot_fatal("no parker for the parking lot (%s)", strerror(e));
	size_t n = __atomic_add_fetch(&g_threads, 1, __ATOMIC_RELAXED);
	grow_table(n);
}

static void thread_fini(struct lot_thread *t)
{
	tparker_destroy(&t->parker);
	tparker_destroy(&t->wl.parker);
	__atomic_sub_fetch(&g_threads, 1, __ATOMIC_RELAXED);
}

static void thread_exit(void *arg)
{
	struct lot_thread *t = arg;
	/* Before the parkers go: a destructor running later finds no entry. */
	tls_self = LOT_GONE;
	thread_fini(t);
	lot_aligned_free(t);
}

static void key_init(void)
{
	lot_key_ok = pthread_key_create(&lot_key, thread_exit) == 0;
}

/* The calling thread's entry, made now; NULL when it is gone or cannot be
 * made (the caller then uses a temporary one). */
static struct lot_thread *thread_create(void)
{
	if (tls_self == LOT_GONE)
		return NULL;
	pthread_once(&lot_once, key_init);
	if (!lot_key_ok)
		return NULL;
	size_t size = (sizeof(struct lot_thread) + 63) & ~(size_t)63;
	struct lot_thread *t = lot_aligned_alloc(64, size);
	if (!t)
		return NULL;
	thread_init(t);
	if (pthread_setspecific(lot_key, t) != 0) {
		thread_fini(t);
		lot_aligned_free(t);
		return NULL;
	}
	tls_self = t;
	return t;
}

/* ---- park and unpark ------------------------------------------------------------ */

static tparker_park_result_t park_with(struct lot_thread *self, uintptr_t key,
				       bool (*validate)(void *), void (*before_sleep)(void *),
				       void (*timed_out)(void *, uintptr_t, bool), void *ctx,
				       uintptr_t park_token, const struct timespec *deadline)
{
	struct lot_bucket *b = lock_bucket(key);
	if (validate && !validate(ctx)) {
		wl_unlock(&b->lock);
		return (tparker_park_result_t){TPARKER_PARK_INVALID, 0};
	}
	self->next = NULL;
	__atomic_store_n(&self->key, key, __ATOMIC_RELAXED);
	self->park_token = park_token;
	self->unpark_token = 0;
	tparker_prepare_park(&self->parker);
	if (b->tail)
		b->tail->next = self;
	else
		b->head = self;
	b->tail = self;
	wl_unlock(&b->lock);

	if (before_sleep)
		before_sleep(ctx);

	if (!deadline) {
		tparker_park(&self->parker);
		return (tparker_park_result_t){TPARKER_PARK_UNPARKED, self->unpark_token};
	}
	if (tp_lot_park_until(&self->parker, deadline))
		return (tparker_park_result_t){TPARKER_PARK_UNPARKED, self->unpark_token};

	/* Timed out, unless an unparker took the thread meanwhile. */
	uintptr_t k;
	b = lock_bucket_checked(self, &k);
	if (!tparker_timed_out(&self->parker)) {
		wl_unlock(&b->lock);
		return (tparker_park_result_t){TPARKER_PARK_UNPARKED, self->unpark_token};
	}
	struct lot_thread **link = &b->head, *cur = b->head, *prev = NULL;
	bool was_last = true;
	while (cur) {
		if (cur == self) {
			struct lot_thread *next = cur->next;
			*link = next;
			if (b->tail == cur) {
				b->tail = prev;
			} else {
				for (struct lot_thread *s = next; s; s = s->next) {
					if (__atomic_load_n(&s->key, __ATOMIC_RELAXED) == k) {
						was_last = false;
						break;
					}
				}
			}
			if (timed_out)
				timed_out(ctx, k, was_last);
			break;
		}
		if (__atomic_load_n(&cur->key, __ATOMIC_RELAXED) == k)
			was_last = false;
		link = &cur->next;
		prev = cur;
		cur = cur->next;
	}
	if (!cur)
		tp_lot_fatal("a timed-out thread is missing from its queue");
	wl_unlock(&b->lock);
	return (tparker_park_result_t){TPARKER_PARK_TIMED_OUT, 0};
}

static __attribute__((noinline)) tparker_park_result_t
park_slow(uintptr_t key, bool (*validate)(void *), void (*before_sleep)(void *),
	  void (*timed_out)(void *, uintptr_t, bool), void *ctx, uintptr_t park_token,
	  const struct timespec *deadline)
{
	struct lot_thread *self = thread_create();
	if (self)
		return park_with(self, key, validate, before_sleep, timed_out, ctx, park_token,
				 deadline);
	/* No entry of its own (thread exit, out of memory): one for this call. */
	struct lot_thread tmp __attribute__((aligned(64)));
	thread_init(&tmp);
	tparker_park_result_t r =
	    park_with(&tmp, key, validate, before_sleep, timed_out, ctx, park_token, deadline);
	thread_fini(&tmp);
	return r;
}

tparker_park_result_t tp_lot_park_ts(uintptr_t key, bool (*validate)(void *),
				     void (*before_sleep)(void *),
				     void (*timed_out)(void *, uintptr_t, bool), void *ctx,
				     uintptr_t park_token, const struct timespec *deadline)
{
	struct lot_thread *self = tls_self;
	if (TP_LIKELY(self > LOT_GONE))
		return park_with(self, key, validate, before_sleep, timed_out, ctx, park_token,
				 deadline);
	return park_slow(key, validate, before_sleep, timed_out, ctx, park_token, deadline);
}

TPARKER_API tparker_park_result_t
tparker_lot_park(uintptr_t key, bool (*validate)(void *ctx), void (*before_sleep)(void *ctx),
		 void (*timed_out)(void *ctx, uintptr_t key, bool was_last_thread), void *ctx,
		 uintptr_t park_token, const TPARKER_DEADLINE_T_ *deadline)
{
	struct timespec buf;
	return tp_lot_park_ts(key, validate, before_sleep, timed_out, ctx, park_token,
			      TP_LOT_DEADLINE(buf, deadline));
}

#ifdef TPARKER_TIME64_ABI_
TPARKER_API tparker_park_result_t
tparker_lot_park_time64(uintptr_t key, bool (*validate)(void *ctx), void (*before_sleep)(void *ctx),
			void (*timed_out)(void *ctx, uintptr_t key, bool was_last_thread),
			void *ctx, uintptr_t park_token, const struct tparker_timespec64_ *deadline)
{
	struct timespec buf;
	return tp_lot_park_ts(key, validate, before_sleep, timed_out, ctx, park_token,
			      TP_LOT_DEADLINE(buf, deadline));
}
#endif

TPARKER_API tparker_unpark_result_t tparker_lot_unpark_one(
    uintptr_t key, uintptr_t (*callback)(void *ctx, tparker_unpark_result_t r), void *ctx)
{
	struct lot_bucket *b = lock_bucket(key);
	struct lot_thread **link = &b->head, *cur = b->head, *prev = NULL;
	tparker_unpark_result_t r = {0, 0, false, false};
	while (cur) {
		if (__atomic_load_n(&cur->key, __ATOMIC_RELAXED) == key) {
			struct lot_thread *next = cur->next;
			*link = next;
			if (b->tail == cur) {
				b->tail = prev;
			} else {
				for (struct lot_thread *s = next; s; s = s->next) {
					if (__atomic_load_n(&s->key, __ATOMIC_RELAXED) == key) {
						r.have_more_threads = true;
						break;
					}
				}
			}
			r.unparked_threads = 1;
			r.be_fair = bucket_be_fair(b);
			cur->unpark_token = callback ? callback(ctx, r) : 0;
			tparker_unpark_handle_t h = tparker_unpark_lock(&cur->parker);
			wl_unlock(&b->lock);
			tparker_unpark(h);
			return r;
		}
		link = &cur->next;
		prev = cur;
		cur = cur->next;
	}
	if (callback)
		callback(ctx, r);
	wl_unlock(&b->lock);
	return r;
}

/* Wake a list of threads taken off b's queue (linked by next), each with
 * token; unlocks b. */
static void wake_list(struct lot_bucket *b1, struct lot_bucket *b2, struct lot_thread *list,
		      uintptr_t token)
{
	tparker_unpark_handle_t h[UNPARK_BATCH];
	size_t n = 0;
	while (list) {
		/* Read before unpark_lock: the thread may leave then. */
		struct lot_thread *next = list->next;
		list->unpark_token = token;
		tparker_unpark_handle_t one = tparker_unpark_lock(&list->parker);
		if (n < UNPARK_BATCH)
			h[n++] = one;
		else
			tparker_unpark(one); /* under the lock: correct, only slower */
		list = next;
	}
	unlock_bucket_pair(b1, b2);
	for (size_t i = 0; i < n; i++)
		tparker_unpark(h[i]);
}

TPARKER_API size_t tparker_lot_unpark_all(uintptr_t key, uintptr_t unpark_token)
{
	struct lot_bucket *b = lock_bucket(key);
	struct lot_thread **link = &b->head, *cur = b->head, *prev = NULL;
	struct lot_thread *list = NULL, *list_tail = NULL;
	size_t n = 0;
	while (cur) {
		struct lot_thread *next = cur->next;
		if (__atomic_load_n(&cur->key, __ATOMIC_RELAXED) == key) {
			*link = next;
			if (b->tail == cur)
				b->tail = prev;
			cur->next = NULL;
			if (list_tail)
				list_tail->next = cur;
			else
				list = cur;
			list_tail = cur;
			n++;
		} else {
			link = &cur->next;
			prev = cur;
		}
		cur = next;
	}
	wake_list(b, b, list, unpark_token);
	return n;
}

TPARKER_API tparker_unpark_result_t tparker_lot_unpark_requeue(
    uintptr_t key_from, uintptr_t key_to, enum tparker_requeue_op (*validate)(void *ctx),
    uintptr_t (*callback)(void *ctx, enum tparker_requeue_op op, tparker_unpark_result_t r),
    void *ctx)
{
	if (!validate)
		tp_lot_fatal("tparker_lot_unpark_requeue: validate is NULL");
	struct lot_bucket *from, *to;
	tparker_unpark_result_t r = {0, 0, false, false};
	lock_bucket_pair(key_from, key_to, &from, &to);
	enum tparker_requeue_op op = validate(ctx);
	if (op == TPARKER_REQUEUE_ABORT) {
		unlock_bucket_pair(from, to);
		return r;
	}
	if (op != TPARKER_REQUEUE_UNPARK_ONE_REQUEUE_REST && op != TPARKER_REQUEUE_ALL &&
	    op != TPARKER_REQUEUE_UNPARK_ONE && op != TPARKER_REQUEUE_ONE)
		tp_lot_fatal("tparker_lot_unpark_requeue: validate returned %d", (int)op);
	struct lot_thread **link = &from->head, *cur = from->head, *prev = NULL;
	struct lot_thread *rq = NULL, *rq_tail = NULL, *wake = NULL;
	while (cur) {
		if (__atomic_load_n(&cur->key, __ATOMIC_RELAXED) == key_from) {
			struct lot_thread *next = cur->next;
			*link = next;
			if (from->tail == cur)
				from->tail = prev;
			if ((op == TPARKER_REQUEUE_UNPARK_ONE_REQUEUE_REST ||
			     op == TPARKER_REQUEUE_UNPARK_ONE) &&
			    !wake) {
				wake = cur;
				r.unparked_threads = 1;
			} else {
				if (rq_tail)
					rq_tail->next = cur;
				else
					rq = cur;
				rq_tail = cur;
				__atomic_store_n(&cur->key, key_to, __ATOMIC_RELAXED);
				r.requeued_threads++;
			}
			if (op == TPARKER_REQUEUE_UNPARK_ONE || op == TPARKER_REQUEUE_ONE) {
				for (struct lot_thread *s = next; s; s = s->next) {
					if (__atomic_load_n(&s->key, __ATOMIC_RELAXED) ==
					    key_from) {
						r.have_more_threads = true;
						break;
					}
				}
				break;
			}
			cur = next;
		} else {
			link = &cur->next;
			prev = cur;
			cur = cur->next;
		}
	}
	if (rq) {
		rq_tail->next = NULL;
		if (to->head)
			to->tail->next = rq;
		else
			to->head = rq;
		to->tail = rq_tail;
	}
	if (r.unparked_threads)
		r.be_fair = bucket_be_fair(from);
	uintptr_t token = callback ? callback(ctx, op, r) : 0;
	if (wake) {
		wake->next = NULL;
		wake_list(from, to, wake, token);
	} else {
		unlock_bucket_pair(from, to);
	}
	return r;
}

TPARKER_API tparker_unpark_result_t tparker_lot_unpark_filter(
    uintptr_t key, enum tparker_filter_op (*filter)(void *ctx, uintptr_t park_token),
    uintptr_t (*callback)(void *ctx, tparker_unpark_result_t r), void *ctx)
{
	struct lot_bucket *b = lock_bucket(key);
	struct lot_thread **link = &b->head, *cur = b->head, *prev = NULL;
	struct lot_thread *list = NULL, *list_tail = NULL;
	tparker_unpark_result_t r = {0, 0, false, false};
	while (cur) {
		if (__atomic_load_n(&cur->key, __ATOMIC_RELAXED) == key) {
			struct lot_thread *next = cur->next;
			enum tparker_filter_op op =
			    filter ? filter(ctx, cur->park_token) : TPARKER_FILTER_UNPARK;
			if (op == TPARKER_FILTER_UNPARK) {
				*link = next;
				if (b->tail == cur)
					b->tail = prev;
				cur->next = NULL;
				if (list_tail)
					list_tail->next = cur;
				else
					list = cur;
				list_tail = cur;
				r.unparked_threads++;
				cur = next;
				continue;
			}
			if (op == TPARKER_FILTER_SKIP) {
				r.have_more_threads = true;
			} else if (op == TPARKER_FILTER_STOP) {
				r.have_more_threads = true;
				break;
			} else {
				tp_lot_fatal("tparker_lot_unpark_filter: filter returned %d",
					     (int)op);
			}
		}
		link = &cur->next;
		prev = cur;
		cur = cur->next;
	}
	if (r.unparked_threads)
		r.be_fair = bucket_be_fair(b);
	uintptr_t token = callback ? callback(ctx, r) : 0;
	wake_list(b, b, list, token);
	return r;
}
