/* SPDX-License-Identifier: MIT */
/* The bench's platform pieces on Windows (bench_os.h). Threads are mingw-w64's
 * POSIX threads, linked statically so the tool needs no DLL beside it. */
#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <windows.h>

#include "bench.h"
#include "bench_os.h"

void bench_sleep_ns(uint64_t ns)
{
	/* Sleep() counts whole milliseconds: round up, never short. */
	uint64_t ms = (ns + 999999) / 1000000;
	Sleep(ms > 0xfffffffe ? 0xfffffffe : (DWORD)ms);
}

int bench_pin_self(int cpu)
{
	if (cpu < 0 || cpu >= (int)(8 * sizeof(DWORD_PTR)))
		return EINVAL;
	if (!SetThreadAffinityMask(GetCurrentThread(), (DWORD_PTR)1 << cpu))
		return EINVAL;
	return 0;
}

void *bench_aligned_alloc(size_t align, size_t size)
{
	return _aligned_malloc(size, align);
}

void bench_aligned_free(void *p)
{
	_aligned_free(p);
}

int bench_first_cpu(void)
{
	DWORD_PTR process, system;
	if (!GetProcessAffinityMask(GetCurrentProcess(), &process, &system))
		return -1;
	for (int i = 0; i < (int)(8 * sizeof(process)); i++)
		if (process & ((DWORD_PTR)1 << i))
			return i;
	return -1;
}

long bench_online_cpus(void)
{
	SYSTEM_INFO si;
	GetSystemInfo(&si);
	return (long)si.dwNumberOfProcessors;
}

typedef LONG(WINAPI *rtl_get_version_fn)(OSVERSIONINFOW *);
typedef const char *(__cdecl *wine_version_fn)(void);

static FARPROC ntdll_proc(const char *name)
{
	HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
	return ntdll ? GetProcAddress(ntdll, name) : NULL;
}

/* wine exports its version from its ntdll; Windows does not. */
static const char *wine_version(void)
{
	FARPROC f = ntdll_proc("wine_get_version");
	return f ? ((wine_version_fn)(void (*)(void))f)() : NULL;
}

void bench_machine(char *system, size_t system_len, char *loadavg, size_t loadavg_len)
{
	/* GetVersionEx reports what the program's manifest asks for; ntdll's
	 * RtlGetVersion reports the system. */
	OSVERSIONINFOW v = {.dwOSVersionInfoSize = sizeof(v)};
	FARPROC f = ntdll_proc("RtlGetVersion");
	const char *wine = wine_version();
	if (f && ((rtl_get_version_fn)(void (*)(void))f)(&v) == 0)
		snprintf(system, system_len, "Windows %lu.%lu build %lu%s%s%s",
			 (unsigned long)v.dwMajorVersion, (unsigned long)v.dwMinorVersion,
			 (unsigned long)v.dwBuildNumber, wine ? " (wine " : "", wine ? wine : "",
			 wine ? ")" : "");
	else
		snprintf(system, system_len, "Windows");
	/* Windows keeps no load averages. */
	snprintf(loadavg, loadavg_len, "n/a");
}

int bench_thread_cpu_ns(pthread_t t, uint64_t *ns)
{
	FILETIME created, exited, kernel, user;
	HANDLE h = pthread_gethandle(t);
	if (!h || !GetThreadTimes(h, &created, &exited, &kernel, &user))
		return EINVAL;
	uint64_t k = ((uint64_t)kernel.dwHighDateTime << 32) | kernel.dwLowDateTime;
	uint64_t u = ((uint64_t)user.dwHighDateTime << 32) | user.dwLowDateTime;
	*ns = (k + u) * 100; /* 100 ns units */
	return 0;
}

/* WaitOnAddress is resolved at run time, as the waitonaddress plugin does, so
 * the tool starts on systems without it (the raw column then yields). */
typedef BOOL(WINAPI *woa_wait_fn)(volatile void *, void *, SIZE_T, DWORD);
typedef void(WINAPI *woa_wake_fn)(void *);
static woa_wait_fn word_wait;
static woa_wake_fn word_wake;
static atomic_int word_state; /* 0: not looked up, 1: looking, 2: done */

static void word_resolve(void)
{
	if (atomic_load_explicit(&word_state, memory_order_acquire) == 2)
		return;
	int expect = 0;
	if (!atomic_compare_exchange_strong(&word_state, &expect, 1)) {
		while (atomic_load_explicit(&word_state, memory_order_acquire) != 2)
			SwitchToThread();
		return;
	}
	HMODULE m = GetModuleHandleW(L"api-ms-win-core-synch-l1-2-0.dll");
	if (!m)
		m = LoadLibraryExW(L"api-ms-win-core-synch-l1-2-0.dll", NULL,
				   LOAD_LIBRARY_SEARCH_SYSTEM32);
	FARPROC w = m ? GetProcAddress(m, "WaitOnAddress") : NULL;
	FARPROC k = m ? GetProcAddress(m, "WakeByAddressSingle") : NULL;
	if (w && k) {
		word_wait = (woa_wait_fn)(void (*)(void))w;
		word_wake = (woa_wake_fn)(void (*)(void))k;
	}
	atomic_store_explicit(&word_state, 2, memory_order_release);
}

const char bench_word_name[] = "WaitOnAddress";

void bench_word_wait(uint32_t *word, uint32_t seen)
{
	word_resolve();
	if (word_wait)
		word_wait(word, &seen, sizeof(seen), INFINITE);
	else
		SwitchToThread();
}

void bench_word_wake_one(uint32_t *word)
{
	word_resolve();
	if (word_wake)
		word_wake(word);
}

const char *bench_platform_note(void)
{
	static char note[160];
	const char *wine = wine_version();
	if (!wine)
		return NULL;
	snprintf(note, sizeof(note),
		 "measured under wine %s: these figures are wine's (its scheduler, timers and "
		 "wait calls), not Windows'",
		 wine);
	return note;
}

const char *bench_baselines_note(void)
{
	return "no inline baselines on Windows (raw-futex, raw-condvar and posix-sem are "
	       "Linux and POSIX designs): ratios are against the default backend";
}
