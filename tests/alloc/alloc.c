/* SPDX-License-Identifier: MIT */
/*
 * A park never allocates, not even the first one of a new thread: an
 * allocator's own lock may be built on a parker, and an allocation inside
 * its park re-enters that lock. A plugin is dlopen'ed, so any thread-local
 * variable it touched would be allocated with malloc on a thread's first
 * touch; this program catches that and everything else.
 *
 * It defines the malloc family itself (the executable's definitions win
 * over libc's for every object, the dynamic linker's TLS allocator
 * included), forwarding to glibc, and counts the calls each thread makes
 * while a flag is set. Every scenario runs in fresh threads, with parkers
 * initialised by the main thread, and counts only the parker calls under
 * test:
 *   sleep    prepare_park + a park that sleeps (seen asleep in /proc) until
 *            the main thread unparks it
 *   timeout  prepare_park + a park_until that times out
 *   past     prepare_park + park_until with deadlines already past
 *   waker    unpark_lock + unpark of a parker whose owner sleeps
 *   at-once  prepare_park, unpark_lock + unpark, then park and park_until,
 *            which return at once
 *
 * Usage: alloc <backend>; exit 0 pass, 1 fail, 77 skip (under valgrind or a
 * sanitizer, which replace the allocator).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "tparker/tparker.h"

#include "../faults/harness.h"
#include "counting.h"

#define THREADS 16

#ifndef ALLOC_SANITIZED
struct slot {
	tparker_t parker;
	pthread_t thread;
	pid_t tid;
	atomic_bool published; /* the owner is about to park */
	unsigned calls;	       /* counted by the thread under test */
	bool result;
};

static struct slot slots[THREADS];
static struct slot wakers[THREADS];

static void slots_init(struct slot *s)
{
	memset(s, 0, THREADS * sizeof(*s));
	for (int i = 0; i < THREADS; i++) {
		atomic_init(&s[i].published, false);
		if (tparker_init(&s[i].parker) != 0)
			tpt_fail("tparker_init failed");
	}
}

static void slots_destroy(struct slot *s)
{
	for (int i = 0; i < THREADS; i++)
		tparker_destroy(&s[i].parker);
}

static void start(struct slot *s, void *(*fn)(void *))
{
	if (pthread_create(&s->thread, NULL, fn, s) != 0)
		tpt_fail("pthread_create failed");
}

static void join(struct slot *s)
{
	pthread_join(s->thread, NULL);
}

/* Is the thread asleep in the kernel (state S), not running or spinning? */
static bool asleep(pid_t tid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "tid (comm) S ...": comm may hold spaces and parentheses. */
	const char *close = strrchr(buf, ')');
	return close && close[1] == ' ' && close[2] == 'S';
}

static void wait_asleep(struct slot *s)
{
	uint64_t start = tpt_now_ns(), limit = 10000000000u * tpt_slowdown();
	while (!atomic_load(&s->published))
		tpt_sleep_ns(100000);
	/* Several readings in a row: between its spin and its sleep an
	 * owner is running; one that is asleep stays so. */
	for (int seen = 0; seen < 3;) {
		if (asleep(s->tid))
			seen++;
		else
			seen = 0;
		if (tpt_now_ns() - start > limit)
			tpt_fail("thread %d never fell asleep in park", (int)s->tid);
		tpt_sleep_ns(1000000);
	}
}

/* sleep: the owner parks and sleeps until the main thread unparks it. */
static void *sleep_main(void *arg)
{
	struct slot *s = arg;
	s->tid = gettid();
	count_start();
	tparker_prepare_park(&s->parker);
	atomic_store(&s->published, true);
	tparker_park(&s->parker);
	s->calls = count_stop();
	return NULL;
}

/* timeout: a first park_until that times out. */
static void *timeout_main(void *arg)
{
	struct slot *s = arg;
	struct timespec d = tparker_deadline_after(2000000);
	count_start();
	tparker_prepare_park(&s->parker);
	s->result = tparker_park_until(&s->parker, &d);
	s->calls = count_stop();
	return NULL;
}

/* past: deadlines already past, the first one the thread's first park. */
static void *past_main(void *arg)
{
	struct slot *s = arg;
	const struct timespec past[] = {{0, 0}, tparker_deadline_after(0), {-1, 0}, {0, -1}};
	bool any = false;
	count_start();
	for (int i = 0; i < 64; i++) {
		tparker_prepare_park(&s->parker);
		any |= tparker_park_until(&s->parker, &past[i % 4]);
	}
	s->calls = count_stop();
	s->result = any;
	return NULL;
}

