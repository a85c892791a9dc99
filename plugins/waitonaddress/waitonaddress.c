/* SPDX-License-Identifier: MIT */
/*
 * Windows WaitOnAddress backend (Windows 8 and later): one 32-bit word per
 * parker, word protocol 1 (<tparker/backend.h>) with three states, as the
 * futex backends have:
 *
 *   UNPARKED  an unparker has been here;
 *   PARKED    the owner is awake after prepare_park;
 *   SLEEPING  the owner waits in WaitOnAddress, or is about to.
 *
 * Only an unpark that finds SLEEPING calls WakeByAddressSingle, so an
 * unpark that lands before the owner sleeps costs no call at all.
 *
 * WaitOnAddress and WakeByAddressSingle are looked up at run time, not
 * imported, so that this DLL loads on a system without them and its probe
 * says so; the core then picks the next backend (keyed, then spin).
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <windows.h>

#include "tparker/backend.h"

enum { WOA_UNPARKED = TPARKER_WORD_UNPARKED, WOA_PARKED = TPARKER_WORD_PARKED, WOA_SLEEPING = 2 };

struct woa_state {
	_Atomic uint32_t word;
	_Atomic int32_t waker_cpu; /* kept for the protocol; unused here */
};
_Static_assert(offsetof(struct woa_state, word) == offsetof(struct tparker_word_v1, word) &&
		   offsetof(struct woa_state, waker_cpu) ==
		       offsetof(struct tparker_word_v1, waker_cpu),
	       "laid out as word protocol 1");
_Static_assert(sizeof(struct woa_state) <= TPARKER_STATE_MAX, "state fits");

typedef BOOL(WINAPI *woa_wait_fn)(volatile VOID *addr, PVOID compare, SIZE_T size, DWORD ms);
typedef VOID(WINAPI *woa_wake_fn)(PVOID addr);

/* Set by probe, which the core runs before it publishes the backend (with
 * release ordering): every thread that can reach an operation sees them. */
static woa_wait_fn woa_wait;
static woa_wake_fn woa_wake;

/* The longest single wait: below INFINITE (0xFFFFFFFF), which means "no
 * limit"; a farther deadline just takes more rounds. */
#define WOA_MAX_MS 0x7FFFFFFFu

static bool woa_resolve(HMODULE m)
{
	if (!m)
		return false;
	FARPROC wait = GetProcAddress(m, "WaitOnAddress");
	FARPROC wake = GetProcAddress(m, "WakeByAddressSingle");
	if (!wait || !wake)
		return false;
	woa_wait = (woa_wait_fn)(void (*)(void))wait;
	woa_wake = (woa_wake_fn)(void (*)(void))wake;
	return true;
}

static int woa_probe(const struct tparker_host *host, char *why, size_t why_len)
{
	(void)host;
	/* The API set first (kernelbase.dll behind it on Windows 8+, and under
	 * wine); System32 only, never a DLL of that name elsewhere. */
	static const wchar_t apiset[] = L"api-ms-win-core-synch-l1-2-0.dll";
	HMODULE m = GetModuleHandleW(apiset);
	if (!m)
		m = LoadLibraryExW(apiset, NULL, LOAD_LIBRARY_SEARCH_SYSTEM32);
	if (woa_resolve(m) || woa_resolve(GetModuleHandleW(L"kernelbase.dll")))
		return 0;
	snprintf(why, why_len,
		 "WaitOnAddress/WakeByAddressSingle not found in api-ms-win-core-synch-l1-2-0.dll "
		 "or kernelbase.dll (Windows 8 or later needed)");
	return ENOSYS;
}

static int woa_init(void *state)
{
	struct woa_state *s = state;
	atomic_init(&s->word, WOA_UNPARKED);
	atomic_init(&s->waker_cpu, -1);
	return 0;
}

static void woa_destroy(void *state)
{
	(void)state;
}

static void woa_prepare_park(void *state)
{
	struct woa_state *s = state;
	atomic_store_explicit(&s->word, WOA_PARKED, memory_order_relaxed);
}

