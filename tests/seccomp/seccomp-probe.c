/* SPDX-License-Identifier: MIT */
/*
 * Under a seccomp filter that makes every futex system call fail with
 * ENOSYS, the futex plugins must say so through their probes, the default
 * must avoid them, and a forced "futex,spin" list must fall back to spin.
 *
 * Each case runs in a child that installs the filter and only then
 * dlopen()s libtparker, so that the library's load-time choice already
 * sees the filter. glibc itself uses futex whenever a lock is contended or
 * a thread is joined, so the child stays single-threaded except for the
 * ping-pong, which locks with a spinlock and never joins.
 *
 * Usage: test-seccomp-probe <path of libtparker.so> [built futex plugins...]
 */
#include <CUnit/Basic.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tparker/tparker.h"

#define EXIT_SKIP	   77
#define CHILD_SETUP_FAILED 3
#define CHILD_TIMEOUT_S	   20
#define PING_PONG_ROUNDS   10000

/* Fallback numbers when libseccomp predates the futex2 calls: the unified
 * table puts futex_wake/wait/requeue 5, 6 and 7 after futex_waitv. */
#ifdef __NR_futex_waitv
#define TEST_NR_FUTEX_WAITV __NR_futex_waitv
#else
#define TEST_NR_FUTEX_WAITV 449
#endif

static const char *libtparker_path;
static const char *const *built_plugins;
static int n_built_plugins;

/* The libtparker calls the children need, looked up with dlsym. */
struct tparker_api {
	const tparker_backend_t *(*backend_get)(const char *name);
	const char *(*backend_error)(void);
	const tparker_backend_t *(*default_backend)(void);
	const char *(*default_reason)(void);
	const char *(*backend_name)(const tparker_backend_t *b);
	int (*init)(tparker_t *p);
	void (*prepare_park)(tparker_t *p);
	void (*park)(tparker_t *p);
	tparker_unpark_handle_t (*unpark_lock)(tparker_t *p);
	void (*unpark)(tparker_unpark_handle_t h);
};
static struct tparker_api api;

static int install_futex_filter(void)
{
	static const struct {
		const char *name;
		int fallback;
	} calls[] = {
	    {"futex", -1},
	    {"futex_time64", -1},
	    {"futex_waitv", TEST_NR_FUTEX_WAITV},
	    {"futex_wake", TEST_NR_FUTEX_WAITV + 5},
	    {"futex_wait", TEST_NR_FUTEX_WAITV + 6},
	    {"futex_requeue", TEST_NR_FUTEX_WAITV + 7},
	};
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int rc = -ENOMEM;

	if (!ctx)
		return rc;
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		int nr = seccomp_syscall_resolve_name(calls[i].name);
		if (nr == __NR_SCMP_ERROR)
			nr = calls[i].fallback;
		if (nr == __NR_SCMP_ERROR || nr == -1)
			continue;
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
		if (rc < 0) {
			fprintf(stderr, "seccomp_rule_add(%s): %s\n", calls[i].name, strerror(-rc));
			goto out;
		}
	}
	rc = seccomp_load(ctx);
out:
	seccomp_release(ctx);
	return rc;
}

static int load_api(void)
{
	static const struct {
		const char *name;
		size_t offset;
	} syms[] = {
	    {"tparker_backend_get", offsetof(struct tparker_api, backend_get)},
	    {"tparker_backend_error", offsetof(struct tparker_api, backend_error)},
	    {"tparker_default_backend", offsetof(struct tparker_api, default_backend)},
	    {"tparker_default_reason", offsetof(struct tparker_api, default_reason)},
	    {"tparker_backend_name", offsetof(struct tparker_api, backend_name)},
	    {"tparker_init", offsetof(struct tparker_api, init)},
	    {"tparker_prepare_park", offsetof(struct tparker_api, prepare_park)},
	    {"tparker_park", offsetof(struct tparker_api, park)},
	    {"tparker_unpark_lock", offsetof(struct tparker_api, unpark_lock)},
	    {"tparker_unpark", offsetof(struct tparker_api, unpark)},
	};
	void *lib = dlopen(libtparker_path, RTLD_NOW | RTLD_LOCAL);

	if (!lib) {
		fprintf(stderr, "dlopen(%s): %s\n", libtparker_path, dlerror());
		return -1;
	}
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *sym = dlsym(lib, syms[i].name);
		if (!sym) {
			fprintf(stderr, "dlsym(%s): %s\n", syms[i].name, dlerror());
			return -1;
		}
		/* Every member is a function pointer of the same size as void *
		 * (POSIX requires it for dlsym). */
		memcpy((char *)&api + syms[i].offset, &sym, sizeof(sym));
	}
	return 0;
}

