// SPDX-License-Identifier: MIT
/*
 * The C++20 baseline: std::atomic<int>::wait / notify_one, the parker a C++
 * programmer reaches for first (libstdc++ spins a little, then sleeps on a
 * futex or a condition variable table). Compiled only when a C++ compiler
 * is available; bench_baselines.c wraps these functions into a variant.
 * C++20 has no timed wait, so the variant has no park_until: the timeout
 * row shows "-" for it.
 */
#include <atomic>
#include <cstdint>
#include <ctime>
#include <new>

#include "bench_cxx.h"

namespace {
struct cxx_parker {
	std::atomic<int> parked; // 1: parked, 0: unparked
};

inline cxx_parker *of(void *p)
{
	return static_cast<cxx_parker *>(p);
}

inline void prepare(void *p)
{
	of(p)->parked.store(1, std::memory_order_relaxed);
}

inline void park(void *p)
{
	cxx_parker *c = of(p);
	while (c->parked.load(std::memory_order_acquire) != 0)
		c->parked.wait(1, std::memory_order_acquire);
}

inline void unpark(void *p)
{
	cxx_parker *c = of(p);
	c->parked.store(0, std::memory_order_release);
	c->parked.notify_one();
}

// The same with the default (seq_cst) store. libstdc++ 12's notify_one
// reads its waiter count with a plain load: after a release store, x86 may
// perform that read before the store is visible, so a waiter that counted
// itself in and then saw the old value sleeps while the notifier saw no
// waiter (a lost wakeup). A seq_cst store (an xchg on x86) orders the two.
inline void unpark_seq_cst(void *p)
{
	cxx_parker *c = of(p);
	c->parked.store(0);
	c->parked.notify_one();
}

uint64_t now_ns()
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return static_cast<uint64_t>(t.tv_sec) * 1000000000u + static_cast<uint64_t>(t.tv_nsec);
}

// The fast-path cycle; Unpark is a template argument, so each instance
// inlines its own, as in a C++ program.
template <void (*Unpark)(void *)> uint64_t fastpath_loop(void *p, uint64_t n)
{
	uint64_t t0 = now_ns();
	for (uint64_t i = 0; i < n; i++) {
		prepare(p);
		Unpark(p);
		park(p);
	}
	return now_ns() - t0;
}
} // namespace

extern "C" {
size_t bench_cxx_size(void)
{
	return sizeof(cxx_parker);
}

void bench_cxx_init(void *p)
{
	new (p) cxx_parker{};
	of(p)->parked.store(0, std::memory_order_relaxed);
}

void bench_cxx_destroy(void *p)
{
	of(p)->~cxx_parker();
}

void bench_cxx_prepare_park(void *p)
{
	prepare(p);
}

void bench_cxx_park(void *p)
{
	park(p);
}

bool bench_cxx_timed_out(void *p)
{
	return of(p)->parked.load(std::memory_order_relaxed) != 0;
}

void bench_cxx_unpark(void *p)
{
	unpark(p);
}

uint64_t bench_cxx_fastpath(void *p, uint64_t n)
{
	return fastpath_loop<unpark>(p, n);
}

uint64_t bench_cxx_fastpath_seq_cst(void *p, uint64_t n)
{
	return fastpath_loop<unpark_seq_cst>(p, n);
}
}
