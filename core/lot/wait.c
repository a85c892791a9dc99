/* SPDX-License-Identifier: MIT */
/*
 * Wait and wake on any address, on the lot: the value is compared under the
 * queue lock of the address, which a waker takes after changing the value,
 * so no wakeup is lost.
 */
#include <stdint.h>
#include <string.h>

#include <tparker/lot.h>

#include "lot_internal.h"

struct wait_ctx {
	const void *addr;
	uint64_t expected;
	size_t size;
};

static uint64_t load_sized(const void *addr, size_t size)
{
	switch (size) {
	case 1:
		return __atomic_load_n((const uint8_t *)addr, __ATOMIC_RELAXED);
	case 2:
		return __atomic_load_n((const uint16_t *)addr, __ATOMIC_RELAXED);
	case 4:
		return __atomic_load_n((const uint32_t *)addr, __ATOMIC_RELAXED);
	default:
		return __atomic_load_n((const uint64_t *)addr, __ATOMIC_RELAXED);
	}
}

static bool wait_validate(void *arg)
{
	struct wait_ctx *c = arg;
	return load_sized(c->addr, c->size) == c->expected;
}

static bool wait_impl(const void *addr, const void *expected, size_t size,
		      const struct timespec *deadline)
{
	if (size != 1 && size != 2 && size != 4 && size != 8)
		tp_lot_fatal("tparker_wait: size %zu is not 1, 2, 4 or 8", size);
	if (!addr || ((uintptr_t)addr & (size - 1)))
		tp_lot_fatal("tparker_wait: address %p is not aligned to its size %zu", addr, size);
	if (!expected)
		tp_lot_fatal("tparker_wait: expected is NULL");
	struct wait_ctx c = {addr, 0, size};
	/* expected needs no alignment: copy it into an integer of its size. */
	switch (size) {
	case 1: {
		uint8_t v;
		memcpy(&v, expected, 1);
		c.expected = v;
		break;
	}
	case 2: {
		uint16_t v;
		memcpy(&v, expected, 2);
		c.expected = v;
		break;
	}
	case 4: {
		uint32_t v;
		memcpy(&v, expected, 4);
		c.expected = v;
		break;
	}
	default:
		memcpy(&c.expected, expected, 8);
		break;
	}
	tparker_park_result_t r =
	    tp_lot_park_ts((uintptr_t)addr, wait_validate, NULL, NULL, &c, 0, deadline);
	return r.status != TPARKER_PARK_TIMED_OUT;
}

TPARKER_API bool tparker_wait(const void *addr, const void *expected, size_t size,
			      const TPARKER_DEADLINE_T_ *deadline)
{
	struct timespec buf;
	return wait_impl(addr, expected, size, TP_LOT_DEADLINE(buf, deadline));
}

#ifdef TPARKER_TIME64_ABI_
TPARKER_API bool tparker_wait_time64(const void *addr, const void *expected, size_t size,
				     const struct tparker_timespec64_ *deadline)
{
	struct timespec buf;
	return wait_impl(addr, expected, size, TP_LOT_DEADLINE(buf, deadline));
}
#endif

TPARKER_API void tparker_wake_one(const void *addr)
{
	tparker_lot_unpark_one((uintptr_t)addr, NULL, NULL);
}

TPARKER_API void tparker_wake_all(const void *addr)
{
	tparker_lot_unpark_all((uintptr_t)addr, 0);
}
