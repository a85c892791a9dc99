/* SPDX-License-Identifier: MIT */
/*
 * The load-time choice of the default backend. The choice happens once per
 * process, so each case runs select-child in a fresh process with its own
 * environment (every inherited TPARKER_* variable removed) and checks what
 * it prints, what it writes to stderr and how it ends.
 *
 * Environment (set by meson): TPTEST_CHILD (select-child), TPTEST_PLUGIN_DIR
 * (the build folder of the real plugins), TPTEST_LOADER_DIR (the good and
 * broken test plugins), TPTEST_PLUGINS (comma list of the plugins built, in
 * the library or as files), TPTEST_BUILTINS (those compiled into the library,
 * may be empty) and TPTEST_SHADOW_DIR (files of the built-in plugins' names,
 * empty when there are none).
 * Which of them are usable here, select-child itself says first.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include <tparker/tparker.h>

extern char **environ;

/* The longest TPARKER_BACKEND the library accepts. */
#define TPARKER_TEST_VALUE_MAX 4096

static const char *child_path, *plugin_dir, *loader_dir, *plugins, *builtins, *shadow_dir;

/* Automatic-choice priorities of the native plugins (the README's backend table). */
static const struct {
	const char *name;
	int priority;
} known[] = {{"futex", 300}, {"futex2", 250}, {"pthread", 200}};

struct run {
	char *out;
	char *err;
	size_t out_len;
	size_t err_len;
	int status;
};

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

static char *xasprintf(const char *fmt, const char *a, const char *b)
{
	char *s;
	if (asprintf(&s, fmt, a, b) < 0)
		abort();
	return s;
}

static void append(char **buf, size_t *len, const char *data, size_t n)
{
	char *nb = realloc(*buf, *len + n + 1);
	if (!nb)
		abort();
	memcpy(nb + *len, data, n);
	*len += n;
	nb[*len] = '\0';
	*buf = nb;
}

/*
 * Run select-child with the arguments args (NULL-terminated, may be NULL) and
 * TPARKER_BACKEND, TPARKER_PLUGIN_PATH and TPARKER_DEBUG set to the given
 * values, or unset where NULL.
 */
static void run_child_args(const char *const *args, const char *backend, const char *path,
			   const char *debug, struct run *r)
{
	memset(r, 0, sizeof(*r));
	r->out = calloc(1, 1);
	r->err = calloc(1, 1);

	size_t n = 0;
	while (environ[n])
		n++;
	char **envp = calloc(n + 4, sizeof(*envp));
	char *own[3] = {NULL, NULL, NULL};
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "TPARKER_", 8) != 0)
			envp[k++] = environ[i];
	if (backend)
		envp[k++] = own[0] = xasprintf("%s%s", "TPARKER_BACKEND=", backend);
	if (path)
		envp[k++] = own[1] = xasprintf("%s%s", "TPARKER_PLUGIN_PATH=", path);
	if (debug)
		envp[k++] = own[2] = xasprintf("%s%s", "TPARKER_DEBUG=", debug);
	envp[k] = NULL;

	int out[2], err[2];
	if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
		abort();
	size_t nargs = 0;
	while (args && args[nargs])
		nargs++;
	/* A cross build's tests run under an emulator, which Meson names in
	 * MESON_EXE_WRAPPER (its words joined by spaces, the program looked up
	 * on PATH): the child runs under it too, since this kernel may not run
	 * its architecture. */
	char *wrapper = getenv("MESON_EXE_WRAPPER") ? strdup(getenv("MESON_EXE_WRAPPER")) : NULL;
	size_t nwrap = 0;
	char **argv = calloc(nargs + 2 + (wrapper ? strlen(wrapper) : 0), sizeof(*argv));
	char *save = NULL;
	for (char *w = wrapper ? strtok_r(wrapper, " ", &save) : NULL; w;
	     w = strtok_r(NULL, " ", &save))
		argv[nwrap++] = w;
	argv[nwrap] = (char *)child_path;
	for (size_t i = 0; i < nargs; i++)
		argv[nwrap + i + 1] = (char *)args[i];
	pid_t pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		/* No core files from the expected aborts; a hung child dies. */
		struct rlimit nocore = {0, 0};
		setrlimit(RLIMIT_CORE, &nocore);
		alarm(20);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execvpe(argv[0], argv, envp);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	struct pollfd fds[2] = {{.fd = out[0], .events = POLLIN}, {.fd = err[0], .events = POLLIN}};
	int open_fds = 2;
	while (open_fds > 0) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			abort();
		}
		for (int i = 0; i < 2; i++) {
			if (fds[i].fd < 0 || !fds[i].revents)
				continue;
			char buf[4096];
			ssize_t got = read(fds[i].fd, buf, sizeof(buf));
			if (got > 0) {
				if (i == 0)
					append(&r->out, &r->out_len, buf, (size_t)got);
				else
					append(&r->err, &r->err_len, buf, (size_t)got);
			} else if (got == 0 || errno != EINTR) {
				close(fds[i].fd);
				fds[i].fd = -1;
				open_fds--;
			}
		}
	}
	while (waitpid(pid, &r->status, 0) < 0)
		if (errno != EINTR)
			abort();
	/* qemu-user reports the signal that ended its guest on stderr: not the
	 * child's output. */
	static const char emulator_signal[] = "qemu: uncaught target signal ";
	char *last = r->err_len ? memrchr(r->err, '\n', r->err_len - 1) : NULL;
	last = last ? last + 1 : r->err;
	if (wrapper && strncmp(last, emulator_signal, sizeof(emulator_signal) - 1) == 0) {
		*last = '\0';
		r->err_len = (size_t)(last - r->err);
	}
	for (int i = 0; i < 3; i++)
		free(own[i]);
	free(envp);
	free(argv);
	free(wrapper);
}

