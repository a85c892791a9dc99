/* SPDX-License-Identifier: MIT */
/*
 * The owner frees its parker while the waker still holds the handle from
 * unpark_lock(): the waker's unpark() must not touch the freed memory. Run
 * under AddressSanitizer or valgrind, a read of it is reported; the memory
 * is also scribbled over (0x5A) so that a backend reading it misbehaves
 * visibly even without them.
 *
 * A backend may hold its parker back until unpark() (the pthread backend
 * keeps the parker's mutex locked): then the owner cannot get out of park
 * before the unpark. The waker gives the owner a grace period to finish;
 * if it has not, it calls unpark first. Both outcomes are counted.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "tparker/tparker.h"

#include "harness.h"

#define ITERATIONS 1000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static tparker_t *published; /* under lock: the parker to wake */
static unsigned published_seq;
static atomic_uint owner_done; /* iterations the owner has finished, memory freed */

static void *owner_main(void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < ITERATIONS; i++) {
		tparker_t *p = malloc(sizeof(*p));
		if (!p)
			tpt_fail("out of memory");
		if (tparker_init(p) != 0)
			tpt_fail("tparker_init failed");
		tparker_prepare_park(p);
		pthread_mutex_lock(&lock);
		published = p;
		published_seq = i;
		pthread_mutex_unlock(&lock);

		/* Three ways out of park: woken in park(); a short deadline that
		 * may expire after unpark_lock (so the owner leaves on its own
		 * while a wake is still due); a deadline already past, polled. */
		switch (i % 3) {
		case 0:
			tparker_park(p);
			break;
		default:
			for (;;) {
				struct timespec d =
				    tparker_deadline_after(i % 3 == 1 ? 1000000 : 0);
				if (tparker_park_until(p, &d))
					break;
				pthread_mutex_lock(&lock);
				bool timed_out = tparker_timed_out(p);
				pthread_mutex_unlock(&lock);
				/* A real timeout leaves p published: the waker
				 * still comes, so park again. */
				if (!timed_out)
					break;
				if (i % 3 == 2)
					tparker_thread_yield();
			}
			break;
		}
		pthread_mutex_lock(&lock);
		bool still_published = published == p;
		pthread_mutex_unlock(&lock);
		if (still_published)
			tpt_fail("iteration %u: the owner left park before any unpark_lock", i);
		tparker_destroy(p);
		memset(p, 0x5A, sizeof(*p));
		free(p);
		atomic_store_explicit(&owner_done, i + 1, memory_order_release);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	tpt_start("uaf", argc, argv);
	tpt_watchdog(20, "the use-after-free test");

	pthread_t owner;
	if (pthread_create(&owner, NULL, owner_main, NULL) != 0)
		tpt_fail("pthread_create failed");

	uint64_t rng = tpt_now_ns() | 1;
	uint64_t grace_ns = 200000000u * tpt_slowdown();
	unsigned after_free = 0, held_back = 0;
	for (unsigned i = 0; i < ITERATIONS; i++) {
		tparker_t *p = NULL;
		while (!p) {
			pthread_mutex_lock(&lock);
			if (published && published_seq == i) {
				p = published;
				published = NULL;
			}
			pthread_mutex_unlock(&lock);
			if (!p)
				tparker_thread_yield();
		}
		/* Sometimes let the owner get into the kernel first. */
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		if (rng % 2)
			tpt_sleep_ns(rng % 1500000);

		/* p was taken off the "queue" above; unpark_lock under the lock
		 * as the protocol says, but on a fresh acquisition: the owner
		 * of a timed-out park_until takes the lock to ask timed_out(). */
		pthread_mutex_lock(&lock);
		tparker_unpark_handle_t h = tparker_unpark_lock(p);
		pthread_mutex_unlock(&lock);
		p = NULL; /* may be freed from here on */

		uint64_t until = tpt_now_ns() + grace_ns;
		while (atomic_load_explicit(&owner_done, memory_order_acquire) <= i &&
		       tpt_now_ns() < until)
			tpt_sleep_ns(20000);
		if (atomic_load_explicit(&owner_done, memory_order_acquire) > i) {
			/* The memory is freed and scribbled on: the point of it all. */
			tparker_unpark(h);
			after_free++;
		} else {
			tparker_unpark(h);
			held_back++;
			while (atomic_load_explicit(&owner_done, memory_order_acquire) <= i)
				tpt_sleep_ns(20000);
			/* This backend holds the owner back; a short grace is
			 * enough to still catch the iterations where it doesn't. */
			grace_ns = 2000000u * (tpt_under_valgrind() ? 5 : 1);
		}
	}
	pthread_join(owner, NULL);
	printf("uaf %s: %u iterations: unpark() ran after the owner freed its parker in %u, "
	       "the backend held the owner until unpark() in %u\n",
	       tpt_backend, ITERATIONS, after_free, held_back);
	return 0;
}
