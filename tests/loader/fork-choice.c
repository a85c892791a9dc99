/* SPDX-License-Identifier: MIT */
/*
 * fork() while another thread is inside the load-time choice of the default
 * backend. The choice runs from libtparker's constructor; this program
 * starts a thread before any constructor (preinit_array) that forks as soon
 * as the forced plugin's probe, which takes 300 ms, has begun. The child must
 * find a usable library (init, a timed park that times out), not a once-guard
 * held forever by a thread that does not exist in it.
 *
 * Environment (set by meson): TPARKER_BACKEND names tparker-slowprobe.so,
 * TPTEST_PROBE_FD a free file descriptor number.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <tparker/tparker.h>

static int probe_pipe[2];
static pthread_t forker;
static const char *verdict = "the forking thread did not finish";

static int child(void)
{
	tparker_t p;
	if (tparker_init(&p) != 0)
		return 2;
	tparker_prepare_park(&p);
	struct timespec deadline = tparker_deadline_after(10000000);
	if (tparker_park_until(&p, &deadline) || !tparker_timed_out(&p))
		return 3;
	tparker_destroy(&p);
	return 0;
}

static void *fork_during_choice(void *arg)
{
	(void)arg;
	char c;
	if (read(probe_pipe[0], &c, 1) != 1) {
		verdict = "the probe never started";
		return NULL;
	}
	pid_t pid = fork();
	if (pid < 0) {
		verdict = "fork failed";
		return NULL;
	}
	if (pid == 0)
		_exit(child());
	/* 10 s for what takes milliseconds: a child still running then hangs. */
	for (int i = 0; i < 1000; i++) {
		int status;
		pid_t got = waitpid(pid, &status, WNOHANG);
		if (got == pid) {
			verdict = WIFEXITED(status) && WEXITSTATUS(status) == 0
				      ? NULL
				      : "the child failed (exit 2: init, 3: the timed park)";
			return NULL;
		}
		struct timespec tick = {0, 10000000};
		nanosleep(&tick, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	verdict = "the child hung (killed after 10 s)";
	return NULL;
}

/* libc sets up getenv() only after this runs: envp is the way. */
static void start_forker(int argc, char **argv, char **envp)
{
	(void)argc, (void)argv;
	/* The probe writes to the descriptor TPTEST_PROBE_FD names. */
	const char *fd = NULL;
	for (; *envp; envp++)
		if (strncmp(*envp, "TPTEST_PROBE_FD=", 16) == 0)
			fd = *envp + 16;
	if (!fd || pipe(probe_pipe) != 0 || dup2(probe_pipe[1], atoi(fd)) < 0)
		abort();
	if (pthread_create(&forker, NULL, fork_during_choice, NULL) != 0)
		abort();
}

/* Before every shared object's constructor, libtparker's included. */
__attribute__((section(".preinit_array"),
	       used)) static void (*const preinit)(int, char **, char **) = start_forker;

int main(void)
{
	pthread_join(forker, NULL);
	printf("default %s (%s)\n", tparker_backend_name(tparker_default_backend()),
	       tparker_default_reason());
	if (verdict) {
		fprintf(stderr, "FAIL: fork during the choice: %s\n", verdict);
		return 1;
	}
	puts("the child forked during the choice inits and parks");
	return 0;
}
