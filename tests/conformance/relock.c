/* SPDX-License-Identifier: MIT */
/*
 * Relocking between the phases: nothing is held between
 * tparker_unpark_lock() and tparker_unpark(), so a waker may take its queue
 * lock again between them while a timed-out owner asks tparker_timed_out()
 * under that lock and frees its parker. Four handshakes, each named by the
 * hang report when it deadlocks.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* ---- relocking between the phases --------------------------------------- */

/*
 * Nothing is held between tparker_unpark_lock and tparker_unpark, so a
 * waker may take its queue lock again in between (to look for more waiters,
 * say) while a timed-out owner calls tparker_timed_out under that lock. The
 * owner's parker is its own, freed as soon as it knows it was woken, before
 * the waker's unpark.
 */
enum relock_mode {
	/* The owner has timed out; the waker pops it, then waits until the
	 * owner holds the queue lock for timed_out before locking it again. */
	RELOCK_OWNER_HOLDS,
	/* The same, but the waker holds the queue lock again when the owner
	 * asks for it. */
	RELOCK_WAKER_HOLDS,
	/* The waker pops the owner while it sleeps, then holds the queue lock
	 * again across the owner's deadline. */
	RELOCK_ASLEEP,
	/* No handshake: random delays on both sides. */
	RELOCK_RACE,
	RELOCK_MODES
};
static const char *const relock_mode_names[] = {
    "the owner holds the queue lock for timed_out while the waker is between the phases",
    "the waker holds the queue lock again while the owner asks for it for timed_out",
    "the waker pops the sleeping owner and holds the queue lock across its deadline",
    "owner and waker race with random delays",
};

enum relock_owner_stage {
	RO_PARKING,
	RO_AWAIT_POP,
	RO_AWAIT_WAKER_LOCK,
	RO_LOCKING,
	RO_TIMED_OUT,
	RO_DONE
};
static const char *const relock_owner_stages[] = {"in park_until",
						  "waiting for the waker's pop",
						  "waiting for the waker to hold the queue lock",
						  "taking the queue lock",
						  "in timed_out, holding the queue lock",
						  "done"};
enum relock_waker_stage {
	RW_START,
	RW_POPPING,
	RW_AWAIT_OWNER_LOCK,
	RW_RELOCKING,
	RW_UNPARK,
	RW_DONE
};
static const char *const relock_waker_stages[] = {
    "waiting to start",
    "popping (unpark_lock under the queue lock)",
    "between the phases, waiting for the owner to hold the queue lock",
    "between the phases, taking the queue lock again",
    "in unpark",
    "done"};

#define RELOCK_ROUNDS 400

struct relock {
	tp_mutex_t lock;
	tparker_t *queued; /* under lock */
	enum relock_mode mode;
	uint64_t rng; /* the owner's */
	uint64_t waker_rng;
	int64_t deadline_ns;
	struct timespec deadline;
	atomic_bool published, returned, popped, owner_locked, waker_locked;
	atomic_int owner_stage, waker_stage;
	bool woken, found, returned_true; /* read after the flags below */
	atomic_bool owner_done, waker_done;
};

/* A short random pause: none, a yield or up to 200 us. */
static void relock_pause(uint64_t *rng)
{
	uint64_t x = rng_next(rng);

	switch (x % 4) {
	case 0:
		break;
	case 1:
		tp_yield();
		break;
	default:
		sleep_ns((int64_t)((x >> 8) % 200000));
		break;
	}
}

