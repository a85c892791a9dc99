/* SPDX-License-Identifier: MIT */
/*
 * Windows NT keyed-event backend (ntdll, there since Windows XP): the
 * fallback where WaitOnAddress is missing. One process-wide keyed event,
 * created by probe; a parker's key is the address of its word.
 *
 * Word protocol 1 (<tparker/backend.h>) with three states:
 *
 *   UNPARKED  an unparker has been here;
 *   PARKED    the owner is awake after prepare_park;
 *   SLEEPING  the owner waits on the keyed event, or is about to.
 *
 * A keyed-event release blocks until a waiter with the same key takes it,
 * so an unparker releases only when it moved SLEEPING to UNPARKED: the
 * owner is then bound to wait. A timed-out owner that finds the word
 * already UNPARKED has lost the race with such an unparker and must take
 * the release it is about to make, or the unparker blocks for ever.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <windows.h>

#include "tparker/backend.h"

enum {
	KEYED_UNPARKED = TPARKER_WORD_UNPARKED,
	KEYED_PARKED = TPARKER_WORD_PARKED,
	KEYED_SLEEPING = 2
};

struct keyed_state {
	_Atomic uint32_t word;
	_Atomic int32_t waker_cpu; /* kept for the protocol; unused here */
};
_Static_assert(offsetof(struct keyed_state, word) == offsetof(struct tparker_word_v1, word) &&
		   offsetof(struct keyed_state, waker_cpu) ==
		       offsetof(struct tparker_word_v1, waker_cpu),
	       "laid out as word protocol 1");
_Static_assert(sizeof(struct keyed_state) <= TPARKER_STATE_MAX, "state fits");
/* A key's low bit must be clear: the word is 4-byte aligned. */
_Static_assert(_Alignof(_Atomic uint32_t) >= 2, "keys are even");

typedef LONG keyed_status;
#define KEYED_SUCCESS ((keyed_status)0x00000000L)
#define KEYED_TIMEOUT ((keyed_status)0x00000102L)

typedef keyed_status(NTAPI *keyed_create_fn)(PHANDLE handle, ACCESS_MASK access, PVOID attr,
					     ULONG flags);
typedef keyed_status(NTAPI *keyed_wait_fn)(HANDLE handle, PVOID key, BOOLEAN alertable,
					   PLARGE_INTEGER timeout);

/* Set by probe, which the core runs before it publishes the backend (with
 * release ordering): every thread that can reach an operation sees them. */
static HANDLE keyed_event;
static keyed_wait_fn keyed_wait_call;
static keyed_wait_fn keyed_release_call;

/* The longest single wait, in 100 ns units (about 29 days): a farther
 * deadline takes more rounds, and no product can overflow. */
#define KEYED_MAX_SEC (29LL * 24 * 3600)

static int keyed_probe(const struct tparker_host *host, char *why, size_t why_len)
{
	(void)host;
	HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
	FARPROC create = ntdll ? GetProcAddress(ntdll, "NtCreateKeyedEvent") : NULL;
	FARPROC wait = ntdll ? GetProcAddress(ntdll, "NtWaitForKeyedEvent") : NULL;
	FARPROC release = ntdll ? GetProcAddress(ntdll, "NtReleaseKeyedEvent") : NULL;
	if (!create || !wait || !release) {
		snprintf(why, why_len,
			 "NtCreateKeyedEvent/NtWaitForKeyedEvent/NtReleaseKeyedEvent not found "
			 "in ntdll.dll");
		return ENOSYS;
	}
	keyed_wait_call = (keyed_wait_fn)(void (*)(void))wait;
	keyed_release_call = (keyed_wait_fn)(void (*)(void))release;
	HANDLE h = NULL;
	keyed_status st =
	    ((keyed_create_fn)(void (*)(void))create)(&h, GENERIC_READ | GENERIC_WRITE, NULL, 0);
	if (st != KEYED_SUCCESS) {
		snprintf(why, why_len, "NtCreateKeyedEvent failed: NTSTATUS 0x%08lx",
			 (unsigned long)st);
		return ENOSYS;
	}
	/* Process-wide and for the life of the process, like the plugin. */
	keyed_event = h;
	return 0;
}

/* Any other status means a broken handle: carrying on could lose a wakeup. */
static _Noreturn void keyed_fatal(const char *call, keyed_status st)
{
	fprintf(stderr, "tparker keyed: %s failed: NTSTATUS 0x%08lx\n", call, (unsigned long)st);
	abort();
}

static int keyed_init(void *state)
{
	struct keyed_state *s = state;
	atomic_init(&s->word, KEYED_UNPARKED);
	atomic_init(&s->waker_cpu, -1);
	return 0;
}

static void keyed_destroy(void *state)
{
	(void)state;
}

static void keyed_prepare_park(void *state)
{
	struct keyed_state *s = state;
	atomic_store_explicit(&s->word, KEYED_PARKED, memory_order_relaxed);
}