static void run_child(const char *backend, const char *path, const char *debug, struct run *r)
{
	run_child_args(NULL, backend, path, debug, r);
}

static void describe(const char *what, const struct run *r)
{
	fprintf(stderr, "\n  %s: ", what);
	if (WIFEXITED(r->status))
		fprintf(stderr, "exit %d", WEXITSTATUS(r->status));
	else if (WIFSIGNALED(r->status))
		fprintf(stderr, "signal %d (%s)", WTERMSIG(r->status),
			strsignal(WTERMSIG(r->status)));
	fprintf(stderr, "\n  stdout: [%s]\n  stderr: [%.2000s]\n", r->out, r->err);
}

/* select-child chose `name` for `reason_prefix...`, and said nothing else. */
static bool ok_run(const char *what, const struct run *r, const char *name,
		   const char *reason_prefix)
{
	bool good = WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0 && r->err_len == 0;
	const char *nl = strchr(r->out, '\n');
	good = good && nl && (size_t)(nl - r->out) == strlen(name) &&
	       strncmp(r->out, name, strlen(name)) == 0 &&
	       strncmp(nl + 1, reason_prefix, strlen(reason_prefix)) == 0;
	if (!good) {
		describe(what, r);
		fprintf(stderr, "  expected: backend %s, reason \"%s...\", empty stderr\n", name,
			reason_prefix);
	}
	return good;
}

static bool is_abort(const struct run *r)
{
	return WIFSIGNALED(r->status) && WTERMSIG(r->status) == SIGABRT;
}

/* The one-line configuration error, naming each of `needles`. */
static bool fatal_run(const char *what, const struct run *r, const char *const *needles)
{
	bool good = is_abort(r) && r->out_len == 0;
	const char *prefix = "tparker: TPARKER_BACKEND=";
	good = good && r->err_len > 0 && r->err[r->err_len - 1] == '\n' &&
	       strchr(r->err, '\n') == r->err + r->err_len - 1 &&
	       strncmp(r->err, prefix, strlen(prefix)) == 0;
	const char *usable = strstr(r->err, "usable here:");
	good = good && usable && strstr(usable, "spin");
	for (; good && *needles; needles++)
		if (!strstr(r->err, *needles)) {
			fprintf(stderr, "\n  missing \"%s\"", *needles);
			good = false;
		}
	if (!good) {
		describe(what, r);
		fprintf(stderr,
			"  expected: SIGABRT, no stdout, one line \"%s...usable here: ...spin\"\n",
			prefix);
	}
	return good;
}

/* Which backends work here, by the library's own probe in a child like the
 * others: this process may run under valgrind, which lacks some system calls. */
static char usable_names[17][64];
static size_t n_usable;

static bool usable(const char *name)
{
	for (size_t i = 0; i < n_usable; i++)
		if (strcmp(usable_names[i], name) == 0)
			return true;
	return false;
}

