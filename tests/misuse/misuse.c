/* SPDX-License-Identifier: MIT */
/*
 * API misuse the library can detect: each case runs in a child process and
 * must end with SIGABRT and exactly one stderr line that names the call and
 * the mistake, or must return the documented error. Never a crash by
 * SIGSEGV, never silence.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tparker/tparker.h>

static int failures;

static void check(int ok, const char *what)
{
	printf("%s: %s\n", ok ? "ok" : "FAIL", what);
	if (!ok)
		failures++;
}

/* Run fn in a child with stderr captured; expect SIGABRT and one line
 * containing both phrases. */
static void expect_abort(const char *name, void (*fn)(void), const char *phrase1,
			 const char *phrase2)
{
	int pipefd[2];
	if (pipe(pipefd) != 0) {
		perror("pipe");
		exit(1);
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], STDERR_FILENO);
		close(pipefd[0]);
		fn();
		_exit(0); /* reaching here means the misuse went unnoticed */
	}
	close(pipefd[1]);
	char buf[4096];
	size_t len = 0;
	ssize_t n;
	while ((n = read(pipefd[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(pipefd[0]);
	int status;
	waitpid(pid, &status, 0);

	char what[sizeof(buf) + 512];
	int lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += buf[i] == '\n';
	snprintf(what, sizeof(what), "%s: aborts (status 0x%x)", name, status);
	check(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, what);
	snprintf(what, sizeof(what), "%s: one line naming '%s' and '%s' (got: %s)", name, phrase1,
		 phrase2, len ? buf : "nothing\n");
	what[strcspn(what, "\n")] = '\0';
	check(lines == 1 && strstr(buf, phrase1) && strstr(buf, phrase2), what);
}

static void park_after_destroy(void)
{
	tparker_t p;
	tparker_init(&p);
	tparker_destroy(&p);
	tparker_prepare_park(&p);
}

static void unpark_after_destroy(void)
{
	tparker_t p;
	tparker_init(&p);
	tparker_destroy(&p);
	tparker_unpark(tparker_unpark_lock(&p));
}

static void destroy_twice(void)
{
	tparker_t p;
	tparker_init(&p);
	tparker_destroy(&p);
	tparker_destroy(&p);
}

static void park_uninitialised(void)
{
	tparker_t p;
	memset(&p, 0, sizeof(p));
	tparker_park(&p);
}

static void park_until_null_parker(void)
{
	struct timespec d = {0, 0};
	tparker_park_until(NULL, &d);
}

int main(void)
{
	expect_abort("prepare_park after destroy", park_after_destroy, "tparker",
		     "used after tparker_destroy()");
	expect_abort("unpark_lock after destroy", unpark_after_destroy, "tparker",
		     "used after tparker_destroy()");
	expect_abort("destroy twice", destroy_twice, "tparker_destroy", "destroyed twice");
	expect_abort("park on a zeroed parker", park_uninitialised, "tparker_park",
		     "not initialised");
	expect_abort("park_until(NULL)", park_until_null_parker, "tparker_park_until",
		     "NULL parker");

	tparker_t p;
	check(tparker_init_with(&p, NULL) == EINVAL, "init_with(NULL backend) is EINVAL");
	check(tparker_init_with(NULL, tparker_default_backend()) == EINVAL,
	      "init_with(NULL parker) is EINVAL");
	check(tparker_init(NULL) == EINVAL, "init(NULL) is EINVAL");
	static const char not_a_backend[256];
	check(tparker_init_with(&p, (const tparker_backend_t *)(const void *)not_a_backend) ==
		      EINVAL,
	      "init_with(a pointer the library never handed out) is EINVAL");
	const tparker_backend_t *out = NULL;
	check(tparker_backend_open(NULL, &out) == EINVAL && out == NULL,
	      "backend_open(NULL path) is EINVAL");
	check(tparker_backend_open("/nonexistent/tparker-x.so", NULL) == EINVAL &&
		      strstr(tparker_backend_error(), "out is NULL"),
	      "backend_open(out NULL) is EINVAL with a reason");
	check(strcmp(tparker_backend_name(NULL), "(null)") == 0, "backend_name(NULL)");

	/* A NULL deadline is no deadline: returns true once unparked. */
	tparker_init(&p);
	tparker_prepare_park(&p);
	tparker_unpark(tparker_unpark_lock(&p));
	check(tparker_park_until(&p, NULL), "park_until(p, NULL) waits like park");
	tparker_destroy(&p);

	printf("%d failure(s)\n", failures);
	return failures ? 1 : 0;
}
