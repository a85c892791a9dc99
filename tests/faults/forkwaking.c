/* SPDX-License-Identifier: MIT */
/*
 * fork() while other threads are in the middle of the protocol. The promise:
 * after fork() the child may use libtparker fully (init new parkers, park,
 * park_until, unpark, destroy) whatever the parent's other threads were
 * doing. Three scenarios, each forking with its threads stopped where it
 * says:
 *
 *   between  a waker between tparker_unpark_lock and tparker_unpark on the
 *            forking thread's own parker (popped after a timeout), and
 *            another on a thread's parker popped while it slept;
 *   parked   threads asleep in park;
 *   busy     two threads unparking each other as fast as they can, so that
 *            forks land inside park and unpark (FORKS_BUSY forks).
 *
 * The child, where those threads do not exist: finishes the protocol on the
 * forking thread's own parker (timed_out under the queue lock, then a fresh
 * round), inits parkers at the very addresses the parent's threads used
 * (whatever state a backend keeps per address, these meet it) and a new
 * one, times out on each, runs a ping-pong with a new thread, destroys them
 * and exits 0. The parent gives each child 10 s, then kills it and reports
 * the child hung, naming the step it was on; afterwards the parent's own
 * threads must finish their rounds as if nothing had happened.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "tparker/tparker.h"

#include "forkthread.h"
#include "harness.h"

#define CHILD_TIMEOUT_S 10
#define PINGPONG_ROUNDS 500
#define FORKS_BUSY	12

static void init_or_fail(tparker_t *p)
{
	int err = tparker_init(p);
	if (err)
		tpt_fail("tparker_init: %s", strerror(err));
}

/*
 * Queue locks. A fork can catch a parent thread holding one of its own
 * locks (an owner that a waker released takes its queue lock again to look
 * at its state), and the child must not depend on that: the child takes
 * only mine_q, which only the forking thread and the waker that stops
 * between the phases use (both outside it at the fork), and child_q.
 */
static pthread_mutex_t q = PTHREAD_MUTEX_INITIALIZER;	    /* the parent's owners */
static pthread_mutex_t mine_q = PTHREAD_MUTEX_INITIALIZER;  /* the forking thread's */
static pthread_mutex_t child_q = PTHREAD_MUTEX_INITIALIZER; /* the child's own */

/* ---- the child -------------------------------------------------------------- */

/* The step the child is on, in memory the parent sees. */
static _Atomic(const char *) *child_step;
static const char *scenario = "?";

static void step(const char *what)
{
	atomic_store(child_step, what);
}

static _Noreturn void child_fail(const char *what)
{
	fprintf(stderr, "FAIL %s %s (child, %s): %s\n", tpt_name, tpt_backend, scenario, what);
	fflush(stderr);
	_exit(1);
}

static bool before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* A real timeout on p: false, never early, and timed_out says so. */
static void child_timeout(tparker_t *p, const char *what)
{
	step(what);
	tparker_prepare_park(p);
	struct timespec d = tparker_deadline_after(5000000);
	if (tparker_park_until(p, &d))
		child_fail("park_until returned true with nobody to unpark");
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (before(&now, &d))
		child_fail("park_until returned before its deadline");
	pthread_mutex_lock(&child_q);
	bool to = tparker_timed_out(p);
	pthread_mutex_unlock(&child_q);
	if (!to)
		child_fail("timed_out() is false after a timeout nobody raced");
}

struct side {
	tparker_t *parker;
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
			tparker_prepare_park(sides[me].parker);
			pthread_mutex_lock(&pp_lock);
			if (turn == me) {
				pthread_mutex_unlock(&pp_lock);
				break;
			}
			sides[me].waiting = true;
			pthread_mutex_unlock(&pp_lock);
			tparker_park(sides[me].parker);
		}
		moves[me]++;
		tparker_unpark_handle_t h = {0};
		pthread_mutex_lock(&pp_lock);
		turn = other;
		if (sides[other].waiting) {
			sides[other].waiting = false;
			h = tparker_unpark_lock(sides[other].parker);
		}
		pthread_mutex_unlock(&pp_lock);
		tparker_unpark(h);
	}
}