static int priority_of(const char *name)
{
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(known[i].name, name) == 0)
			return known[i].priority;
	return -1;
}

/* The names of a comma list, in a static list. */
static size_t name_list(const char *p, char names[][64], size_t max)
{
	size_t n = 0;
	while (*p && n < max) {
		size_t len = strcspn(p, ",");
		if (len > 0 && len < 64) {
			memcpy(names[n], p, len);
			names[n][len] = '\0';
			n++;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return n;
}

/* The plugin names from TPTEST_PLUGINS. */
static size_t plugin_list(char names[][64], size_t max)
{
	return name_list(plugins, names, max);
}

static void find_usable(void)
{
	static char names[16][64];
	const char *args[18] = {"spin"};
	size_t n = plugin_list(names, 16);
	for (size_t i = 0; i < n; i++)
		args[i + 1] = names[i];
	struct run r;
	run_child_args(args, "spin", plugin_dir, NULL, &r);
	if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0) {
		describe("select-child NAME...", &r);
		exit(1);
	}
	char *save = NULL;
	for (char *line = strtok_r(r.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[64], verdict[16];
		if (sscanf(line, "%63s %15s", name, verdict) == 2 &&
		    strcmp(verdict, "usable") == 0 && n_usable < 17)
			strcpy(usable_names[n_usable++], name);
	}
	run_free(&r);
	if (!usable("spin")) {
		fprintf(stderr, "test-select: select-child finds spin unusable\n");
		exit(1);
	}
}

/* The best usable plugin of a comma list by priority, or spin. */
static const char *best_of(const char *list)
{
	static char names[16][64];
	size_t n = name_list(list, names, 16);
	const char *best = "spin";
	int best_prio = 0;
	for (size_t i = 0; i < n; i++) {
		int prio = priority_of(names[i]);
		if (prio < 0) {
			fprintf(stderr, "\n  test-select: no known priority for plugin %s\n",
				names[i]);
			continue;
		}
		if (prio > best_prio && usable(names[i])) {
			best = names[i];
			best_prio = prio;
		}
	}
	return best;
}

/* The best usable built plugin by priority, or spin. */
static const char *expected_auto(void)
{
	return best_of(plugins);
}

static const char *auto_reason(const char *name)
{
	return strcmp(name, "spin") == 0 ? "last resort" : "highest priority usable plugin";
}

static void test_unset(void)
{
	const char *want = expected_auto();
	struct run r;
	run_child(NULL, plugin_dir, NULL, &r);
	CU_ASSERT(ok_run("unset", &r, want, auto_reason(want)));
	run_free(&r);

	/* Empty and missing entries in the search path are harmless. */
	char *path = xasprintf("/nonexistent/tparker::%s%s", plugin_dir, ":");
	run_child(NULL, path, NULL, &r);
	CU_ASSERT(ok_run("unset, untidy path", &r, want, auto_reason(want)));
	run_free(&r);
	free(path);

	/* TPARKER_DEBUG=0 is not a request to log. */
	run_child(NULL, plugin_dir, "0", &r);
	CU_ASSERT(ok_run("TPARKER_DEBUG=0", &r, want, auto_reason(want)));
	run_free(&r);
}

static bool dir_has_plugins(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return false;
	bool found = false;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, "tparker-", 8) == 0)
			found = true;
	closedir(d);
	return found;
}

static void test_spin_last_resort(void)
{
	/* With no plugin file anywhere, spin and the built-in plugins are all
	 * there is. An installed libtparker in the compiled-in directory would
	 * spoil the premise. */
	if (dir_has_plugins(tparker_plugin_dir())) {
		fprintf(stderr, "\n  skipped: %s has plugins\n", tparker_plugin_dir());
		return;
	}
	char tmpl[] = "/tmp/tparker-empty-XXXXXX";
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(tmpl));
	struct run r;
	const char *want = best_of(builtins);
	run_child(NULL, tmpl, NULL, &r);
	CU_ASSERT(ok_run("empty plugin path", &r, want, auto_reason(want)));
	run_free(&r);
	rmdir(tmpl);
}

static void test_forced_each(void)
{
	static char names[16][64];
	size_t n = plugin_list(names + 1, 15) + 1;
	strcpy(names[0], "spin");
	for (size_t i = 0; i < n; i++) {
		struct run r;
		run_child(names[i], plugin_dir, NULL, &r);
		if (usable(names[i])) {
			CU_ASSERT(ok_run(names[i], &r, names[i], "forced by TPARKER_BACKEND"));
		} else {
			/* A plugin this machine cannot run is not silently replaced. */
			const char *needles[] = {names[i], NULL};
			CU_ASSERT(fatal_run(names[i], &r, needles));
		}
		run_free(&r);
	}
}