static void *relock_owner(void *arg)
{
	struct relock *r = arg;
	tparker_t *p = malloc(sizeof(*p));

	if (!p || tparker_init(p)) {
		thread_fail("relock: no parker");
		exit(1);
	}
	tparker_prepare_park(p);
	tp_mutex_lock(&r->lock);
	r->queued = p;
	tp_mutex_unlock(&r->lock);
	r->deadline = tparker_deadline_after((uint64_t)r->deadline_ns);
	atomic_store(&r->published, true);
	r->returned_true = tparker_park_until(p, &r->deadline);
	atomic_store(&r->returned, true);
	r->woken = r->returned_true;
	if (!r->woken) {
		if (r->mode == RELOCK_OWNER_HOLDS) {
			atomic_store(&r->owner_stage, RO_AWAIT_POP);
			await_flag(&r->popped, "relock: the waker's pop");
		} else if (r->mode == RELOCK_WAKER_HOLDS) {
			atomic_store(&r->owner_stage, RO_AWAIT_WAKER_LOCK);
			await_flag(&r->waker_locked,
				   "relock: the waker taking the queue lock again");
		}
		atomic_store(&r->owner_stage, RO_LOCKING);
		tp_mutex_lock(&r->lock);
		atomic_store(&r->owner_stage, RO_TIMED_OUT);
		atomic_store(&r->owner_locked, true);
		if (r->mode == RELOCK_OWNER_HOLDS)
			relock_pause(&r->rng); /* let the waker block on the lock */
		bool to = tparker_timed_out(p);
		if (to)
			r->queued = NULL;
		tp_mutex_unlock(&r->lock);
		r->woken = !to;
	}
	/* Woken or not, gone at once: the waker's unpark may still come. */
	tparker_destroy(p);
	memset(p, 0x5A, sizeof(*p));
	free(p);
	atomic_store(&r->owner_stage, RO_DONE);
	atomic_store(&r->owner_done, true);
	return NULL;
}

static void *relock_waker(void *arg)
{
	struct relock *r = arg;
	tparker_unpark_handle_t h = {NULL, NULL};

	switch (r->mode) {
	case RELOCK_OWNER_HOLDS:
	case RELOCK_WAKER_HOLDS:
		await_flag(&r->returned, "relock: the owner's timeout");
		break;
	case RELOCK_ASLEEP:
		await_flag(&r->published, "relock: the owner publishing its parker");
		sleep_ns(r->deadline_ns / 3); /* most likely asleep by now */
		break;
	case RELOCK_RACE:
		await_flag(&r->published, "relock: the owner publishing its parker");
		sleep_ns((int64_t)(rng_next(&r->waker_rng) % (uint64_t)(2 * r->deadline_ns + 1)));
		break;
	default:
		break;
	}
	atomic_store(&r->waker_stage, RW_POPPING);
	tp_mutex_lock(&r->lock);
	tparker_t *p = r->queued;
	r->queued = NULL;
	if (p)
		h = tparker_unpark_lock(p);
	tp_mutex_unlock(&r->lock);
	r->found = p != NULL;
	atomic_store(&r->popped, true);

	/* Between the phases: the queue lock again. */
	switch (r->mode) {
	case RELOCK_OWNER_HOLDS:
		atomic_store(&r->waker_stage, RW_AWAIT_OWNER_LOCK);
		await_flag(&r->owner_locked, "relock: the owner taking the queue lock");
		atomic_store(&r->waker_stage, RW_RELOCKING);
		tp_mutex_lock(&r->lock);
		tp_mutex_unlock(&r->lock);
		break;
	case RELOCK_WAKER_HOLDS:
		atomic_store(&r->waker_stage, RW_RELOCKING);
		tp_mutex_lock(&r->lock);
		atomic_store(&r->waker_locked, true);
		relock_pause(&r->waker_rng); /* the owner blocks on the lock */
		tp_mutex_unlock(&r->lock);
		break;
	case RELOCK_ASLEEP: {
		atomic_store(&r->waker_stage, RW_RELOCKING);
		tp_mutex_lock(&r->lock);
		/* Until past the owner's deadline, and a little. */
		struct timespec until = ts_add(r->deadline, 200000);
		while (ts_before(now_ts(), until))
			sleep_ns(ts_diff(until, now_ts()));
		tp_mutex_unlock(&r->lock);
		break;
	}
	default:
		relock_pause(&r->waker_rng);
		atomic_store(&r->waker_stage, RW_RELOCKING);
		tp_mutex_lock(&r->lock);
		relock_pause(&r->waker_rng);
		tp_mutex_unlock(&r->lock);
		break;
	}
	relock_pause(&r->waker_rng);
	atomic_store(&r->waker_stage, RW_UNPARK);
	tparker_unpark(h);
	atomic_store(&r->waker_stage, RW_DONE);
	atomic_store(&r->waker_done, true);
	return NULL;
}