static void *pingpong_main(void *arg)
{
	(void)arg;
	pingpong_side(1);
	return NULL;
}

/*
 * mine: the forking thread's own parker, with a protocol round left open
 * (NULL: none); at: parkers of the parent's other threads, which the child
 * re-initialises in place (exactly two, the ping-pong's sides).
 */
static _Noreturn void child(tparker_t *mine, bool mine_popped, tparker_t *at[2])
{
	if (strcmp(tparker_backend_name(tparker_default_backend()), tpt_backend) != 0)
		child_fail("the default backend changed in the child");

	if (mine) {
		/* The round the parent's waker was finishing: it popped us. */
		step("timed_out on the parker a vanished waker had popped");
		pthread_mutex_lock(&mine_q);
		bool to = tparker_timed_out(mine);
		pthread_mutex_unlock(&mine_q);
		if (to == mine_popped)
			child_fail(mine_popped
				       ? "timed_out() is true though a waker popped the parker"
				       : "timed_out() is false though nobody popped the "
					 "parker");
		step("a fresh round on that parker");
		tparker_prepare_park(mine);
		tparker_unpark(tparker_unpark_lock(mine));
		tparker_park(mine);
		child_timeout(mine, "a timeout on that parker");
	}

	step("a new parker");
	tparker_t fresh;
	if (tparker_init(&fresh) != 0)
		child_fail("tparker_init failed");
	tparker_prepare_park(&fresh);
	tparker_unpark(tparker_unpark_lock(&fresh));
	tparker_park(&fresh);
	child_timeout(&fresh, "a timeout on a new parker");
	tparker_destroy(&fresh);

	for (int i = 0; i < 2; i++) {
		step("tparker_init where a parent thread's parker was");
		if (tparker_init(at[i]) != 0)
			child_fail("tparker_init failed");
		child_timeout(at[i], "a timeout where a parent thread's parker was");
	}
	step("a ping-pong with a new thread, on those parkers");
	for (int i = 0; i < 2; i++)
		sides[i].parker = at[i];
	pthread_t t;
	if (pthread_create(&t, NULL, pingpong_main, NULL) != 0)
		child_fail("pthread_create failed");
	pingpong_side(0);
	pthread_join(t, NULL);
	if (moves[0] != PINGPONG_ROUNDS || moves[1] != PINGPONG_ROUNDS)
		child_fail("the ping-pong lost rounds");
	step("tparker_destroy");
	for (int i = 0; i < 2; i++)
		tparker_destroy(at[i]);
	_exit(0);
}

/* Fork, run child() there, and wait for it for CHILD_TIMEOUT_S at most. */
static void fork_and_check(const char *what, tparker_t *mine, bool mine_popped, tparker_t *at[2])
{
	atomic_store(child_step, "starting");
	scenario = what;
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		tpt_fail("fork: %s", strerror(errno));
	if (pid == 0)
		child(mine, mine_popped, at);

	uint64_t limit = tpt_now_ns() + (uint64_t)CHILD_TIMEOUT_S * tpt_slowdown() * 1000000000u;
	int status;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			tpt_fail("waitpid: %s", strerror(errno));
		if (tpt_now_ns() > limit) {
			const char *at_step = atomic_load(child_step);
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			tpt_fail("child hung (%s): killed after %u s at the step \"%s\"", what,
				 CHILD_TIMEOUT_S * tpt_slowdown(), at_step);
		}
		tpt_sleep_ns(1000000);
	}
	if (WIFSIGNALED(status))
		tpt_fail("the child (%s) died of signal %d (%s)", what, WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		tpt_fail("the child (%s) exited with status %d", what, WEXITSTATUS(status));
}

/* ---- parked owners ------------------------------------------------------------ */

struct owner {
	tparker_t parker;
	struct fork_thread thread;
	bool queued;	       /* under q */
	atomic_bool published; /* queued, about to park */
	atomic_bool woke;
};

