/* SPDX-License-Identifier: MIT */
/* The adopted backends: validated copies, append-only, never removed, so a
 * pointer handed out stays valid for the life of the process. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "internal.h"

#define TP_REGISTRY_MAX 64

static struct tparker_backend tp_backends[TP_REGISTRY_MAX];
/* Each copy's source table, so that one plugin is adopted only once. */
static const void *tp_origins[TP_REGISTRY_MAX];
static atomic_size_t tp_count;
static pthread_mutex_t tp_loader_mutex = PTHREAD_MUTEX_INITIALIZER;

/* A fork while another thread loads a plugin must not leave the child's
 * loader lock held forever. */
static void tp_atfork_prepare(void)
{
	pthread_mutex_lock(&tp_loader_mutex);
}

static void tp_atfork_release(void)
{
	pthread_mutex_unlock(&tp_loader_mutex);
}

void tp_loader_atfork(void)
{
	pthread_atfork(tp_atfork_prepare, tp_atfork_release, tp_atfork_release);
}

void tp_loader_lock(void)
{
	pthread_mutex_lock(&tp_loader_mutex);
}

void tp_loader_unlock(void)
{
	pthread_mutex_unlock(&tp_loader_mutex);
}

/* Caller holds the loader lock. */
const struct tparker_backend *tp_registry_add(const struct tparker_backend *copy,
					      const void *origin)
{
	size_t n = atomic_load_explicit(&tp_count, memory_order_relaxed);
	if (n == TP_REGISTRY_MAX)
		return NULL;
	tp_backends[n] = *copy;
	tp_origins[n] = origin;
	/* Readers that see the new count see the filled entry. */
	atomic_store_explicit(&tp_count, n + 1, memory_order_release);
	return &tp_backends[n];
}

const struct tparker_backend *tp_registry_find_origin(const void *origin)
{
	size_t n = atomic_load_explicit(&tp_count, memory_order_acquire);
	for (size_t i = 0; i < n; i++)
		if (tp_origins[i] == origin)
			return &tp_backends[i];
	return NULL;
}

const struct tparker_backend *tp_registry_find_name(const char *name)
{
	size_t n = atomic_load_explicit(&tp_count, memory_order_acquire);
	for (size_t i = 0; i < n; i++)
		if (strcmp(tp_backends[i].name, name) == 0)
			return &tp_backends[i];
	return NULL;
}

bool tp_registry_contains(const struct tparker_backend *b)
{
	size_t n = atomic_load_explicit(&tp_count, memory_order_acquire);
	/* Compare as integers: relational operators on pointers into
	 * different objects are undefined. */
	uintptr_t p = (uintptr_t)b, lo = (uintptr_t)&tp_backends[0];
	return p >= lo && p < lo + n * sizeof(tp_backends[0]) &&
	       (p - lo) % sizeof(tp_backends[0]) == 0;
}

const struct tparker_backend *tp_registry_at(size_t i)
{
	size_t n = atomic_load_explicit(&tp_count, memory_order_acquire);
	return i < n ? &tp_backends[i] : NULL;
}
