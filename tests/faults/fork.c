/* SPDX-License-Identifier: MIT */
/*
 * fork() while other threads are parked: the child, single-threaded now,
 * must be able to use the default backend from scratch (init, an unpark
 * before park, a timeout, a ping-pong between two threads); the parent's
 * parked threads must still be wakeable afterwards.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "tparker/tparker.h"

#include "forkthread.h"
#include "harness.h"

#define PARKED_THREADS	4
#define PINGPONG_ROUNDS 1000

struct parked {
	tparker_t parker;
	struct fork_thread thread;
	bool queued; /* under lock */
	atomic_bool woke;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct parked parked[PARKED_THREADS];
static atomic_uint ready;

static void *parked_main(void *arg)
{
	struct parked *p = arg;
	tparker_prepare_park(&p->parker);
	pthread_mutex_lock(&lock);
	p->queued = true;
	pthread_mutex_unlock(&lock);
	atomic_fetch_add(&ready, 1);
	tparker_park(&p->parker);
	pthread_mutex_lock(&lock);
	bool still_queued = p->queued;
	pthread_mutex_unlock(&lock);
	if (still_queued)
		tpt_fail("a parked thread returned from park without an unpark");
	atomic_store(&p->woke, true);
	return NULL;
}

/* ---- the child ---------------------------------------------------------- */

struct side {
	tparker_t parker;
	bool waiting; /* under pp_lock */
};

static pthread_mutex_t pp_lock = PTHREAD_MUTEX_INITIALIZER;
static struct side sides[2];
static int turn;	  /* under pp_lock: whose move it is */
static unsigned moves[2]; /* each side's own count */

/* Wait for our turn, then hand it to the other side. */
static void pingpong_side(int me)
{
	int other = 1 - me;
	for (unsigned r = 0; r < PINGPONG_ROUNDS; r++) {
		for (;;) {
			tparker_prepare_park(&sides[me].parker);
			pthread_mutex_lock(&pp_lock);
			if (turn == me) {
				pthread_mutex_unlock(&pp_lock);
				break;
			}
			sides[me].waiting = true;
			pthread_mutex_unlock(&pp_lock);
			tparker_park(&sides[me].parker);
		}
		moves[me]++;
		tparker_unpark_handle_t h = {0};
		bool wake = false;
		pthread_mutex_lock(&pp_lock);
		turn = other;
		if (sides[other].waiting) {
			sides[other].waiting = false;
			h = tparker_unpark_lock(&sides[other].parker);
			wake = true;
		}
		pthread_mutex_unlock(&pp_lock);
		if (wake)
			tparker_unpark(h);
	}
}

static void *pingpong_main(void *arg)
{
	(void)arg;
	pingpong_side(1);
	return NULL;
}

static void child_fail(const char *what)
{
	fprintf(stderr, "FAIL %s %s (child): %s\n", tpt_name, tpt_backend, what);
	fflush(stderr);
	_exit(1);
}

static void child(void)
{
	tpt_watchdog(10, "the forked child");
	const tparker_backend_t *b = tparker_default_backend();
	if (strcmp(tparker_backend_name(b), tpt_backend) != 0)
		child_fail("the default backend changed in the child");

	tparker_t p;
	if (tparker_init(&p) != 0)
		child_fail("tparker_init failed");

	/* An unpark between prepare_park and park: park returns at once. */
	tparker_prepare_park(&p);
	tparker_unpark(tparker_unpark_lock(&p));
	tparker_park(&p);

	/* A timeout: false, never early, and a real one. */
	tparker_prepare_park(&p);
	struct timespec d = tparker_deadline_after(10000000);
	if (tparker_park_until(&p, &d))
		child_fail("park_until returned true with nobody to unpark");
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec < d.tv_sec || (now.tv_sec == d.tv_sec && now.tv_nsec < d.tv_nsec))
		child_fail("park_until returned before its deadline");
	if (!tparker_timed_out(&p))
		child_fail("timed_out() is false after a timeout nobody raced");
	tparker_destroy(&p);

	for (int i = 0; i < 2; i++)
		if (tparker_init(&sides[i].parker) != 0)
			child_fail("tparker_init failed (ping-pong)");
	pthread_t t;
	if (pthread_create(&t, NULL, pingpong_main, NULL) != 0)
		child_fail("pthread_create failed");
	pingpong_side(0);
	pthread_join(t, NULL);
	if (moves[0] != PINGPONG_ROUNDS || moves[1] != PINGPONG_ROUNDS)
		child_fail("the ping-pong lost rounds");
	for (int i = 0; i < 2; i++)
		tparker_destroy(&sides[i].parker);
	_exit(0);
}

int main(int argc, char **argv)
{
	tpt_start("fork", argc, argv);
	tpt_watchdog(20, "the fork test");

	for (int i = 0; i < PARKED_THREADS; i++) {
		if (tparker_init(&parked[i].parker) != 0)
			tpt_fail("tparker_init failed");
		fork_thread_start(&parked[i].thread, parked_main, &parked[i]);
	}
	while (atomic_load(&ready) < PARKED_THREADS)
		tpt_sleep_ns(1000000);
	/* Give them time to get into the kernel, where forking hurts most. */
	tpt_sleep_ns(50000000);

	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		tpt_fail("fork: %s", strerror(errno));
	if (pid == 0)
		child();

	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			tpt_fail("waitpid: %s", strerror(errno));
	if (WIFSIGNALED(status))
		tpt_fail("the child died of signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		tpt_fail("the child exited with status %d", WEXITSTATUS(status));

	for (int i = 0; i < PARKED_THREADS; i++) {
		if (atomic_load(&parked[i].woke))
			tpt_fail("thread %d woke before anyone unparked it", i);
		pthread_mutex_lock(&lock);
		parked[i].queued = false;
		tparker_unpark_handle_t h = tparker_unpark_lock(&parked[i].parker);
		pthread_mutex_unlock(&lock);
		tparker_unpark(h);
	}
	for (int i = 0; i < PARKED_THREADS; i++) {
		fork_thread_join(&parked[i].thread);
		if (!atomic_load(&parked[i].woke))
			tpt_fail("thread %d did not wake", i);
		tparker_destroy(&parked[i].parker);
	}
	printf("fork %s: child ran init, unpark-before-park, a 10 ms timeout and %d ping-pong "
	       "rounds while %d parent threads were parked; all %d woke\n",
	       tpt_backend, PINGPONG_ROUNDS, PARKED_THREADS, PARKED_THREADS);
	return 0;
}