static void test_forced_lists(void)
{
	static const struct {
		const char *value;
		const char *want;
	} cases[] = {
	    {"nosuch,spin", "spin"},	 {" spin ", "spin"},	  {"\tspin", "spin"},
	    {" nosuch , spin ", "spin"}, {"spin,nosuch", "spin"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run r;
		run_child(cases[i].value, plugin_dir, NULL, &r);
		CU_ASSERT(ok_run(cases[i].value, &r, cases[i].want, "forced by TPARKER_BACKEND"));
		run_free(&r);
	}

	/* The first usable entry wins, not the best one. */
	const char *best = expected_auto();
	if (strcmp(best, "spin") != 0) {
		char *value = xasprintf("nosuch,%s,%s", best, "spin");
		struct run r;
		run_child(value, plugin_dir, NULL, &r);
		CU_ASSERT(ok_run(value, &r, best, "forced by TPARKER_BACKEND"));
		run_free(&r);
		free(value);
		value = xasprintf("spin,%s%s", best, "");
		run_child(value, plugin_dir, NULL, &r);
		CU_ASSERT(ok_run(value, &r, "spin", "forced by TPARKER_BACKEND"));
		run_free(&r);
		free(value);
	}
}

static void test_forced_path(void)
{
	char *good = xasprintf("%s/%s", loader_dir, "tparker-good.so");
	struct run r;
	run_child(good, plugin_dir, NULL, &r);
	CU_ASSERT(ok_run("path of good", &r, "good", "forced by TPARKER_BACKEND"));
	run_free(&r);

	/* By name, found on the search path among the broken ones. */
	run_child("good", loader_dir, NULL, &r);
	CU_ASSERT(ok_run("good by name", &r, "good", "forced by TPARKER_BACKEND"));
	run_free(&r);
	free(good);
}

static void test_forced_failures(void)
{
	char *badabi = xasprintf("%s/%s", loader_dir, "tparker-badabi.so");
	char *notelf = xasprintf("%s/%s", loader_dir, "tparker-notelf.so");
	char *missing = xasprintf("%s/%s", loader_dir, "tparker-missing.so");
	char *probefail = xasprintf("%s/%s", loader_dir, "tparker-probefail.so");
	struct {
		const char *value;
		const char *path;
		const char *needles[3];
	} cases[] = {
	    {"nosuch", plugin_dir, {"nosuch", NULL}},
	    {"", plugin_dir, {NULL}},
	    {"spin,,futex", plugin_dir, {"spin,,futex", NULL}},
	    {",spin", plugin_dir, {",spin", NULL}},
	    {"spin,", plugin_dir, {"spin,", NULL}},
	    {" , ", plugin_dir, {NULL}},
	    {"Bad!", plugin_dir, {"Bad!", NULL}},
	    /* A control character must not break the one-line message. */
	    {"spin\nfutex", plugin_dir, {"spin?futex", "not a valid backend name", NULL}},
	    {"nosuch1,nosuch2", plugin_dir, {"nosuch1", "nosuch2", NULL}},
	    {"./x/tparker-good.so", loader_dir, {"./x/tparker-good.so", NULL}},
	    {"x/tparker-good.so", loader_dir, {"x/tparker-good.so", NULL}},
	    {badabi, plugin_dir, {badabi, "ABI major", NULL}},
	    {notelf, plugin_dir, {notelf, "not a shared object", NULL}},
	    {missing, plugin_dir, {missing, "no such file", NULL}},
	    {probefail, plugin_dir, {probefail, "no such device here", NULL}},
	    {"badabi", loader_dir, {"badabi", "ABI major", NULL}},
	    /* tparker-spin.so is on the path, but spin is the built-in. */
	    {"mismatch,spin", loader_dir, {NULL}},
	};
	size_t n = sizeof(cases) / sizeof(cases[0]);
	for (size_t i = 0; i < n; i++) {
		struct run r;
		run_child(cases[i].value, cases[i].path, NULL, &r);
		/* CU_ASSERT is a block: braces keep the else attached. */
		if (i == n - 1) {
			CU_ASSERT(ok_run(cases[i].value, &r, "spin", "forced by TPARKER_BACKEND"));
		} else {
			CU_ASSERT(fatal_run(cases[i].value[0] ? cases[i].value : "(empty)", &r,
					    cases[i].needles));
		}
		run_free(&r);
	}
	free(badabi);
	free(notelf);
	free(missing);
	free(probefail);
}

/* Over 4096 bytes is refused even when every entry would be fine. */
static void test_forced_too_long(void)
{
	char value[5001];
	value[0] = ' ';
	size_t at = 1;
	while (at + 5 <= 4996) {
		memcpy(value + at, "spin,", 5);
		at += 5;
	}
	memcpy(value + at, "spin", 4);
	at += 4;
	value[at] = '\0';
	CU_ASSERT_EQUAL_FATAL(strlen(value), 5000);
	struct run r;
	run_child(value, plugin_dir, NULL, &r);
	const char *needles[] = {"spin,spin", NULL};
	CU_ASSERT(fatal_run("5000-byte value", &r, needles));
	run_free(&r);
}

/* The limits of the value, end to end: every count of entries up to the
 * longest value, and one byte past it, gets the one-line message and an
 * abort, or runs; never a crash. */
static void test_forced_bounds(void)
{
	static const size_t commas[] = {2047, 2048, 2049, 2050, 4095, 4096, 4097};
	char *value = malloc(TPARKER_TEST_VALUE_MAX + 2);
	for (size_t i = 0; i < sizeof(commas) / sizeof(commas[0]); i++) {
		memset(value, ',', commas[i]);
		value[commas[i]] = '\0';
		struct run r;
		run_child(value, plugin_dir, NULL, &r);
		const char *empty[] = {"entry 1 is empty", NULL};
		const char *too_long[] = {"4097 bytes, longer than the 4096 allowed", NULL};
		char what[64];
		snprintf(what, sizeof(what), "%zu commas", commas[i]);
		CU_ASSERT(fatal_run(what, &r, commas[i] < 4097 ? empty : too_long));
		run_free(&r);
	}
	/* 2047 entries that name no plugin, then spin: exactly 4096 bytes, so
	 * the whole list is tried; one more byte and it is refused. */
	for (size_t extra = 0; extra <= 1; extra++) {
		size_t at = 0;
		if (extra)
			value[at++] = ' ';
		for (int i = 0; i < 2046; i++, at += 2)
			memcpy(value + at, "a,", 2);
		memcpy(value + at, "spin", 5);
		CU_ASSERT_EQUAL_FATAL(strlen(value), TPARKER_TEST_VALUE_MAX + extra);
		struct run r;
		run_child(value, plugin_dir, NULL, &r);
		if (extra) {
			const char *needles[] = {"longer than the 4096 allowed", NULL};
			CU_ASSERT(fatal_run("4097-byte list", &r, needles));
		} else {
			CU_ASSERT(
			    ok_run("4096-byte list", &r, "spin", "forced by TPARKER_BACKEND"));
		}
		run_free(&r);
	}
	free(value);
}

static size_t count_lines(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_broken_skipped(void)
{
	/* Good outranks everything; the broken ones are skipped in silence. */
	struct run r;
	run_child(NULL, loader_dir, NULL, &r);
	CU_ASSERT(ok_run("loader folder", &r, "good", "highest priority usable plugin"));
	run_free(&r);

	/* Behind the real plugins on the path, good still wins on priority. */
	char *path = xasprintf("%s:%s", plugin_dir, loader_dir);
	run_child(NULL, path, NULL, &r);
	CU_ASSERT(
	    ok_run("plugins then loader folder", &r, "good", "highest priority usable plugin"));
	run_free(&r);
	free(path);
}

static void test_debug_log(void)
{
	const char *want = expected_auto();
	struct run r;
	run_child(NULL, plugin_dir, "1", &r);
	CU_ASSERT(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	CU_ASSERT(count_lines(r.err) >= 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "chosen"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, want));
	/* The log goes to stderr only: stdout is the program's own. */
	CU_ASSERT_EQUAL(strncmp(r.out, want, strlen(want)), 0);
	if (!(count_lines(r.err) >= 2 && strstr(r.err, "chosen")))
		describe("TPARKER_DEBUG=1", &r);
	run_free(&r);

	/* With broken plugins about, the log says why each was skipped. */
	run_child(NULL, loader_dir, "1", &r);
	CU_ASSERT(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "chosen"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "tparker-badabi.so"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "ABI major 2"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "no such device here"));
	if (!strstr(r.err, "tparker-badabi.so") || !strstr(r.err, "no such device here"))
		describe("TPARKER_DEBUG=1, loader folder", &r);
	run_free(&r);
}

/* A plugin file named like a built-in plugin is never loaded: not by the
 * automatic choice (which logs why it skips it), not by name, and not by
 * path (an error naming the reason). */
static void test_builtin_wins(void)
{
	static char names[16][64];
	size_t n = name_list(builtins, names, 16);
	if (n == 0) {
		fprintf(stderr, "\n  skipped: no plugin is built into this libtparker\n");
		return;
	}
	CU_ASSERT_FATAL(*shadow_dir != '\0');
	const char *want = best_of(builtins);
	for (size_t i = 0; i < n; i++) {
		char *file = xasprintf("%s/tparker-%s.so", shadow_dir, names[i]);
		char *skipped =
		    xasprintf("tparker-%s.so skipped: '%s' is built into this libtparker", names[i],
			      names[i]);
		char *tried = xasprintf("trying %s%s", file, "");
		struct run r;
		run_child(NULL, shadow_dir, "1", &r);
		bool good = WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 &&
			    strncmp(r.out, want, strlen(want)) == 0 &&
			    r.out[strlen(want)] == '\n' && strstr(r.err, skipped) &&
			    !strstr(r.err, tried);
		CU_ASSERT(good);
		if (!good) {
			describe("a file of a built-in name, unset", &r);
			fprintf(stderr,
				"  expected: %s chosen, \"%s\" logged, the file not tried\n", want,
				skipped);
		}
		run_free(&r);

		if (usable(names[i])) {
			run_child(names[i], shadow_dir, "1", &r);
			good = WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 &&
			       strncmp(r.out, names[i], strlen(names[i])) == 0 &&
			       !strstr(r.err, tried);
			CU_ASSERT(good);
			if (!good) {
				describe("a file of a built-in name, forced by name", &r);
				fprintf(stderr, "  expected: the built-in %s, the file not tried\n",
					names[i]);
			}
			run_free(&r);
		}

		run_child(file, shadow_dir, NULL, &r);
		const char *needles[] = {file, "is built into this libtparker", NULL};
		CU_ASSERT(fatal_run("a file of a built-in name, forced by path", &r, needles));
		run_free(&r);
		free(file);
		free(skipped);
		free(tried);
	}
}

static const char *need_env(const char *name)
{
	const char *v = getenv(name);
	bool may_be_empty = strcmp(name, "TPTEST_PLUGINS") == 0 ||
			    strcmp(name, "TPTEST_BUILTINS") == 0 ||
			    strcmp(name, "TPTEST_SHADOW_DIR") == 0;
	if (!v || (!*v && !may_be_empty)) {
		fprintf(stderr, "test-select: %s is not set (run it by meson test)\n", name);
		exit(1);
	}
	return v;
}

int main(void)
{
	child_path = need_env("TPTEST_CHILD");
	plugin_dir = need_env("TPTEST_PLUGIN_DIR");
	loader_dir = need_env("TPTEST_LOADER_DIR");
	plugins = need_env("TPTEST_PLUGINS");
	builtins = need_env("TPTEST_BUILTINS");
	shadow_dir = need_env("TPTEST_SHADOW_DIR");
	find_usable();

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	CU_pSuite s = CU_add_suite("select", NULL, NULL);
	if (!s)
		return 1;
	struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
	    {"unset: best usable plugin", test_unset},
	    {"unset, no plugin files: the best built-in, else spin", test_spin_last_resort},
	    {"forced: each backend", test_forced_each},
	    {"forced: lists and blanks", test_forced_lists},
	    {"forced: a plugin file", test_forced_path},
	    {"forced: failures abort with one line", test_forced_failures},
	    {"forced: value over 4096 bytes", test_forced_too_long},
	    {"forced: every entry count and length at the bounds", test_forced_bounds},
	    {"broken plugins skipped", test_broken_skipped},
	    {"TPARKER_DEBUG=1 narrates", test_debug_log},
	    {"a plugin file never stands in for a built-in one", test_builtin_wins},
	};
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (!CU_add_test(s, tests[i].name, tests[i].fn))
			return 1;

	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
