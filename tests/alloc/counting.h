/* SPDX-License-Identifier: MIT */
/*
 * The allocator tests' counting malloc family: the program defines the
 * malloc family itself (the executable's definitions win over libc's for
 * every object, the dynamic linker's TLS allocator included), forwarding to
 * glibc, and counts the calls each thread makes between count_start() and
 * count_stop(). Under a sanitizer, which replaces the allocator,
 * ALLOC_SANITIZED is defined instead and the tests skip.
 */
#ifndef TPTEST_ALLOC_COUNTING_H
#define TPTEST_ALLOC_COUNTING_H

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                         \
    __has_feature(memory_sanitizer)
#define ALLOC_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ALLOC_SANITIZED 1
#endif

#ifndef ALLOC_SANITIZED
/* glibc's own entry points, which its public names alias. */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t n);
extern void *__libc_valloc(size_t n);
extern void *__libc_pvalloc(size_t n);

/* Static TLS of the executable: reaching it never allocates. */
static __thread unsigned counting;
static __thread unsigned calls;

static inline void note(void)
{
	if (counting)
		calls++;
}

void *malloc(size_t n)
{
	note();
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	note();
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	note();
	return __libc_realloc(p, n);
}

void free(void *p)
{
	note();
	__libc_free(p);
}

void *memalign(size_t align, size_t n)
{
	note();
	return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
	note();
	return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	note();
	if (align == 0 || align % sizeof(void *) != 0 || (align & (align - 1)) != 0)
		return EINVAL;
	void *p = __libc_memalign(align, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

void *valloc(size_t n)
{
	note();
	return __libc_valloc(n);
}

void *pvalloc(size_t n)
{
	note();
	return __libc_pvalloc(n);
}

static void count_start(void)
{
	calls = 0;
	atomic_signal_fence(memory_order_seq_cst);
	counting = 1;
	atomic_signal_fence(memory_order_seq_cst);
}

static unsigned count_stop(void)
{
	atomic_signal_fence(memory_order_seq_cst);
	counting = 0;
	atomic_signal_fence(memory_order_seq_cst);
	return calls;
}

/* A thread that allocates and frees once, counted into *arg: the counter
 * must see what a thread allocates, or the tests prove nothing. */
static void *self_check_main(void *arg)
{
	void *(*volatile alloc)(size_t) = malloc;
	void (*volatile release)(void *) = free;
	count_start();
	release(alloc(24));
	*(unsigned *)arg = count_stop();
	return NULL;
}
#endif

#endif