/* Fork; in the child: set TPARKER_BACKEND (NULL: unset), install the
 * filter, load libtparker, run body and exit with its result. Returns the
 * child's exit code, or -1 when it did not exit normally. */
static int run_child(int (*body)(void), const char *forced)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return -1;
	}
	if (pid == 0) {
		alarm(CHILD_TIMEOUT_S);
		if (forced)
			setenv("TPARKER_BACKEND", forced, 1);
		else
			unsetenv("TPARKER_BACKEND");
		int rc = install_futex_filter();
		if (rc < 0) {
			fprintf(stderr, "seccomp filter: %s\n", strerror(-rc));
			_exit(EXIT_SKIP);
		}
		if (!body)
			_exit(0);
		if (load_api() != 0)
			_exit(CHILD_SETUP_FAILED);
		rc = body();
		fflush(NULL);
		_exit(rc);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			perror("waitpid");
			return -1;
		}
	}
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "child killed by signal %d (%s)\n", WTERMSIG(status),
			strsignal(WTERMSIG(status)));
		return -1;
	}
	return WEXITSTATUS(status);
}

/* Child-side check: print what failed, count it. */
static int child_failures;
#define CHILD_CHECK(cond, ...)                                                                     \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);   \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			child_failures++;                                                          \
		}                                                                                  \
	} while (0)

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int body_probes_fail(void)
{
	for (int i = 0; i < n_built_plugins; i++) {
		const char *name = built_plugins[i];
		const tparker_backend_t *b = api.backend_get(name);
		const char *why = api.backend_error();
		CHILD_CHECK(b == NULL, "tparker_backend_get(\"%s\") succeeded under the filter",
			    name);
		CHILD_CHECK(strstr(why, "probe failed") != NULL, "%s: reason \"%s\"", name, why);
		CHILD_CHECK(strstr(why, "ENOSYS") != NULL, "%s: reason \"%s\"", name, why);
	}
	return child_failures ? 1 : 0;
}

static int body_default_avoids_futex(void)
{
	const char *name = api.backend_name(api.default_backend());
	const char *reason = api.default_reason();

	CHILD_CHECK(strcmp(name, "futex") != 0 && strcmp(name, "futex2") != 0,
		    "default backend is %s (%s)", name, reason);
	CHILD_CHECK(starts_with(reason, "highest priority usable plugin") ||
			starts_with(reason, "last resort"),
		    "default reason \"%s\"", reason);
	return child_failures ? 1 : 0;
}

/* Ping-pong under a spinlock-protected "queue": the turn passes back and
 * forth, and whoever finds it is not its turn parks until handed it. */
static tparker_t pp_parkers[2];
static atomic_flag pp_lock = ATOMIC_FLAG_INIT;
static int pp_turn;	   /* under pp_lock */
static bool pp_waiting[2]; /* under pp_lock */
static atomic_int pp_errors;
static atomic_bool pp_partner_done;

static void pp_acquire(void)
{
	while (atomic_flag_test_and_set_explicit(&pp_lock, memory_order_acquire))
		sched_yield();
}

static void pp_release(void)
{
	atomic_flag_clear_explicit(&pp_lock, memory_order_release);
}