/* Both sides done, or the run ends naming where each one is stuck. */
static void relock_await(struct relock *r, int round)
{
	struct patience waited;

	patience_init(&waited);
	while (!atomic_load(&r->owner_done) || !atomic_load(&r->waker_done)) {
		if (patience_waited(&waited) > hang_ns)
			hang("relock round %d (%s): not done after %lld s, a deadlock between "
			     "unpark_lock and unpark? The owner is %s; the waker is %s",
			     round, relock_mode_names[r->mode], (long long)(hang_ns / NS_PER_S),
			     relock_owner_stages[atomic_load(&r->owner_stage)],
			     relock_waker_stages[atomic_load(&r->waker_stage)]);
		sleep_ns(20000);
	}
	progress();
}

void test_relock(void)
{
	unsigned rounds = RELOCK_ROUNDS / scale_down, woken[RELOCK_MODES] = {0},
		 timed_out[RELOCK_MODES] = {0}, by_timed_out[RELOCK_MODES] = {0};

	begin_test("relock between the phases");
	if (rounds < 2 * RELOCK_MODES)
		rounds = 2 * RELOCK_MODES;
	for (unsigned i = 0; i < rounds; i++) {
		static struct relock r;
		tp_thread_t owner, waker;

		memset(&r, 0, sizeof(r));
		tp_mutex_init(&r.lock);
		r.mode = (enum relock_mode)(i % RELOCK_MODES);
		r.rng = 0x9E3779B97F4A7C15ULL * (i + 1);
		r.waker_rng = 0xD1B54A32D192ED03ULL * (i + 1);
		switch (r.mode) {
		case RELOCK_ASLEEP:
			r.deadline_ns = (int64_t)(3 + (i / RELOCK_MODES) % 3 * 3) * NS_PER_MS;
			break;
		case RELOCK_RACE:
			r.deadline_ns = (int64_t)(rng_next(&r.rng) % (2 * NS_PER_MS));
			break;
		default:
			/* 0: a past deadline; else a real sleep that times out. */
			r.deadline_ns = (int64_t)((i / RELOCK_MODES) % 3) * NS_PER_MS;
			break;
		}
		atomic_store(&r.owner_stage, RO_PARKING);
		atomic_store(&r.waker_stage, RW_START);
		start_thread(&owner, relock_owner, &r);
		start_thread(&waker, relock_waker, &r);
		relock_await(&r, (int)i);
		join_thread(owner);
		join_thread(waker);
		tp_mutex_destroy(&r.lock);
		if (r.mode <= RELOCK_WAKER_HOLDS)
			EXPECT(!r.returned_true && r.found,
			       "relock round %u (%s): park_until returned %s, the waker %s the "
			       "parker",
			       i, relock_mode_names[r.mode], r.returned_true ? "true" : "false",
			       r.found ? "found" : "did not find");
		/* Woken exactly when the waker found the parker. */
		EXPECT(r.woken == r.found,
		       "relock round %u (%s): the owner %s, but the waker %s the parker", i,
		       relock_mode_names[r.mode], r.woken ? "was woken" : "timed out",
		       r.found ? "unparked" : "did not find");
		if (r.woken && !r.returned_true)
			by_timed_out[r.mode]++;
		if (r.woken)
			woken[r.mode]++;
		else
			timed_out[r.mode]++;
		COLLECT_THREAD_FAILURES();
	}
	printf("[%u rounds; woken (of which told by timed_out) / timed out:", rounds);
	for (int m = 0; m < RELOCK_MODES; m++)
		printf(" %u (%u) / %u", woken[m], by_timed_out[m], timed_out[m]);
	printf("] ");
}