static void *owner_main(void *arg)
{
	struct owner *o = arg;
	tparker_prepare_park(&o->parker);
	pthread_mutex_lock(&q);
	o->queued = true;
	pthread_mutex_unlock(&q);
	atomic_store(&o->published, true);
	tparker_park(&o->parker);
	pthread_mutex_lock(&q);
	bool still_queued = o->queued;
	pthread_mutex_unlock(&q);
	if (still_queued)
		tpt_fail("a parked thread returned from park without an unpark");
	atomic_store(&o->woke, true);
	return NULL;
}

static void owner_start(struct owner *o)
{
	init_or_fail(&o->parker);
	atomic_init(&o->published, false);
	atomic_init(&o->woke, false);
	fork_thread_start(&o->thread, owner_main, o);
	while (!atomic_load(&o->published))
		tpt_sleep_ns(1000000);
}

/* Let a published owner get into its sleep (no way to know; plenty). */
static void let_fall_asleep(void)
{
	tpt_sleep_ns(30000000);
}

static void owner_wake(struct owner *o)
{
	if (atomic_load(&o->woke))
		tpt_fail("a parked thread woke before anyone unparked it");
	pthread_mutex_lock(&q);
	o->queued = false;
	tparker_unpark_handle_t h = tparker_unpark_lock(&o->parker);
	pthread_mutex_unlock(&q);
	tparker_unpark(h);
}

static void owner_finish(struct owner *o)
{
	fork_thread_join(&o->thread);
	if (!atomic_load(&o->woke))
		tpt_fail("a parked thread did not wake");
	tparker_destroy(&o->parker);
}

/* ---- wakers stopped between the phases ---------------------------------------- */

struct waker {
	tparker_t *target;
	pthread_mutex_t *lock; /* the target's queue lock */
	struct fork_thread thread;
	sem_t popped, go;
};

static void *waker_main(void *arg)
{
	struct waker *w = arg;
	pthread_mutex_lock(w->lock);
	tparker_unpark_handle_t h = tparker_unpark_lock(w->target);
	pthread_mutex_unlock(w->lock);
	sem_post(&w->popped);
	while (sem_wait(&w->go) != 0) /* the fork happens here */
		;
	tparker_unpark(h);
	return NULL;
}

static void waker_start(struct waker *w, tparker_t *target, pthread_mutex_t *lock)
{
	w->target = target;
	w->lock = lock;
	sem_init(&w->popped, 0, 0);
	sem_init(&w->go, 0, 0);
	fork_thread_start(&w->thread, waker_main, w);
	while (sem_wait(&w->popped) != 0)
		;
}

static void waker_finish(struct waker *w)
{
	sem_post(&w->go);
	fork_thread_join(&w->thread);
	sem_destroy(&w->popped);
	sem_destroy(&w->go);
}

static void scenario_between(void)
{
	static tparker_t mine;
	static struct owner sleeper, idle;
	static struct waker w_mine, w_sleeper;

	/* The forking thread's own round: published, timed out, then popped
	 * by a waker that stops before unpark. */
	init_or_fail(&mine);
	tparker_prepare_park(&mine);
	struct timespec d = tparker_deadline_after(5000000);
	if (tparker_park_until(&mine, &d))
		tpt_fail("park_until returned true with nobody to unpark");
	waker_start(&w_mine, &mine, &mine_q);

	/* A thread asleep in park, popped by a waker that stops before
	 * unpark; and one asleep that nobody pops. */
	owner_start(&sleeper);
	owner_start(&idle);
	let_fall_asleep();
	pthread_mutex_lock(&q);
	sleeper.queued = false;
	pthread_mutex_unlock(&q);
	waker_start(&w_sleeper, &sleeper.parker, &q);

	tparker_t *at[2] = {&sleeper.parker, &idle.parker};
	fork_and_check("between", &mine, true, at);

	/* The parent carries on: each round completes. */
	waker_finish(&w_mine);
	waker_finish(&w_sleeper);
	owner_finish(&sleeper);
	pthread_mutex_lock(&mine_q);
	bool to = tparker_timed_out(&mine);
	pthread_mutex_unlock(&mine_q);
	if (to)
		tpt_fail("timed_out() is true though a waker popped the parker");
	owner_wake(&idle);
	owner_finish(&idle);
	tparker_destroy(&mine);
}

