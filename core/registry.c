/* SPDX-License-Identifier: MIT */
/* The adopted backends: validated copies, append-only, never removed, so a
 * pointer handed out stays valid for the life of the process. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static struct tparker_backend tp_backends[TP_REGISTRY_MAX];
/* Each copy's source table, so that one plugin is adopted only once. */
static const void *tp_origins[TP_REGISTRY_MAX];
static atomic_size_t tp_count;
static pthread_mutex_t tp_loader_mutex = PTHREAD_MUTEX_INITIALIZER;
/* tp_self() of the thread holding tp_loader_mutex, 0 when free. */
static _Atomic uintptr_t tp_loader_owner;

uintptr_t tp_self(void)
{
	pthread_t self = pthread_self();
	uintptr_t id = 0;
	_Static_assert(sizeof(self) <= sizeof(id), "pthread_t fits an integer");
	memcpy(&id, &self, sizeof(self));
	return id;
}

bool tp_loader_lock(char *why, size_t why_len)
{
	uintptr_t self = tp_self();
	/* Only this thread can have stored its own id: a relaxed load is
	 * enough to tell "held by me" from everything else. */
	if (atomic_load_explicit(&tp_loader_owner, memory_order_relaxed) == self) {
		snprintf(why, why_len,
			 "called back from inside the plugin loader (by a plugin's constructor or "
			 "probe, or by an allocator the loader called): plugins may not load "
			 "backends");
		return false;
	}
	pthread_mutex_lock(&tp_loader_mutex);
	atomic_store_explicit(&tp_loader_owner, self, memory_order_relaxed);
	return true;
}

void tp_loader_unlock(void)
{
	atomic_store_explicit(&tp_loader_owner, 0, memory_order_relaxed);
	pthread_mutex_unlock(&tp_loader_mutex);
}

/* A fork while another thread loads a plugin must not leave the child's
 * loader lock held forever, so fork waits for the lock. A fork from inside
 * the loader itself (a plugin's probe that forks) keeps the lock it holds;
 * the owner's low bit (pthread_t is an aligned address) marks the lock as
 * taken by the fork handlers, so that only they release it. */
void tp_loader_fork_prepare(void)
{
	uintptr_t self = tp_self();
	if (atomic_load_explicit(&tp_loader_owner, memory_order_relaxed) == self)
		return;
	pthread_mutex_lock(&tp_loader_mutex);
	atomic_store_explicit(&tp_loader_owner, self | 1, memory_order_relaxed);
}

void tp_loader_fork_release(void)
{
	if (atomic_load_explicit(&tp_loader_owner, memory_order_relaxed) == (tp_self() | 1))
		tp_loader_unlock();
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
