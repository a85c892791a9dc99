/* SPDX-License-Identifier: MIT */
/*
 * Under a seccomp filter that makes every futex system call fail with
 * ENOSYS, the plugins that sleep on futex (futex and futex2 directly,
 * pthread through glibc's mutex and condition variable) must say so through
 * their probes; the default must be a backend that really sleeps and wakes
 * there; a forced "futex,spin" list must fall back to spin, and a forced
 * "pthread" must stop with the library's one-line message, not abort inside
 * glibc. A filter that denies only one of the operations glibc relies on
 * (EPERM) must make futex and pthread decline just the same.
 *
 * Each case runs in a child that installs the filter and only then
 * dlopen()s libtparker, so that the library's load-time choice already
 * sees the filter. glibc itself uses futex whenever a lock is contended or
 * a thread is joined, so the child's extra threads lock only with spinlocks
 * and atomics, never print, never allocate, never return and are never
 * joined: _exit() ends them.
 *
 * Usage: test-seccomp-probe <path of libtparker.so> [built plugins that sleep on futex...]
 */
#include <CUnit/Basic.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tparker/tparker.h"

#define EXIT_SKIP	   77
#define CHILD_SETUP_FAILED 3
#define CHILD_TIMEOUT_S	   20
/* Enough handoffs to find a lost wakeup, few enough that spin, whose
 * parked side sleeps up to milliseconds, finishes on a loaded machine. */
#define PING_PONG_ROUNDS 1000
/* Generous bounds, only there to fail instead of hanging. */
#define SLEEP_WAIT_S 10
/* The timed park with nobody to unpark it: long enough that spin gets past
 * its yields to its sleeps on a loaded machine. */
#define TIMED_PARK_NS 200000000L

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
	bool (*park_until)(tparker_t *p, const struct timespec *deadline);
	bool (*timed_out)(tparker_t *p);
	tparker_unpark_handle_t (*unpark_lock)(tparker_t *p);
	void (*unpark)(tparker_unpark_handle_t h);
};
static struct tparker_api api;

/* The one futex operation the filter denies (EPERM), as sandboxes that
 * filter futex by operation do; -1: every futex call fails with ENOSYS.
 * Set before forking. */
static int denied_op = -1;

static int install_futex_filter(void)
{
	static const struct {
		const char *name;
		int fallback;
		bool multiplexed; /* the operation is argument 1 */
	} calls[] = {
	    {"futex", -1, true},
	    {"futex_time64", -1, true},
	    {"futex_waitv", TEST_NR_FUTEX_WAITV, false},
	    {"futex_wake", TEST_NR_FUTEX_WAITV + 5, false},
	    {"futex_wait", TEST_NR_FUTEX_WAITV + 6, false},
	    {"futex_requeue", TEST_NR_FUTEX_WAITV + 7, false},
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
		if (denied_op < 0)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
		else if (calls[i].multiplexed)
			rc = seccomp_rule_add(
			    ctx, SCMP_ACT_ERRNO(EPERM), nr, 1,
			    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffff, (scmp_datum_t)denied_op));
		else
			continue;
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
	    {"tparker_park_until", offsetof(struct tparker_api, park_until)},
	    {"tparker_timed_out", offsetof(struct tparker_api, timed_out)},
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

/* Fork; in the child: set TPARKER_BACKEND (NULL: unset), send stderr to
 * err_fd (-1: keep it), install the filter, load libtparker, run body and
 * exit with its result. Returns the child's pid, or -1. */
static pid_t start_child(int (*body)(void), const char *forced, int err_fd)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return -1;
	}
	if (pid == 0) {
		/* Some cases end in abort(): no core files from them. */
		struct rlimit no_core = {0, 0};
		setrlimit(RLIMIT_CORE, &no_core);
		alarm(CHILD_TIMEOUT_S);
		if (err_fd >= 0 && dup2(err_fd, STDERR_FILENO) < 0)
			_exit(CHILD_SETUP_FAILED);
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
	return pid;
}

/* The child's wait status, or -1. */
static int wait_child(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			perror("waitpid");
			return -1;
		}
	}
	return status;
}

/* Runs a child (see start_child): its exit code, or -1 when it did not
 * exit normally. */
