/* SPDX-License-Identifier: MIT */
/*
 * Lifetime and handles: init/destroy cycles, heap parkers,
 * tparker_init_with() with the default, a named and an invalid backend,
 * thread_yield, and a parker freed by its owner as soon as it knows it was
 * woken, before the waker's tparker_unpark() on the handle.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* ---- init/destroy -------------------------------------------------------- */

void test_init_destroy(void)
{
	tparker_t p;
	unsigned fails = 0;
	int first_err = 0;

	begin_test("init/destroy");
	for (int i = 0; i < 10000; i++) {
		int err = tparker_init(&p);
		if (err) {
			if (!fails++)
				first_err = err;
			continue;
		}
		if (i % 100 == 0) {
			tparker_prepare_park(&p);
			tparker_unpark(tparker_unpark_lock(&p));
			tparker_park(&p);
		}
		tparker_destroy(&p);
	}
	EXPECT(fails == 0, "tparker_init failed %u of 10000 times, first with %s", fails,
	       strerror(first_err));

	/* Heap parkers, as a program embeds them. */
	for (int i = 0; i < 1000; i++) {
		tparker_t *h = malloc(sizeof(*h));
		CU_ASSERT_FATAL(h != NULL);
		int err = tparker_init(h);
		if (err) {
			EXPECT(false, "tparker_init on malloc'd memory: %s", strerror(err));
			free(h);
			break;
		}
		tparker_destroy(h);
		free(h);
	}

	int err = tparker_init_with(&p, def);
	EXPECT(err == 0, "tparker_init_with(default): %s", strerror(err));
	if (!err) {
		tparker_prepare_park(&p);
		struct timespec d = tparker_deadline_after(NS_PER_MS);
		EXPECT(!tparker_park_until(&p, &d), "init_with(default): park_until returned true");
		tparker_destroy(&p);
	}
	const tparker_backend_t *named = tparker_backend_get(backend_name);
	EXPECT(named != NULL, "tparker_backend_get(\"%s\") failed: %s", backend_name,
	       tparker_backend_error());
	if (named) {
		EXPECT(strcmp(tparker_backend_name(named), backend_name) == 0,
		       "tparker_backend_get(\"%s\") is named \"%s\"", backend_name,
		       tparker_backend_name(named));
		err = tparker_init_with(&p, named);
		EXPECT(err == 0, "tparker_init_with(get(\"%s\")): %s", backend_name, strerror(err));
		if (!err)
			tparker_destroy(&p);
	}
}

void test_init_with_invalid(void)
{
	/* Looks like a backend, but the library never adopted it. */
	static struct tparker_backend fake;
	tparker_t p;

	begin_test("init_with invalid");
	fake.version = TPARKER_BACKEND_ABI_VERSION;
	fake.size = sizeof(fake);
	fake.name = "fake";
	EXPECT(tparker_init_with(&p, NULL) == EINVAL, "init_with(NULL) did not return EINVAL");
	EXPECT(tparker_init_with(&p, &fake) == EINVAL,
	       "init_with(an unknown backend) did not return EINVAL");
	EXPECT(strcmp(tparker_backend_name(NULL), "(null)") == 0, "backend_name(NULL) is \"%s\"",
	       tparker_backend_name(NULL));
	EXPECT(strcmp(tparker_backend_name(def), backend_name) == 0,
	       "backend_name(default) is \"%s\"", tparker_backend_name(def));
}

void test_thread_yield(void)
{
	begin_test("thread_yield");
	for (int i = 0; i < 1000; i++)
		tparker_thread_yield();
	CU_PASS("tparker_thread_yield() returns");
}

/* ---- lifetime ------------------------------------------------------------ */

enum life_mode { LIFE_PARK, LIFE_UNTIL, LIFE_LOCK_FIRST };
static const char *const life_mode_names[] = {"park", "park_until", "unpark_lock first"};