/* Move PARKED to SLEEPING; false when an unparker got there first. */
static bool woa_announce_sleep(struct woa_state *s, uint32_t seen)
{
	uint32_t expected = WOA_PARKED;
	if (seen == WOA_SLEEPING)
		return true;
	return atomic_compare_exchange_strong_explicit(&s->word, &expected, WOA_SLEEPING,
						       memory_order_relaxed, memory_order_relaxed);
}

static void woa_sleep(struct woa_state *s, DWORD ms)
{
	uint32_t sleeping = WOA_SLEEPING;
	/* Returns at once when the word is no longer SLEEPING; a spurious
	 * return or a timeout just goes round the caller's loop. */
	woa_wait((volatile void *)&s->word, &sleeping, sizeof(sleeping), ms);
}

static void woa_park(void *state)
{
	struct woa_state *s = state;
	for (;;) {
		uint32_t v = atomic_load_explicit(&s->word, memory_order_acquire);
		if (v == WOA_UNPARKED)
			return;
		if (woa_announce_sleep(s, v))
			woa_sleep(s, INFINITE);
	}
}

/* Milliseconds from now to the deadline, rounded up so that a wait never
 * ends before it, and capped (a far deadline takes several waits). */
static DWORD woa_ms_until(const struct timespec *now, const struct timespec *deadline)
{
	/* Both normalised and non-negative: the difference cannot overflow. */
	long long sec = (long long)deadline->tv_sec - (long long)now->tv_sec;
	long nsec = deadline->tv_nsec - now->tv_nsec;
	if (nsec < 0) {
		nsec += 1000000000L;
		sec--;
	}
	if (sec >= (long long)(WOA_MAX_MS / 1000u))
		return WOA_MAX_MS;
	return (DWORD)(sec * 1000 + (nsec + 999999L) / 1000000L);
}

static bool woa_park_until(void *state, const struct timespec *deadline)
{
	struct woa_state *s = state;
	for (;;) {
		uint32_t v = atomic_load_explicit(&s->word, memory_order_acquire);
		if (v == WOA_UNPARKED)
			return true;
		/* Recomputed after every wake: the clock decides, never the
		 * wait's own idea of how long it slept. */
		struct timespec now = tparker_now();
		if (!tparker_ts_before(&now, deadline))
			return false;
		if (woa_announce_sleep(s, v))
			woa_sleep(s, woa_ms_until(&now, deadline));
	}
}

static bool woa_timed_out(void *state)
{
	struct woa_state *s = state;
	return atomic_load_explicit(&s->word, memory_order_relaxed) != WOA_UNPARKED;
}

static bool woa_unpark_lock(void *state, tparker_unpark_handle_t *h)
{
	struct woa_state *s = state;
	uint32_t old = atomic_exchange_explicit(&s->word, WOA_UNPARKED, memory_order_release);
	h->addr = &s->word;
	return old == WOA_SLEEPING;
}

/* The owner may have freed the parker already: WakeByAddressSingle only
 * uses the address as a key, and a wake nobody waits for is a no-op. */
static void woa_unpark(const tparker_unpark_handle_t *h)
{
	woa_wake(h->addr);
}

static void woa_thread_yield(void)
{
	SwitchToThread();
}

static const struct tparker_backend woa_backend = {
    .version = TPARKER_BACKEND_ABI_VERSION,
    .size = sizeof(struct tparker_backend),
    .name = "waitonaddress",
    .description = "Windows 8+ WaitOnAddress/WakeByAddressSingle on a 32-bit word",
    .priority = 300,
    .state_size = sizeof(struct woa_state),
    .cheap_to_construct = true,
    .probe = woa_probe,
    .init = woa_init,
    .destroy = woa_destroy,
    .prepare_park = woa_prepare_park,
    .park = woa_park,
    .park_until = woa_park_until,
    .timed_out = woa_timed_out,
    .unpark_lock = woa_unpark_lock,
    .unpark = woa_unpark,
    .thread_yield = woa_thread_yield,
    .word_protocol = TPARKER_WORD_PROTOCOL_V1,
};

TPARKER_BACKEND_DEFINE(woa_backend)