static int run_child(int (*body)(void), const char *forced)
{
	pid_t pid = start_child(body, forced, -1);
	if (pid < 0)
		return -1;
	int status = wait_child(pid);
	if (status == -1)
		return -1;
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "child killed by signal %d (%s)\n", WTERMSIG(status),
			strsignal(WTERMSIG(status)));
		return -1;
	}
	return WEXITSTATUS(status);
}

/* Runs a child with its stderr captured into out (NUL-terminated, cut to
 * len - 1 bytes) and echoed to ours. Returns its wait status, or -1. */
static int run_child_captured(int (*body)(void), const char *forced, char *out, size_t len)
{
	int fds[2];

	out[0] = '\0';
	if (pipe(fds) < 0) {
		perror("pipe");
		return -1;
	}
	pid_t pid = start_child(body, forced, fds[1]);
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return -1;
	}
	/* Read to the end before waiting, so a full pipe cannot block the
	 * child. */
	size_t used = 0;
	for (;;) {
		char chunk[512];
		ssize_t n = read(fds[0], chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		size_t keep = (size_t)n < len - 1 - used ? (size_t)n : len - 1 - used;
		memcpy(out + used, chunk, keep);
		used += keep;
	}
	out[used] = '\0';
	close(fds[0]);
	fputs(out, stderr);
	return wait_child(pid);
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

/* Each names the call that failed; pthread says it sleeps on futex through
 * the C library. */
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
		if (strcmp(name, "pthread") == 0)
			CHILD_CHECK(strstr(why, "sleep on futex: futex(") != NULL,
				    "%s: reason \"%s\"", name, why);
		if (strcmp(name, "futex") == 0)
			CHILD_CHECK(strstr(why, "probe failed: futex(") != NULL,
				    "%s: reason \"%s\"", name, why);
	}
	return child_failures ? 1 : 0;
}

/*
 * Sleep and wake on the default backend, which must really work under the
 * filter. The owner parks with no deadline; a waker thread unparks it only
 * once the owner has blocked in the kernel since it began to park (its
 * voluntary context switches in /proc went up: a count, so the waker cannot
 * miss it, however late it runs). Then a timed park with nobody to unpark
 * it must time out, never early, having blocked too. The waker records what
 * it saw in atomics; only the owner prints.
 */
static tparker_t sw_parker;
static char sw_status_path[64];
static atomic_long sw_switches;	    /* the owner's count as it began to park */
static atomic_bool sw_parking;	    /* owner: about to park with no deadline */
static atomic_bool sw_returned;	    /* owner: that park returned */
static atomic_int sw_message;	    /* waker, before unpark_lock; owner reads it after */
static atomic_int sw_blocked;	    /* 1 the owner blocked, 0 it did not, -1 no /proc */
static atomic_bool sw_early_return; /* park returned before the unpark */

/* The owner's voluntary context switches (times it blocked), -1 when /proc
 * cannot tell. open() and read(): no stdio lock, no allocation. */