struct life {
	tp_mutex_t lock;
	tparker_t *queued; /* under lock */
	enum life_mode mode;
	atomic_bool published, locked, freed;
	bool woken; /* the owner's, read after join: false after a real timeout */
};

#define LIFE_UNTIL_MS 60

static void *life_owner(void *arg)
{
	struct life *l = arg;
	tparker_t *p = malloc(sizeof(*p));

	if (!p || tparker_init(p)) {
		thread_fail("lifetime: no parker");
		free(p);
		atomic_store(&l->published, true);
		atomic_store(&l->freed, true);
		return NULL;
	}
	tparker_prepare_park(p);
	tp_mutex_lock(&l->lock);
	l->queued = p;
	tp_mutex_unlock(&l->lock);
	atomic_store(&l->published, true);
	switch (l->mode) {
	case LIFE_PARK:
		tparker_park(p);
		l->woken = true;
		break;
	case LIFE_UNTIL: {
		struct timespec d = tparker_deadline_after(LIFE_UNTIL_MS * NS_PER_MS);
		l->woken = tparker_park_until(p, &d);
		if (!l->woken) {
			tp_mutex_lock(&l->lock);
			if (tparker_timed_out(p))
				l->queued = NULL;
			else
				l->woken = true;
			tp_mutex_unlock(&l->lock);
		}
		break;
	}
	case LIFE_LOCK_FIRST:
		await_flag(&l->locked, "lifetime: the waker's unpark_lock");
		tparker_park(p);
		l->woken = true;
		break;
	}
	/* Gone at once: unpark must not need this memory any more. */
	tparker_destroy(p);
	memset(p, 0xA5, sizeof(*p));
	free(p);
	atomic_store(&l->freed, true);
	return NULL;
}

void test_lifetime(void)
{
	unsigned freed_first[3] = {0}, rounds[3] = {0};

	begin_test("lifetime");
	for (int i = 0; i < 9; i++) {
		struct life l;
		tp_thread_t t;

		memset(&l, 0, sizeof(l));
		tp_mutex_init(&l.lock);
		l.mode = (enum life_mode)(i % 3);
		atomic_init(&l.published, false);
		atomic_init(&l.locked, false);
		atomic_init(&l.freed, false);
		start_thread(&t, life_owner, &l);
		await_flag(&l.published, "lifetime: owner publishing its parker");
		if (l.mode != LIFE_LOCK_FIRST)
			sleep_ms(20); /* let the owner fall asleep */

		tp_mutex_lock(&l.lock);
		tparker_t *p = l.queued;
		l.queued = NULL;
		tparker_unpark_handle_t h = {NULL, NULL};
		if (p)
			h = tparker_unpark_lock(p);
		tp_mutex_unlock(&l.lock);
		atomic_store(&l.locked, true);
		if (p) {
			/* A backend that holds the owner back until unpark
			 * (pthread) never gets there: go on after a while. */
			long wait_ms = 200 + (l.mode == LIFE_UNTIL ? LIFE_UNTIL_MS : 0);
			if (flag_within(&l.freed, wait_ms))
				freed_first[l.mode]++;
			tparker_unpark(h);
			rounds[l.mode]++;
		}
		await_flag(&l.freed, "lifetime: owner returning and freeing its parker");
		join_thread(t);
		/* Only a waker that came after the owner's deadline (a busy
		 * machine) finds the queue empty: then it was a real timeout. */
		EXPECT(l.woken == (p != NULL),
		       "lifetime (%s): the owner %s, but the waker %s the parker",
		       life_mode_names[l.mode], l.woken ? "was woken" : "timed out",
		       p ? "unparked" : "did not find");
		tp_mutex_destroy(&l.lock);
	}
	COLLECT_THREAD_FAILURES();
	printf("[freed before unpark: ");
	for (int m = 0; m < 3; m++)
		printf("%s%s %u/%u", m ? ", " : "", life_mode_names[m], freed_first[m], rounds[m]);
	printf("] ");
}