static void scenario_parked(void)
{
	static struct owner o[2];

	for (int i = 0; i < 2; i++)
		owner_start(&o[i]);
	let_fall_asleep();
	tparker_t *at[2] = {&o[0].parker, &o[1].parker};
	fork_and_check("parked", NULL, false, at);
	for (int i = 0; i < 2; i++)
		owner_wake(&o[i]);
	for (int i = 0; i < 2; i++)
		owner_finish(&o[i]);
}

/* ---- two threads unparking each other ------------------------------------------ */

/* Their own lock, not q: a fork may catch one of them holding it, and the
 * child, which uses q, must not depend on that. */
static struct {
	pthread_mutex_t lock;
	tparker_t parker[2];
	bool waiting[2]; /* under lock */
	int turn;	 /* under lock */
	bool stop;	 /* under lock */
	atomic_ulong moves;
	struct fork_thread thread[2];
} busy = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void *busy_main(void *arg)
{
	int me = (int)(intptr_t)arg, other = 1 - me;
	for (;;) {
		for (;;) {
			tparker_prepare_park(&busy.parker[me]);
			pthread_mutex_lock(&busy.lock);
			if (busy.stop || busy.turn == me) {
				pthread_mutex_unlock(&busy.lock);
				break;
			}
			busy.waiting[me] = true;
			pthread_mutex_unlock(&busy.lock);
			tparker_park(&busy.parker[me]);
		}
		tparker_unpark_handle_t h = {0};
		pthread_mutex_lock(&busy.lock);
		bool stop = busy.stop;
		if (!stop) {
			busy.turn = other;
			if (busy.waiting[other]) {
				busy.waiting[other] = false;
				h = tparker_unpark_lock(&busy.parker[other]);
			}
		}
		pthread_mutex_unlock(&busy.lock);
		if (stop)
			break;
		tparker_unpark(h);
		atomic_fetch_add(&busy.moves, 1);
	}
	return NULL;
}

static void scenario_busy(void)
{
	unsigned forks = FORKS_BUSY / (tpt_under_valgrind() ? 4 : 1);
	uint64_t rng = 0x9E3779B97F4A7C15u;

	for (int i = 0; i < 2; i++) {
		init_or_fail(&busy.parker[i]);
		fork_thread_start(&busy.thread[i], busy_main, (void *)(intptr_t)i);
	}
	for (unsigned f = 0; f < forks; f++) {
		/* At varied points of the exchange. */
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		tpt_sleep_ns(rng % 3000000);
		tparker_t *at[2] = {&busy.parker[0], &busy.parker[1]};
		fork_and_check("busy", NULL, false, at);
	}
	tparker_unpark_handle_t h[2] = {{0}, {0}};
	pthread_mutex_lock(&busy.lock);
	busy.stop = true;
	for (int i = 0; i < 2; i++)
		if (busy.waiting[i]) {
			busy.waiting[i] = false;
			h[i] = tparker_unpark_lock(&busy.parker[i]);
		}
	pthread_mutex_unlock(&busy.lock);
	for (int i = 0; i < 2; i++)
		tparker_unpark(h[i]);
	for (int i = 0; i < 2; i++) {
		fork_thread_join(&busy.thread[i]);
		tparker_destroy(&busy.parker[i]);
	}
	printf("fork-waking %s: busy: %u forks during %lu moves\n", tpt_backend, forks,
	       atomic_load(&busy.moves));
}

int main(int argc, char **argv)
{
	tpt_start("fork-waking", argc, argv);
	tpt_watchdog(60, "the fork-waking test");
	child_step = mmap(NULL, sizeof(*child_step), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (child_step == MAP_FAILED)
		tpt_fail("mmap: %s", strerror(errno));

	scenario_between();
	scenario_parked();
	scenario_busy();
	printf("fork-waking %s: the children used the library fully after forks between "
	       "unpark_lock and unpark, while threads were parked, and while two threads "
	       "unparked each other\n",
	       tpt_backend);
	return 0;
}