static long sw_owner_switches(void)
{
	static const char key[] = "\nvoluntary_ctxt_switches:";
	char buf[4096];
	int fd = open(sw_status_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	const char *at = strstr(buf, key);
	if (!at)
		return -1;
	at += strlen(key);
	while (*at == ' ' || *at == '\t')
		at++;
	if (*at < '0' || *at > '9')
		return -1;
	long count = 0;
	while (*at >= '0' && *at <= '9')
		count = count * 10 + (*at++ - '0');
	return count;
}

static void sw_nap(long ns)
{
	struct timespec t = {0, ns};
	nanosleep(&t, NULL);
}

/* CLOCK_MONOTONIC in nanoseconds. */
static long long sw_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void *sw_waker(void *arg)
{
	(void)arg;
	while (!atomic_load(&sw_parking))
		sched_yield();
	long before = atomic_load(&sw_switches), now = before;
	long long limit = sw_now() + SLEEP_WAIT_S * 1000000000LL;
	while (before >= 0 && (now = sw_owner_switches()) == before && sw_now() < limit)
		sw_nap(100000);
	if (before < 0 || now < 0)
		sw_nap(50000000); /* no /proc: give the owner time to fall asleep */
	atomic_store(&sw_blocked, before < 0 || now < 0 ? -1 : now > before);
	atomic_store(&sw_early_return, atomic_load(&sw_returned));
	/* Unpark even when the owner never blocked, so that the child
	 * reports instead of hanging. */
	atomic_store_explicit(&sw_message, 42, memory_order_relaxed);
	api.unpark(api.unpark_lock(&sw_parker));
	/* Returning would run glibc's thread exit, which may take locks and
	 * so call futex; _exit() in the main thread ends this one. */
	for (;;)
		pause();
	return NULL;
}

static int sleep_and_wake(void)
{
	const char *name = api.backend_name(api.default_backend());
	int err = api.init(&sw_parker);

	CHILD_CHECK(err == 0, "tparker_init: %s", strerror(err));
	if (err)
		return 1;
	snprintf(sw_status_path, sizeof(sw_status_path), "/proc/self/task/%d/status",
		 (int)gettid());

	/* Marked before the waker can see the parker: no lost wakeup. */
	api.prepare_park(&sw_parker);
	pthread_t waker;
	err = pthread_create(&waker, NULL, sw_waker, NULL);
	CHILD_CHECK(err == 0, "pthread_create: %s", strerror(err));
	if (err)
		return 1;
	atomic_store(&sw_switches, sw_owner_switches());
	atomic_store(&sw_parking, true);
	api.park(&sw_parker);
	atomic_store(&sw_returned, true);
	CHILD_CHECK(!atomic_load(&sw_early_return), "%s: park returned before any unpark", name);
	CHILD_CHECK(atomic_load_explicit(&sw_message, memory_order_relaxed) == 42,
		    "%s: the waker's write is not visible after park", name);
	CHILD_CHECK(atomic_load(&sw_blocked) != 0,
		    "%s: the owner did not block in park within %d s", name, SLEEP_WAIT_S);

	/* Nobody unparks this one. */
	api.prepare_park(&sw_parker);
	long before = sw_owner_switches();
	long long start = sw_now(), deadline_ns = start + TIMED_PARK_NS;
	struct timespec deadline = {(time_t)(deadline_ns / 1000000000LL),
				    (long)(deadline_ns % 1000000000LL)};
	bool unparked = api.park_until(&sw_parker, &deadline);
	long long end = sw_now();
	long after = sw_owner_switches();
	CHILD_CHECK(!unparked, "%s: park_until returned true with nobody to unpark", name);
	CHILD_CHECK(end >= deadline_ns, "%s: park_until returned %lld ns early", name,
		    deadline_ns - end);
	CHILD_CHECK(end - start < SLEEP_WAIT_S * 1000000000LL,
		    "%s: park_until took %lld ns for a %ld ns timeout", name, end - start,
		    TIMED_PARK_NS);
	if (!unparked)
		CHILD_CHECK(api.timed_out(&sw_parker), "%s: timed_out() is false", name);
	CHILD_CHECK(before < 0 || after < 0 || after > before,
		    "%s: the owner did not block in park_until", name);
	if (atomic_load(&sw_blocked) < 0 || before < 0 || after < 0)
		fprintf(stderr, "%s: no /proc/self/task: blocking not checked\n", name);
	return child_failures ? 1 : 0;
}

/* The automatic choice avoids every backend whose probe declined, and what
 * it picked sleeps and wakes. */
static int body_default_works(void)
{
	const char *name = api.backend_name(api.default_backend());
	const char *reason = api.default_reason();

	fprintf(stderr, "default backend under the filter: %s (%s)\n", name, reason);
	CHILD_CHECK(strcmp(name, "futex") != 0 && strcmp(name, "futex2") != 0 &&
			strcmp(name, "pthread") != 0,
		    "default backend is %s (%s)", name, reason);
	CHILD_CHECK(starts_with(reason, "highest priority usable plugin") ||
			starts_with(reason, "last resort"),
		    "default reason \"%s\"", reason);
	/* Run even after a failed check: what the wrong default does is the
	 * most useful evidence. */
	sleep_and_wake();
	return child_failures ? 1 : 0;
}

/* Under a filter that denies one operation of futex: the backends that
 * need it decline, naming it, and the default sleeps and wakes. */
static const char *denied_op_name;

static int body_one_op_denied(void)
{
	char expected[64];

	snprintf(expected, sizeof(expected), "(%s) failed: ", denied_op_name);
	for (int i = 0; i < n_built_plugins; i++) {
		const char *name = built_plugins[i];
		if (strcmp(name, "futex2") == 0)
			continue; /* it makes no futex(2) call */
		const tparker_backend_t *b = api.backend_get(name);
		const char *why = api.backend_error();
		CHILD_CHECK(b == NULL, "tparker_backend_get(\"%s\") succeeded without %s", name,
			    denied_op_name);
		CHILD_CHECK(strstr(why, expected) != NULL && strstr(why, "EPERM") != NULL,
			    "%s: reason \"%s\"", name, why);
	}
	const char *name = api.backend_name(api.default_backend());
	fprintf(stderr, "default backend without %s: %s (%s)\n", denied_op_name, name,
		api.default_reason());
	CHILD_CHECK(strcmp(name, "futex") != 0 && strcmp(name, "pthread") != 0,
		    "default backend is %s", name);
	sleep_and_wake();
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
	if (child_failures)
		return 1;
	return sleep_and_wake();
}

/* Reached only when the library accepted a forced pthread under the
 * filter: show what that leads to, and fail. */
static int body_forced_pthread(void)
{
	const char *name = api.backend_name(api.default_backend());

	fprintf(stderr, "TPARKER_BACKEND=pthread loaded under the filter: default %s (%s)\n", name,
		api.default_reason());
	sleep_and_wake();
	return 1;
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
		fprintf(stderr, "no plugin that sleeps on futex built: nothing to probe\n");
		return;
	}
	expect_child_ok(body_probes_fail, NULL);
}

