/* SPDX-License-Identifier: MIT */
/*
 * The paths documented to make no system call make none, proved with
 * seccomp's strict mode: a thread in it may only read, write, _exit and
 * sigreturn, and any other system call kills it with SIGKILL (the thread,
 * on this kernel; the whole process on others). So each check runs in a
 * forked child: its main thread sees whether the strict thread got to its
 * own exit, and the parent reads the child's exit status.
 *
 * In the child, a fresh thread (its first park ever) enters strict mode and
 * runs, on a parker the child's main thread initialised:
 *   - 10 000 prepare_park + park_until with deadlines already past (zero,
 *     just past, a negative tv_sec, a tv_nsec out of range): each returns
 *     false at once, and timed_out says so;
 *   - prepare_park, unpark_lock + unpark, then park, and again with
 *     park_until: the unpark that lands before the park, the fast path.
 * It writes the name of each step into a pipe before taking it (write is
 * allowed), so a kill names the step, and leaves with the thread-exit
 * system call; the child's main thread waits for it to be gone.
 *
 * Built with the header's inline paths and with TPARKER_NO_INLINE (every
 * call into the library). clock_gettime(CLOCK_MONOTONIC) must be a vDSO
 * call for any of this to hold: the program checks that first and skips
 * when it is not.
 *
 * Usage: strict <backend>; exit 0 pass, 1 fail, 77 skip.
 */
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "tparker/tparker.h"

#include "../faults/harness.h"

#define PAST_ROUNDS 10000
/* The child's status when its strict thread was killed. */
#define CHILD_KILLED 3

static int progress_fd = -1;
static tparker_t parker;
static const char *failed;    /* by the strict thread; read once it has finished */
static atomic_bool finished;  /* the strict thread reached its own exit */
static atomic_int strict_tid; /* its thread id, once known */

static void step(const char *name)
{
	/* A fixed-size record, so that the parent can find the last one. */
	char rec[64] = {0};
	strncpy(rec, name, sizeof(rec) - 1);
	if (write(progress_fd, rec, sizeof(rec)) != (ssize_t)sizeof(rec))
		failed = "write to the progress pipe";
}

static void enter_strict(void)
{
	atomic_store(&strict_tid, (int)gettid());
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0) != 0) {
		static const char m[] = "prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) failed\n";
		ssize_t r = write(STDERR_FILENO, m, sizeof(m) - 1);
		(void)r;
		_exit(TPT_SKIP);
	}
}

/* Only the thread-exit system call is allowed: not exit_group. Nothing
 * here may look like it never returns: AddressSanitizer checks the signal
 * stack (a system call) before every call of such a function. */
static void leave_thread(void)
{
	atomic_store_explicit(&finished, true, memory_order_release);
	syscall(SYS_exit, 0);
}

static void *clock_main(void *arg)
{
	(void)arg;
	enter_strict();
	step("clock_gettime(CLOCK_MONOTONIC)");
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	step("done");
	leave_thread();
	return NULL;
}

static void *strict_main(void *arg)
{
	const struct timespec *past = arg;
	struct timespec future = tparker_deadline_after(60000000000u);

	enter_strict();
	step("past-deadline park_until");
	for (int i = 0; i < PAST_ROUNDS && !failed; i++) {
		tparker_prepare_park(&parker);
		if (tparker_park_until(&parker, &past[i % 4]))
			failed = "a past-deadline park_until returned true";
		else if (!tparker_timed_out(&parker))
			failed = "timed_out is false after a timeout with no unparker";
	}
	step("prepare_park, unpark_lock + unpark, park");
	tparker_prepare_park(&parker);
	tparker_unpark(tparker_unpark_lock(&parker));
	tparker_park(&parker);
	step("prepare_park, unpark_lock + unpark, park_until");
	tparker_prepare_park(&parker);
	tparker_unpark(tparker_unpark_lock(&parker));
	if (!tparker_park_until(&parker, &future))
		failed = "park_until returned false after an unpark";
	step("done");
	leave_thread();
	return NULL;
}

/* In a child: run fn in a fresh thread, on a fresh parker; exit 0, or 1
 * when it failed. */
