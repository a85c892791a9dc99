/* SPDX-License-Identifier: MIT */
/*
 * 1 000 threads parked at once, each on its own parker in one shared queue,
 * then all woken in a random order: every one must wake, none twice. A
 * watchdog names the threads that never woke.
 *
 * Usage: threads <backend> [count]
 */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

#include "tparker/tparker.h"

#include "harness.h"

#define DEFAULT_THREADS 1000
/* valgrind runs at most --max-threads (500 unless raised) threads. */
#define VALGRIND_THREADS 400
#define STACK_SIZE	 (64 * 1024)

struct sleeper {
	tparker_t parker;
	pthread_t thread;
	bool queued; /* under lock */
	atomic_uint woke;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct sleeper *sleepers;
static unsigned count;
static atomic_uint queued_count, woke_count;
static atomic_bool all_started;

static void *sleeper_main(void *arg)
{
	struct sleeper *s = arg;
	tparker_prepare_park(&s->parker);
	pthread_mutex_lock(&lock);
	s->queued = true;
	pthread_mutex_unlock(&lock);
	atomic_fetch_add(&queued_count, 1);
	tparker_park(&s->parker);
	/* The waker's write of queued happens-before the return from park. */
	if (s->queued)
		tpt_fail("thread %u returned from park while still queued",
			 (unsigned)(s - sleepers));
	if (atomic_fetch_add(&s->woke, 1) != 0)
		tpt_fail("thread %u woke twice", (unsigned)(s - sleepers));
	atomic_fetch_add(&woke_count, 1);
	return NULL;
}

/* The watchdog: report the threads that never woke. */
static void *watchdog_main(void *arg)
{
	(void)arg;
	uint64_t limit = 20000000000u * tpt_slowdown(), start = tpt_now_ns();
	while (atomic_load(&woke_count) < count) {
		if (tpt_now_ns() - start > limit) {
			unsigned queued = atomic_load(&queued_count);
			fprintf(stderr,
				"FAIL threads %s: watchdog: after %.0f s %u of %u threads parked, "
				"%u woke%s; not woken:",
				tpt_backend, (double)limit / 1e9, queued, count,
				atomic_load(&woke_count),
				atomic_load(&all_started) ? "" : " (not all started)");
			unsigned shown = 0;
			for (unsigned i = 0; i < count && shown < 50; i++)
				if (!atomic_load(&sleepers[i].woke)) {
					fprintf(stderr, " %u", i);
					shown++;
				}
			fprintf(stderr, "%s\n", shown == 50 ? " ..." : "");
			fflush(stderr);
			_exit(1);
		}
		tpt_sleep_ns(50000000);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	tpt_start("threads", argc, argv);
	count = DEFAULT_THREADS;
	if (argc > 2)
		count = (unsigned)strtoul(argv[2], NULL, 10);
	else if (tpt_under_valgrind())
		count = VALGRIND_THREADS;
	if (count == 0)
		tpt_fail("bad thread count");

	sleepers = aligned_alloc(_Alignof(struct sleeper), count * sizeof(*sleepers));
	if (!sleepers)
		tpt_fail("out of memory");
	memset(sleepers, 0, count * sizeof(*sleepers));
	for (unsigned i = 0; i < count; i++)
		if (tparker_init(&sleepers[i].parker) != 0)
			tpt_fail("tparker_init failed");

	pthread_t dog;
	if (pthread_create(&dog, NULL, watchdog_main, NULL) != 0)
		tpt_fail("pthread_create failed (watchdog)");

	pthread_attr_t attr;
	pthread_attr_init(&attr);
	/* Some ABIs need more (aarch64's minimum is 128 KiB). */
	size_t stack = STACK_SIZE;
	if (stack < (size_t)PTHREAD_STACK_MIN)
		stack = PTHREAD_STACK_MIN;
	int err = pthread_attr_setstacksize(&attr, stack);
	if (err)
		tpt_fail("pthread_attr_setstacksize: %s", strerror(err));
	for (unsigned i = 0; i < count; i++) {
		err = pthread_create(&sleepers[i].thread, &attr, sleeper_main, &sleepers[i]);
		if (err)
			tpt_fail("pthread_create of thread %u: %s", i, strerror(err));
	}
	pthread_attr_destroy(&attr);
	atomic_store(&all_started, true);
	while (atomic_load(&queued_count) < count)
		tpt_sleep_ns(1000000);

	/* Wake in a random order (Fisher-Yates), in batches under one lock
	 * hold as a wait queue's unpark_all would; each parker is locked once,
	 * so the varying order is no lock-order inversion. */
	unsigned *order = malloc(count * sizeof(*order));
	tparker_unpark_handle_t *h = malloc(count * sizeof(*h));
	if (!order || !h)
		tpt_fail("out of memory");
	uint64_t rng = tpt_now_ns() | 1;
	for (unsigned i = 0; i < count; i++)
		order[i] = i;
	for (unsigned i = count - 1; i > 0; i--) {
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		unsigned j = (unsigned)(rng % (i + 1)), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (unsigned i = 0; i < count;) {
		unsigned n = 0;
		pthread_mutex_lock(&lock);
		/* 32: ThreadSanitizer tracks at most 64 locks held at once,
		 * and the pthread backend holds one per parker until unpark. */
		for (; i < count && n < 32; i++, n++) {
			struct sleeper *s = &sleepers[order[i]];
			s->queued = false;
			h[n] = tparker_unpark_lock(&s->parker);
		}
		pthread_mutex_unlock(&lock);
		for (unsigned k = 0; k < n; k++)
			tparker_unpark(h[k]);
	}

	for (unsigned i = 0; i < count; i++)
		pthread_join(sleepers[i].thread, NULL);
	pthread_join(dog, NULL);
	unsigned woke = 0;
	for (unsigned i = 0; i < count; i++) {
		if (atomic_load(&sleepers[i].woke) != 1)
			tpt_fail("thread %u woke %u times", i, atomic_load(&sleepers[i].woke));
		woke++;
		tparker_destroy(&sleepers[i].parker);
	}
	printf("threads %s: %u threads parked at once (64 KiB stacks), %u woke, 0 lost\n",
	       tpt_backend, count, woke);
	free(order);
	free(h);
	free(sleepers);
	return 0;
}