/* The owner of a parker that a fresh waker thread unparks. */
static void *owner_main(void *arg)
{
	struct slot *s = arg;
	s->tid = gettid();
	tparker_prepare_park(&s->parker);
	atomic_store(&s->published, true);
	tparker_park(&s->parker);
	return NULL;
}

/* waker: unpark_lock + unpark of a sleeping owner (slots[i]) from a new
 * thread (wakers[i]). */
static void *waker_main(void *arg)
{
	struct slot *w = arg;
	struct slot *s = &slots[w - wakers];
	count_start();
	tparker_unpark(tparker_unpark_lock(&s->parker));
	w->calls = count_stop();
	return NULL;
}

/* at-once: an unpark before the park, by the owner itself. */
static void *at_once_main(void *arg)
{
	struct slot *s = arg;
	struct timespec d = tparker_deadline_after(60000000000u);
	bool ok = true;
	count_start();
	tparker_prepare_park(&s->parker);
	tparker_unpark(tparker_unpark_lock(&s->parker));
	tparker_park(&s->parker);
	tparker_prepare_park(&s->parker);
	tparker_unpark(tparker_unpark_lock(&s->parker));
	ok &= tparker_park_until(&s->parker, &d);
	s->calls = count_stop();
	s->result = ok;
	return NULL;
}

static unsigned total(const struct slot *s)
{
	unsigned n = 0;
	for (int i = 0; i < THREADS; i++)
		n += s[i].calls;
	return n;
}

static unsigned failures;

static void report(const char *scenario, unsigned n)
{
	printf("%-8s %d new threads: %u allocator call(s) inside the parker calls\n", scenario,
	       THREADS, n);
	if (n) {
		fprintf(stderr, "FAIL %s %s: %s: %u allocator call(s) inside parker calls\n",
			tpt_name, tpt_backend, scenario, n);
		failures++;
	}
}

int main(int argc, char **argv)
{
	tpt_start("alloc", argc, argv);
	if (tpt_under_valgrind()) {
		/* It replaces every malloc, this program's included. */
		printf("SKIP alloc %s: valgrind replaces the counting allocator\n", tpt_backend);
		return TPT_SKIP;
	}
	tpt_watchdog(60, "the allocation count");

	unsigned seen = 0;
	pthread_t t;
	pthread_create(&t, NULL, self_check_main, &seen);
	pthread_join(t, NULL);
	if (seen != 2)
		tpt_fail("the counting allocator saw %u of 2 calls: it does not interpose malloc",
			 seen);

	slots_init(slots);
	for (int i = 0; i < THREADS; i++)
		start(&slots[i], sleep_main);
	for (int i = 0; i < THREADS; i++) {
		wait_asleep(&slots[i]);
		tparker_unpark(tparker_unpark_lock(&slots[i].parker));
	}
	for (int i = 0; i < THREADS; i++)
		join(&slots[i]);
	report("sleep", total(slots));
	slots_destroy(slots);

	slots_init(slots);
	for (int i = 0; i < THREADS; i++)
		start(&slots[i], timeout_main);
	for (int i = 0; i < THREADS; i++) {
		join(&slots[i]);
		if (slots[i].result)
			tpt_fail("timeout: park_until returned true with no unparker");
	}
	report("timeout", total(slots));
	slots_destroy(slots);

	slots_init(slots);
	for (int i = 0; i < THREADS; i++)
		start(&slots[i], past_main);
	for (int i = 0; i < THREADS; i++) {
		join(&slots[i]);
		if (slots[i].result)
			tpt_fail("past: park_until returned true with no unparker");
	}
	report("past", total(slots));
	slots_destroy(slots);

	slots_init(slots);
	slots_init(wakers);
	for (int i = 0; i < THREADS; i++)
		start(&slots[i], owner_main);
	for (int i = 0; i < THREADS; i++) {
		wait_asleep(&slots[i]);
		start(&wakers[i], waker_main);
	}
	for (int i = 0; i < THREADS; i++) {
		join(&wakers[i]);
		join(&slots[i]);
	}
	report("waker", total(wakers));
	slots_destroy(wakers);
	slots_destroy(slots);

	slots_init(slots);
	for (int i = 0; i < THREADS; i++)
		start(&slots[i], at_once_main);
	for (int i = 0; i < THREADS; i++) {
		join(&slots[i]);
		if (!slots[i].result)
			tpt_fail("at-once: park_until returned false after an unpark");
	}
	report("at-once", total(slots));
	slots_destroy(slots);

	return failures ? 1 : 0;
}
#else
int main(int argc, char **argv)
{
	tpt_start("alloc", argc, argv);
	printf("SKIP alloc %s: a sanitizer's allocator cannot be interposed on\n", tpt_backend);
	return TPT_SKIP;
}
#endif