static void test_default_sleeps_and_wakes(void)
{
	expect_child_ok(body_default_works, NULL);
}

static void test_forced_list_falls_back_to_spin(void)
{
	expect_child_ok(body_forced_falls_back_to_spin, "futex,spin");
}

/* Each operation glibc's mutex and condition variable rely on. */
static void test_each_op_denied(void)
{
	static const struct {
		const char *name;
		int op;
	} ops[] = {
	    {"FUTEX_WAKE_PRIVATE", FUTEX_WAKE_PRIVATE},
	    {"FUTEX_WAIT_PRIVATE", FUTEX_WAIT_PRIVATE},
	    {"FUTEX_WAIT_BITSET_PRIVATE", FUTEX_WAIT_BITSET_PRIVATE},
	};

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		denied_op = ops[i].op;
		denied_op_name = ops[i].name;
		expect_child_ok(body_one_op_denied, NULL);
	}
	denied_op = -1;
}

/* A forced backend whose probe declines stops the program at load time
 * with the library's one line and abort(), not later inside glibc. */
static void test_forced_pthread_fails_cleanly(void)
{
	bool built = false;
	char err[8192];

	for (int i = 0; i < n_built_plugins; i++)
		built = built || strcmp(built_plugins[i], "pthread") == 0;
	if (!built) {
		fprintf(stderr, "pthread plugin not built: nothing to force\n");
		return;
	}
	int status = run_child_captured(body_forced_pthread, "pthread", err, sizeof(err));
	CU_ASSERT(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	if (status != -1 && WIFEXITED(status))
		fprintf(stderr, "child exited with %d\n", WEXITSTATUS(status));
	CU_ASSERT(starts_with(err, "tparker: TPARKER_BACKEND=\"pthread\" cannot be honoured: "
				   "pthread: "));
	CU_ASSERT(strstr(err, "probe failed: ") != NULL);
	CU_ASSERT(strstr(err, "sleep on futex: futex(") != NULL);
	CU_ASSERT(strstr(err, "ENOSYS") != NULL);
	CU_ASSERT(strstr(err, "usable here: spin") != NULL);
	/* One line: the message and nothing after it. */
	CU_ASSERT(err[0] != '\0' && strchr(err, '\n') == err + strlen(err) - 1);
	CU_ASSERT(strstr(err, "futex facility") == NULL);
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
	    !CU_add_test(suite, "futex, futex2, pthread probes report ENOSYS",
			 test_probes_report_enosys) ||
	    !CU_add_test(suite, "default avoids them, sleeps and wakes",
			 test_default_sleeps_and_wakes) ||
	    !CU_add_test(suite, "futex,spin falls back to spin, sleeps and wakes",
			 test_forced_list_falls_back_to_spin) ||
	    !CU_add_test(suite, "one futex operation denied", test_each_op_denied) ||
	    !CU_add_test(suite, "forced pthread stops with one line",
			 test_forced_pthread_fails_cleanly)) {
		CU_cleanup_registry();
		return 1;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failures ? 1 : 0;
}