static void pp_play(int me)
{
	int other = 1 - me;

	for (int i = 0; i < PING_PONG_ROUNDS; i++) {
		api.prepare_park(&pp_parkers[me]);
		pp_acquire();
		bool sleep = pp_turn != me;
		pp_waiting[me] = sleep;
		pp_release();
		if (sleep)
			api.park(&pp_parkers[me]);

		pp_acquire();
		if (pp_turn != me)
			atomic_fetch_add(&pp_errors, 1);
		pp_turn = other;
		bool wake = pp_waiting[other];
		pp_waiting[other] = false;
		tparker_unpark_handle_t h = {0};
		if (wake)
			h = api.unpark_lock(&pp_parkers[other]);
		pp_release();
		if (wake)
			api.unpark(h);
	}
}

static void *pp_partner(void *arg)
{
	(void)arg;
	pp_play(1);
	atomic_store(&pp_partner_done, true);
	/* Returning would run glibc's thread exit, which may take locks and
	 * so call futex; _exit() in the main thread ends this one. */
	for (;;)
		pause();
	return NULL;
}

static int body_forced_falls_back_to_spin(void)
{
	const char *name = api.backend_name(api.default_backend());
	const char *reason = api.default_reason();

	CHILD_CHECK(strcmp(name, "spin") == 0, "default backend is %s (%s)", name, reason);
	CHILD_CHECK(starts_with(reason, "forced by TPARKER_BACKEND"), "default reason \"%s\"",
		    reason);
	if (child_failures)
		return 1;

	for (int i = 0; i < 2; i++) {
		int err = api.init(&pp_parkers[i]);
		CHILD_CHECK(err == 0, "tparker_init: %s", strerror(err));
	}
	if (child_failures)
		return 1;

	pthread_t partner;
	int err = pthread_create(&partner, NULL, pp_partner, NULL);
	CHILD_CHECK(err == 0, "pthread_create: %s", strerror(err));
	if (err)
		return 1;
	pp_play(0);
	/* No pthread_join: it waits on a futex. */
	while (!atomic_load(&pp_partner_done))
		sched_yield();
	CHILD_CHECK(atomic_load(&pp_errors) == 0, "%d handoffs found the turn wrong",
		    atomic_load(&pp_errors));
	return child_failures ? 1 : 0;
}

static void expect_child_ok(int (*body)(void), const char *forced)
{
	int rc = run_child(body, forced);

	if (rc != 0)
		fprintf(stderr, "child exited with %d\n", rc);
	CU_ASSERT_EQUAL(rc, 0);
}

static void test_probes_report_enosys(void)
{
	if (n_built_plugins == 0) {
		fprintf(stderr, "no futex plugin built: nothing to probe\n");
		return;
	}
	expect_child_ok(body_probes_fail, NULL);
}

static void test_default_avoids_futex(void)
{
	expect_child_ok(body_default_avoids_futex, NULL);
}

static void test_forced_list_falls_back_to_spin(void)
{
	expect_child_ok(body_forced_falls_back_to_spin, "futex,spin");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s LIBTPARKER_PATH [PLUGIN...]\n", argv[0]);
		return 2;
	}
	libtparker_path = argv[1];
	built_plugins = (const char *const *)argv + 2;
	n_built_plugins = argc - 2;

	/* A kernel or container without seccomp filters: skip, not fail. */
	int rc = run_child(NULL, NULL);
	if (rc == EXIT_SKIP) {
		fprintf(stderr, "seccomp filters are not available here: skipping\n");
		return EXIT_SKIP;
	}
	if (rc != 0)
		return 1;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	CU_pSuite suite = CU_add_suite("seccomp", NULL, NULL);
	if (!suite ||
	    !CU_add_test(suite, "futex probes report ENOSYS", test_probes_report_enosys) ||
	    !CU_add_test(suite, "default avoids futex", test_default_avoids_futex) ||
	    !CU_add_test(suite, "futex,spin falls back to spin",
			 test_forced_list_falls_back_to_spin)) {
		CU_cleanup_registry();
		return 1;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failures ? 1 : 0;
}
