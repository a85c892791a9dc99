/* SPDX-License-Identifier: MIT */
/*
 * The fast paths and the plain handshake: an unpark before the park makes
 * the park return at once (the word protocol's inline steps where the
 * build has them), an unpark_lock records the CPU its caller runs on (what
 * the adaptive spin decides by), a two-thread ping-pong never loses a
 * wakeup, and what the waker wrote before its unpark is visible after the
 * park returns.
 */
#if defined(__linux__)
#include <sched.h>
#endif
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "harness.h"

/* ---- unpark before park --------------------------------------------------- */

void test_unpark_before_park(void)
{
	tparker_t p;

	begin_test("unpark before park");
	init_parker(&p, def);

	/* A fresh parker is unparked: nothing to wait for. */
	struct timespec d = tparker_deadline_after(5 * NS_PER_S);
	EXPECT(tparker_park_until(&p, &d), "fresh parker: park_until returned false");

	for (int i = 0; i < 1000; i++) {
		struct timespec t0 = now_ts();
		tparker_prepare_park(&p);
		tparker_unpark(tparker_unpark_lock(&p));
		d = tparker_deadline_after(5 * NS_PER_S);
		bool r = tparker_park_until(&p, &d);
		int64_t took = ts_diff(now_ts(), t0);
		if (!r || took > NS_PER_S) {
			EXPECT(false,
			       "round %d: park_until after an unpark returned %s after %lld ns", i,
			       r ? "true" : "false", (long long)took);
			break;
		}
		/* park() too: it must return (the watchdog says when not). */
		tparker_prepare_park(&p);
		tparker_unpark(tparker_unpark_lock(&p));
		tparker_park(&p);
		progress();
	}
	/* The parker keeps working after all that. */
	tparker_prepare_park(&p);
	d = tparker_deadline_after(2 * NS_PER_MS);
	EXPECT(!tparker_park_until(&p, &d), "park_until without an unpark returned true");
	EXPECT(tparker_timed_out(&p), "timed_out false after a real timeout");
	tparker_destroy(&p);
}

/* ---- the waker's CPU ------------------------------------------------------ */

#if defined(__linux__)
/* Word protocol 1: unpark_lock stores its caller's CPU after the word, the
 * header's inline step (one load from glibc's rseq area) and the library's
 * alike. Pinned to each allowed CPU in turn (up to 8), an unpark_lock of an
 * awake owner must leave that CPU there. */
void test_waker_cpu(void)
{
	cpu_set_t all, one;
	tparker_t p;
	int tried = 0;

	begin_test("unpark_lock records the waker's CPU");
	init_parker(&p, def);
	if (p.tparker_words_[TPARKER_PROTOCOL_OFFSET_ / 4] != TPARKER_WORD_PROTOCOL_V1) {
		tparker_destroy(&p);
		return; /* not a word-protocol backend: nothing is recorded */
	}
	EXPECT(sched_getaffinity(0, sizeof(all), &all) == 0, "sched_getaffinity failed");
	for (int cpu = 0; cpu < CPU_SETSIZE && tried < 8; cpu++) {
		if (!CPU_ISSET(cpu, &all))
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (sched_setaffinity(0, sizeof(one), &one) != 0)
			continue;
		tried++;
		/* The kernel moves the thread before sched_setaffinity returns. */
		EXPECT(sched_getcpu() == cpu, "pinned to CPU %d, running on %d", cpu,
		       sched_getcpu());
		tparker_prepare_park(&p);
		tparker_unpark(tparker_unpark_lock(&p));
		uint32_t waker = __atomic_load_n(&p.tparker_words_[TPARKER_STATE_OFFSET_ / 4 + 1],
						 __ATOMIC_RELAXED);
		EXPECT(waker == (uint32_t)cpu, "unpark_lock on CPU %d recorded CPU %d", cpu,
		       (int)waker);
		tparker_park(&p);
	}
	EXPECT(sched_setaffinity(0, sizeof(all), &all) == 0, "cannot restore the affinity");
	EXPECT(tried > 0, "no CPU could be pinned");
	tparker_destroy(&p);
}
#endif

/* ---- ping-pong ------------------------------------------------------------ */

#define PINGPONG_ROUNDS 100000UL

void test_pingpong(void)
{
	struct pingpong pp;
	struct pp_arg args[2];

	begin_test("ping-pong");
	pingpong_start(&pp, args, "ping-pong", def, def, PINGPONG_ROUNDS / scale_down);
	pingpong_finish(&pp);
}
/* ---- memory ordering ----------------------------------------------------- */

#define PAYLOAD_WORDS 16

struct ordering {
	tparker_t parker;
	_Atomic(tparker_t *) slot;
	unsigned long rounds;
	/* Plain memory: only the parker's release/acquire orders it. */
	uint64_t payload[PAYLOAD_WORDS];
	unsigned long bad, lost;
	atomic_bool stop;
};

static void *ordering_waker(void *arg)
{
	struct ordering *o = arg;

	for (unsigned long i = 0; i < o->rounds; i++) {
		tparker_t *p;
		unsigned spins = 0;
		while (!(p = atomic_exchange_explicit(&o->slot, NULL, memory_order_acquire))) {
			if (atomic_load(&o->stop))
				return NULL;
			if (++spins > 64)
				tp_yield();
		}
		for (int w = 0; w < PAYLOAD_WORDS; w++)
			o->payload[w] = (uint64_t)i * PAYLOAD_WORDS + (uint64_t)w;
		tparker_unpark(tparker_unpark_lock(p));
	}
	return NULL;
}

void test_memory_ordering(void)
{
	static struct ordering o;
	tp_thread_t t;

	begin_test("memory ordering");
	memset(&o, 0, sizeof(o));
	init_parker(&o.parker, def);
	atomic_init(&o.slot, NULL);
	atomic_init(&o.stop, false);
	o.rounds = 20000 / scale_down;
	start_thread(&t, ordering_waker, &o);
	for (unsigned long i = 0; i < o.rounds; i++) {
		tparker_prepare_park(&o.parker);
		atomic_store_explicit(&o.slot, &o.parker, memory_order_release);
		struct timespec d = tparker_deadline_after((uint64_t)long_park_ns);
		if (!tparker_park_until(&o.parker, &d)) {
			o.lost++;
			break;
		}
		for (int w = 0; w < PAYLOAD_WORDS; w++)
			if (o.payload[w] != (uint64_t)i * PAYLOAD_WORDS + (uint64_t)w)
				o.bad++;
		if ((i & 1023) == 0)
			progress();
	}
	atomic_store(&o.stop, true);
	join_thread(t);
	EXPECT(o.lost == 0, "memory ordering: a park was not woken in time (lost wakeup)");
	EXPECT(o.bad == 0, "memory ordering: %lu payload words read stale after park returned",
	       o.bad);
	tparker_destroy(&o.parker);
}