static _Noreturn void child(void *(*fn)(void *), int fd)
{
	/* Already past when used; the last two are clamped to long past. */
	static struct timespec past[4] = {{0, 0}, {0, 0}, {-1, 500}, {0, 2000000000L}};
	pthread_t t;

	progress_fd = fd;
	past[1] = tparker_deadline_after(0);
	if (tparker_init(&parker) != 0) {
		fprintf(stderr, "tparker_init failed\n");
		_exit(1);
	}
	if (pthread_create(&t, NULL, fn, past) != 0) {
		fprintf(stderr, "pthread_create failed\n");
		_exit(1);
	}
	/* Not pthread_join: the thread leaves by the bare system call, which
	 * a sanitizer's join would wait on forever. The kernel removes the
	 * thread's /proc entry once it is gone, killed or not. */
	char task[64];
	while (atomic_load(&strict_tid) == 0)
		tpt_sleep_ns(100000);
	snprintf(task, sizeof(task), "/proc/self/task/%d", atomic_load(&strict_tid));
	while (access(task, F_OK) == 0)
		tpt_sleep_ns(100000);
	if (!atomic_load_explicit(&finished, memory_order_acquire))
		_exit(CHILD_KILLED);
	if (failed) {
		fprintf(stderr, "%s\n", failed);
		_exit(1);
	}
	_exit(0);
}

enum outcome { PASSED, KILLED, SKIPPED, FAILED };

/* Run fn in a child; *last: the last step it started. */
static enum outcome run(void *(*fn)(void *), char *last, size_t last_len)
{
	int fds[2];
	if (pipe(fds) != 0)
		tpt_fail("pipe: %s", strerror(errno));
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		tpt_fail("fork: %s", strerror(errno));
	if (pid == 0) {
		close(fds[0]);
		child(fn, fds[1]);
	}
	close(fds[1]);
	char rec[64];
	snprintf(last, last_len, "(none: before the thread started)");
	uint64_t limit = tpt_now_ns() + 20000000000u * tpt_slowdown();
	for (;;) {
		size_t got = 0;
		while (got < sizeof(rec)) {
			struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
			if (poll(&pfd, 1, 100) == 0) {
				if (tpt_now_ns() < limit)
					continue;
				kill(pid, SIGKILL);
				waitpid(pid, NULL, 0);
				tpt_fail("the child hung during \"%s\"", last);
			}
			ssize_t n = read(fds[0], rec + got, sizeof(rec) - got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		if (got < sizeof(rec))
			break;
		rec[sizeof(rec) - 1] = '\0';
		snprintf(last, last_len, "%s", rec);
	}
	close(fds[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			tpt_fail("waitpid: %s", strerror(errno));
	if ((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ||
	    (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_KILLED))
		return KILLED;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return PASSED;
	if (WIFEXITED(status) && WEXITSTATUS(status) == TPT_SKIP)
		return SKIPPED;
	fprintf(stderr, "child ended with status 0x%x\n", (unsigned)status);
	return FAILED;
}

int main(int argc, char **argv)
{
	char last[64];

	tpt_start("syscalls", argc, argv);
	if (tpt_under_valgrind()) {
		/* Its own system calls, made for the program, would be the
		 * ones strict mode kills (and it then hangs). */
		printf("SKIP syscalls %s: not under valgrind\n", tpt_backend);
		return TPT_SKIP;
	}
	tpt_watchdog(60, "the strict-mode children");

	switch (run(clock_main, last, sizeof(last))) {
	case PASSED:
		break;
	case KILLED:
		if (strcmp(last, "done") == 0)
			printf("SKIP syscalls %s: this program's runtime makes system calls of its "
			       "own in a thread that leaves (a sanitizer?)\n",
			       tpt_backend);
		else
			printf("SKIP syscalls %s: clock_gettime(CLOCK_MONOTONIC) is a system call "
			       "here (no vDSO clock), so no park_until can avoid one\n",
			       tpt_backend);
		return TPT_SKIP;
	case SKIPPED:
		printf("SKIP syscalls %s: seccomp strict mode is not available\n", tpt_backend);
		return TPT_SKIP;
	case FAILED:
		tpt_fail("the clock check failed");
	}

	switch (run(strict_main, last, sizeof(last))) {
	case PASSED:
		printf("%d past-deadline park_until calls and two unparks before park on a "
		       "fresh thread: no system call\n",
		       PAST_ROUNDS);
		return 0;
	case KILLED:
		tpt_fail("killed by seccomp strict mode: a system call during \"%s\"", last);
	case SKIPPED:
		printf("SKIP syscalls %s: seccomp strict mode is not available\n", tpt_backend);
		return TPT_SKIP;
	case FAILED:
		tpt_fail("the strict-mode thread failed during \"%s\"", last);
	}
	return 1;
}