/* NULL timeout: until released. */
static keyed_status keyed_wait(struct keyed_state *s, LARGE_INTEGER *timeout)
{
	keyed_status st = keyed_wait_call(keyed_event, (PVOID)&s->word, FALSE, timeout);
	if (st != KEYED_SUCCESS && !(timeout && st == KEYED_TIMEOUT))
		keyed_fatal("NtWaitForKeyedEvent", st);
	return st;
}

/* PARKED -> SLEEPING; false (with acquire ordering) when an unparker got
 * there first. */
static bool keyed_announce_sleep(struct keyed_state *s)
{
	uint32_t expected = KEYED_PARKED;
	return atomic_compare_exchange_strong_explicit(&s->word, &expected, KEYED_SLEEPING,
						       memory_order_acquire, memory_order_acquire);
}

static void keyed_park(void *state)
{
	struct keyed_state *s = state;
	if (atomic_load_explicit(&s->word, memory_order_acquire) == KEYED_UNPARKED ||
	    !keyed_announce_sleep(s))
		return;
	/* Released only by the unparker that moved SLEEPING to UNPARKED. */
	keyed_wait(s, NULL);
	/* Acquire the unparker's writes: it stored UNPARKED before releasing. */
	(void)atomic_load_explicit(&s->word, memory_order_acquire);
}

/* A relative NT timeout (negative, 100 ns units) from now to the deadline,
 * rounded up so that the wait never ends before it, and capped. */
static LARGE_INTEGER keyed_timeout(const struct timespec *now, const struct timespec *deadline)
{
	long long sec = (long long)deadline->tv_sec - (long long)now->tv_sec;
	long nsec = deadline->tv_nsec - now->tv_nsec;
	if (nsec < 0) {
		nsec += 1000000000L;
		sec--;
	}
	LARGE_INTEGER t;
	if (sec >= KEYED_MAX_SEC)
		t.QuadPart = -(KEYED_MAX_SEC * 10000000LL);
	else
		t.QuadPart = -(sec * 10000000LL + (nsec + 99) / 100);
	return t;
}

static bool keyed_park_until(void *state, const struct timespec *deadline)
{
	struct keyed_state *s = state;
	for (;;) {
		if (atomic_load_explicit(&s->word, memory_order_acquire) == KEYED_UNPARKED)
			return true;
		struct timespec now = tparker_now();
		if (!tparker_ts_before(&now, deadline))
			return false;
		if (!keyed_announce_sleep(s))
			return true;
		LARGE_INTEGER timeout = keyed_timeout(&now, deadline);
		if (keyed_wait(s, &timeout) == KEYED_SUCCESS) {
			(void)atomic_load_explicit(&s->word, memory_order_acquire);
			return true;
		}
		/* Timed out: back to PARKED, unless an unparker has moved the
		 * word already; then its release is on the way and must be
		 * taken. The loop checks the clock again: a wait that ended
		 * early goes back to sleep. */
		uint32_t expected = KEYED_SLEEPING;
		if (!atomic_compare_exchange_strong_explicit(&s->word, &expected, KEYED_PARKED,
							     memory_order_acquire,
							     memory_order_acquire)) {
			keyed_wait(s, NULL);
			(void)atomic_load_explicit(&s->word, memory_order_acquire);
			return true;
		}
	}
}

static bool keyed_timed_out(void *state)
{
	struct keyed_state *s = state;
	return atomic_load_explicit(&s->word, memory_order_relaxed) != KEYED_UNPARKED;
}

static bool keyed_unpark_lock(void *state, tparker_unpark_handle_t *h)
{
	struct keyed_state *s = state;
	uint32_t old = atomic_exchange_explicit(&s->word, KEYED_UNPARKED, memory_order_release);
	h->addr = &s->word;
	return old == KEYED_SLEEPING;
}

/* Blocks until the owner, bound to wait since it was SLEEPING, takes the
 * release; the key is only an address, so the parker may be freed after
 * that without harm. */
static void keyed_unpark(const tparker_unpark_handle_t *h)
{
	keyed_status st = keyed_release_call(keyed_event, h->addr, FALSE, NULL);
	if (st != KEYED_SUCCESS)
		keyed_fatal("NtReleaseKeyedEvent", st);
}

static void keyed_thread_yield(void)
{
	SwitchToThread();
}

static const struct tparker_backend keyed_backend = {
    .version = TPARKER_BACKEND_ABI_VERSION,
    .size = sizeof(struct tparker_backend),
    .name = "keyed",
    .description = "Windows NT keyed events (ntdll), one process-wide keyed event",
    .priority = 200,
    .state_size = sizeof(struct keyed_state),
    .cheap_to_construct = true,
    .probe = keyed_probe,
    .init = keyed_init,
    .destroy = keyed_destroy,
    .prepare_park = keyed_prepare_park,
    .park = keyed_park,
    .park_until = keyed_park_until,
    .timed_out = keyed_timed_out,
    .unpark_lock = keyed_unpark_lock,
    .unpark = keyed_unpark,
    .thread_yield = keyed_thread_yield,
    .word_protocol = TPARKER_WORD_PROTOCOL_V1,
};

TPARKER_BACKEND_DEFINE(keyed_backend)
