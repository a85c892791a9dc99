/* SPDX-License-Identifier: MIT */
/*
 * The plugin loader against deliberately broken plugins: each one is
 * rejected with its own errno and reason, nothing crashes, *out is left
 * alone; the good plugin loads once, works, and lives beside the default.
 *
 * Environment (set by meson): TPTEST_LOADER_DIR, the build folder holding
 * tparker-good.so and the broken plugins; TPARKER_PLUGIN_PATH lists it so
 * tparker_backend_get() finds them by name.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include <tparker/backend.h>
#include <tparker/tparker.h>

static const char *loader_dir;

/* Sentinel that tparker_backend_open() must not replace on failure. */
static const tparker_backend_t *const untouched = (const tparker_backend_t *)&loader_dir;

static void plugin_path(char *buf, size_t len, const char *file)
{
	int n = snprintf(buf, len, "%s/%s", loader_dir, file);
	if (n < 0 || (size_t)n >= len) {
		fprintf(stderr, "path too long: %s/%s\n", loader_dir, file);
		exit(1);
	}
}

/* Checks that print what they saw: CUnit alone shows only the expression. */
static bool contains(const char *what, const char *haystack, const char *needle)
{
	if (haystack && strstr(haystack, needle))
		return true;
	fprintf(stderr, "\n  %s: expected \"%s\" in \"%s\"\n", what, needle,
		haystack ? haystack : "(null)");
	return false;
}

static bool starts_with(const char *what, const char *s, const char *prefix)
{
	if (s && strncmp(s, prefix, strlen(prefix)) == 0)
		return true;
	fprintf(stderr, "\n  %s: expected \"%s\" to start with \"%s\"\n", what, s ? s : "(null)",
		prefix);
	return false;
}

static bool errno_is(const char *what, int got, int want)
{
	if (got == want)
		return true;
	fprintf(stderr, "\n  %s: returned %d (%s), expected %d (%s)\n", what, got, strerror(got),
		want, strerror(want));
	return false;
}

struct broken_case {
	const char *file;
	int err;
	const char *phrase;
};

static const struct broken_case broken_cases[] = {
    {"tparker-missing.so", ENOENT, "no such file"},
    {"tparker-notelf.so", ENOEXEC, "not a shared object"},
    /* The entry this core wants ends in _time64 in a 64-bit time_t build
     * of a 32-bit ABI: the phrase stops before. */
    {"tparker-noentry.so", EPROTO,
     "built for ABI major 2 (exports tparker_backend_entry_v2, not tparker_backend_entry_v1"},
    {"tparker-noexport.so", ENOEXEC, "no entry symbol tparker_backend_entry_v1"},
    {"tparker-nullentry.so", EINVAL, "entry returned no backend"},
    {"tparker-badabi.so", EPROTO, "built for ABI major 2, this libtparker speaks major 1"},
    {"tparker-small.so", EPROTO, "table size 8 is smaller than"},
    {"tparker-badname.so", EINVAL, "invalid name"},
    {"tparker-mismatch.so", EINVAL, "declares name"},
    {"tparker-spin.so", EINVAL, "reserved"},
    {"tparker-nodesc.so", EINVAL, "no description"},
    {"tparker-bigstate.so", EINVAL, "state size 4096 exceeds"},
    {"tparker-noop.so", EINVAL, "required operation 'park' missing"},
    {"tparker-probefail.so", ENODEV, "probe failed: no such device here"},
    {"tparker-wordsmall.so", EINVAL,
     "declares word protocol 1 but its state size 4 is smaller than the 8 bytes"},
    /* Its probe calls tparker_backend_get() and _open(): both refused. */
    {"tparker-reenter.so", EDEADLK,
     "get: spin: called back from inside the plugin loader (by a plugin's constructor or "
     "probe, or by an allocator the loader called): plugins may not load backends; open: "
     "/nonexistent/tparker-x.so: called back from inside the plugin loader"},
};

#define N_BROKEN (sizeof(broken_cases) / sizeof(broken_cases[0]))

static void check_broken(size_t i)
{
	const struct broken_case *c = &broken_cases[i];
	char path[4096], prefix[4200];
	plugin_path(path, sizeof(path), c->file);
	snprintf(prefix, sizeof(prefix), "%s: ", path);

	/* Twice: a rejected plugin is closed, and a second try fails the same. */
	for (int round = 0; round < 2; round++) {
		const tparker_backend_t *out = untouched;
		int rc = tparker_backend_open(path, &out);
		CU_ASSERT(errno_is(c->file, rc, c->err));
		CU_ASSERT(out == untouched || out == NULL);
		const char *why = tparker_backend_error();
		CU_ASSERT(starts_with(c->file, why, prefix));
		CU_ASSERT(contains(c->file, why, c->phrase));
	}
}

#define BROKEN_TEST(i)                                                                             \
	static void test_broken_##i(void)                                                          \
	{                                                                                          \
		check_broken(i);                                                                   \
	}
BROKEN_TEST(0)
BROKEN_TEST(1)
BROKEN_TEST(2)
BROKEN_TEST(3)
BROKEN_TEST(4)
BROKEN_TEST(5)
BROKEN_TEST(6)
BROKEN_TEST(7)
BROKEN_TEST(8)
BROKEN_TEST(9)
BROKEN_TEST(10)
BROKEN_TEST(11)
BROKEN_TEST(12)
BROKEN_TEST(13)
BROKEN_TEST(14)
BROKEN_TEST(15)

static void (*const broken_tests[])(void) = {
    test_broken_0,  test_broken_1,  test_broken_2,  test_broken_3,  test_broken_4,
    test_broken_5,  test_broken_6,  test_broken_7,  test_broken_8,  test_broken_9,
    test_broken_10, test_broken_11, test_broken_12, test_broken_13, test_broken_14,
    test_broken_15,
};
_Static_assert(sizeof(broken_tests) / sizeof(broken_tests[0]) == N_BROKEN,
	       "one test function per broken case");

static const tparker_backend_t *open_good(void)
{
	char path[4096];
	plugin_path(path, sizeof(path), "tparker-good.so");
	const tparker_backend_t *b = NULL;
	int rc = tparker_backend_open(path, &b);
	if (rc != 0)
		fprintf(stderr, "\n  tparker-good.so: %s\n", tparker_backend_error());
	CU_ASSERT_EQUAL(rc, 0);
	return rc == 0 ? b : NULL;
}

static void test_open_good(void)
{
	const tparker_backend_t *a = open_good();
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_STRING_EQUAL(tparker_backend_name(a), "good");

	/* A plugin is adopted once: the same file gives the same backend. */
	const tparker_backend_t *b = open_good();
	CU_ASSERT_PTR_EQUAL(a, b);
	CU_ASSERT_PTR_EQUAL(tparker_backend_get("good"), a);
}

static void test_open_null_args(void)
{
	const tparker_backend_t *out = untouched;
	/* dlopen("") would hand back the main program: it must not count. */
	CU_ASSERT_NOT_EQUAL(tparker_backend_open("", &out), 0);
	CU_ASSERT(out == untouched || out == NULL);
	CU_ASSERT_STRING_NOT_EQUAL(tparker_backend_error(), "");
}

static void test_get_invalid(void)
{
	static const char *const bad[] = {
	    "Bad Name",
	    "",
	    "Good",
	    "9lives",
	    "-x",
	    "a/b",
	    "../good",
	    "tparker-good.so",
	    "good ",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 33 bytes: one over TPARKER_NAME_MAX */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_PTR_NULL(tparker_backend_get(bad[i]));
		CU_ASSERT(contains(bad[i], tparker_backend_error(), "invalid backend name"));
	}
}

static void test_get_null(void)
{
	CU_ASSERT_PTR_NULL(tparker_backend_get(NULL));
	CU_ASSERT_STRING_NOT_EQUAL(tparker_backend_error(), "");
}

static void test_get_absent(void)
{
	CU_ASSERT_PTR_NULL(tparker_backend_get("nosuch"));
	CU_ASSERT(contains("nosuch", tparker_backend_error(), "no plugin tparker-nosuch.so"));

	/* The longest valid name is only absent, not invalid. */
	static const char *const longest = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	_Static_assert(sizeof("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") - 1 == TPARKER_NAME_MAX,
		       "the name above is TPARKER_NAME_MAX long");
	CU_ASSERT_PTR_NULL(tparker_backend_get(longest));
	CU_ASSERT(contains(longest, tparker_backend_error(),
			   "no plugin tparker-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.so"));
}

/* A search-path directory whose plugin paths cannot fit PATH_MAX is skipped
 * and said so, never cut into the name of another file; the directories
 * after it still count. PATH_MAX - 14 bytes is the longest directory that
 * still fits "/tparker-a.so" and its NUL; one byte more does not. */
static void test_get_long_dir(void)
{
	const char *saved = getenv("TPARKER_PLUGIN_PATH");
	char *saved_copy = saved ? strdup(saved) : NULL;
	for (size_t len = PATH_MAX - 15; len <= PATH_MAX - 13; len++) {
		char *path = malloc(len + strlen(loader_dir) + 2);
		memset(path, 'd', len);
		path[0] = '/';
		path[len] = ':';
		strcpy(path + len + 1, loader_dir);
		CU_ASSERT_EQUAL_FATAL(setenv("TPARKER_PLUGIN_PATH", path, 1), 0);
		CU_ASSERT_PTR_NULL(tparker_backend_get("a"));
		const char *why = tparker_backend_error();
		bool skipped = strstr(why, "1 directory skipped: a plugin path there would exceed");
		CU_ASSERT_EQUAL(skipped, len > PATH_MAX - 14);
		if (skipped != (len > PATH_MAX - 14))
			fprintf(stderr, "\n  directory of %zu bytes: %s\n", len, why);
		/* The search goes on past the long directory. */
		CU_ASSERT_PTR_NOT_NULL(tparker_backend_get("good"));
		free(path);
	}
	if (saved_copy)
		setenv("TPARKER_PLUGIN_PATH", saved_copy, 1);
	else
		unsetenv("TPARKER_PLUGIN_PATH");
	free(saved_copy);
}

/* A name found on the search path goes through the same checks as a path. */
static void test_get_broken(void)
{
	CU_ASSERT_PTR_NULL(tparker_backend_get("badabi"));
	CU_ASSERT(contains("badabi", tparker_backend_error(), "ABI major 2"));
	CU_ASSERT_PTR_NULL(tparker_backend_get("probefail"));
	CU_ASSERT(contains("probefail", tparker_backend_error(), "no such device here"));
	CU_ASSERT_PTR_NULL(tparker_backend_get("mismatch"));
	CU_ASSERT(contains("mismatch", tparker_backend_error(), "declares name"));
}

/* tparker-spin.so sits on the search path, but "spin" is the built-in. */
static void test_get_spin(void)
{
	const tparker_backend_t *s = tparker_backend_get("spin");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_STRING_EQUAL(tparker_backend_name(s), "spin");
	CU_ASSERT_PTR_EQUAL(tparker_backend_get("spin"), s);
}

static void test_name_null(void)
{
	CU_ASSERT_STRING_EQUAL(tparker_backend_name(NULL), "(null)");
}

static void test_init_with_bad(void)
{
	tparker_t p;
	CU_ASSERT_EQUAL(tparker_init_with(&p, NULL), EINVAL);

	/* A table the library never adopted is not a backend. */
	static struct tparker_backend fake;
	CU_ASSERT_EQUAL(tparker_init_with(&p, &fake), EINVAL);
}

/* The first 32 bits of the backend's state, and the parker's word
 * protocol field: the library's private layout, read here on purpose. */
static uint32_t state_word(const tparker_t *p)
{
	uint32_t w;
	memcpy(&w, p->tparker_opaque_ + TPARKER_STATE_OFFSET, sizeof(w));
	return w;
}

static uint32_t protocol_of(const tparker_t *p)
{
	uint32_t v;
	memcpy(&v, p->tparker_opaque_ + TPARKER_PROTOCOL_OFFSET_, sizeof(v));
	return v;
}

/* One unpark-before-park cycle through the API on a plugin that must run
 * its own operations: its prepare_park marker shows up in the state. */
static void check_own_ops(const char *file)
{
	char path[4096];
	const tparker_backend_t *b = NULL;
	plugin_path(path, sizeof(path), file);
	int rc = tparker_backend_open(path, &b);
	CU_ASSERT_FATAL(errno_is(file, rc, 0));

	tparker_t p;
	CU_ASSERT_EQUAL_FATAL(tparker_init_with(&p, b), 0);
	CU_ASSERT_EQUAL(protocol_of(&p), 0);
	tparker_prepare_park(&p);
	CU_ASSERT_EQUAL(state_word(&p), 7); /* TRIVIAL_OWN_PARKED */
	tparker_unpark_handle_t h = tparker_unpark_lock(&p);
	CU_ASSERT_EQUAL(state_word(&p), 0);
	tparker_unpark(h);
	tparker_park(&p);
	tparker_destroy(&p);
}

/* A protocol from a later minor is not one this core knows: ignored. */
static void test_word_unknown(void)
{
	check_own_ops("tparker-wordnext.so");
}

/* An ABI 1.0 table: nothing past its size is read, whatever lies there. */
static void test_word_old_minor(void)
{
	check_own_ops("tparker-oldminor.so");
}

/* Word protocol 1 on every backend that declares it (the built-in spin
 * backend always does): the steps the core runs itself, through the inline
 * paths of <tparker/tparker.h> and through the exported functions. */
static void check_word_v1(const tparker_backend_t *b)
{
	tparker_t p;
	CU_ASSERT_EQUAL_FATAL(tparker_init_with(&p, b), 0);
	CU_ASSERT_EQUAL(protocol_of(&p), TPARKER_WORD_PROTOCOL_V1);
	CU_ASSERT_EQUAL(state_word(&p), TPARKER_WORD_UNPARKED);

	for (int exported = 0; exported < 2; exported++) {
		if (exported)
			(tparker_prepare_park)(&p);
		else
			tparker_prepare_park(&p);
		CU_ASSERT_EQUAL(state_word(&p), TPARKER_WORD_PARKED);
		/* An owner awake in PARKED needs no wake: no unpark call. */
		tparker_unpark_handle_t h = tparker_unpark_lock(&p);
		CU_ASSERT_PTR_NULL(h.backend);
		CU_ASSERT_EQUAL(state_word(&p), TPARKER_WORD_UNPARKED);
		if (exported)
			(tparker_unpark)(h), (tparker_park)(&p);
		else
			tparker_unpark(h), tparker_park(&p);
		CU_ASSERT_EQUAL(state_word(&p), TPARKER_WORD_UNPARKED);
		struct timespec past = {0, 0};
		CU_ASSERT_TRUE(exported ? (tparker_park_until)(&p, &past)
					: tparker_park_until(&p, &past));
		/* Compound literals pass through the inline paths' macros. */
		CU_ASSERT_TRUE(tparker_park_until(&p, &(struct timespec){0, 0}));
	}
	/* A second unpark_lock finds nothing to do. */
	CU_ASSERT_PTR_NULL(tparker_unpark_lock(&p).backend);
	tparker_destroy(&p);
	/* Destroyed: the inline paths no longer apply, every call reaches
	 * the library (which reports the misuse; see tests/misuse). */
	CU_ASSERT_EQUAL(protocol_of(&p), 0);
}

static void test_word_v1(void)
{
	int checked = 0;
	for (const char *const *n =
		 (const char *const[]){"spin", "futex", "futex2", "pthread", NULL};
	     *n; n++) {
		const tparker_backend_t *b = tparker_backend_get(*n);
		if (!b)
			continue; /* not built, or not usable here */
		check_word_v1(b);
		checked++;
	}
	CU_ASSERT(checked >= 1);
}

/* A mini wait queue: one slot under a mutex, the protocol from tparker.h.
 * The parked thread uses backend b, or the default one when b is NULL. */
struct queue {
	pthread_mutex_t lock;
	tparker_t *waiting;
	const tparker_backend_t *b;
	atomic_int woken;
};

static void *parked_thread(void *arg)
{
	struct queue *q = arg;
	tparker_t *p = malloc(sizeof(*p));
	if (!p || (q->b ? tparker_init_with(p, q->b) : tparker_init(p)) != 0)
		abort();
	pthread_mutex_lock(&q->lock);
	tparker_prepare_park(p);
	q->waiting = p;
	pthread_mutex_unlock(&q->lock);
	tparker_park(p);
	atomic_store(&q->woken, 1);
	/* Free at once: the waker may still be between its two phases. */
	tparker_destroy(p);
	free(p);
	return NULL;
}

static void wake_one(struct queue *q)
{
	for (;;) {
		tparker_unpark_handle_t h;
		bool got = false;
		pthread_mutex_lock(&q->lock);
		if (q->waiting) {
			h = tparker_unpark_lock(q->waiting);
			q->waiting = NULL;
			got = true;
		}
		pthread_mutex_unlock(&q->lock);
		if (got) {
			tparker_unpark(h);
			return;
		}
		sched_yield();
	}
}

static void test_good_beside_default(void)
{
	const tparker_backend_t *good = open_good();
	CU_ASSERT_PTR_NOT_NULL_FATAL(good);
	const tparker_backend_t *def = tparker_default_backend();
	CU_ASSERT_PTR_NOT_NULL_FATAL(def);
	CU_ASSERT_PTR_NOT_EQUAL(def, good);

	/* Single thread: an unpark before park makes park return at once. */
	tparker_t a, d;
	CU_ASSERT_EQUAL_FATAL(tparker_init_with(&a, good), 0);
	CU_ASSERT_EQUAL_FATAL(tparker_init(&d), 0);
	tparker_prepare_park(&a);
	tparker_prepare_park(&d);
	tparker_unpark(tparker_unpark_lock(&a));
	tparker_park(&a);
	struct timespec soon = tparker_deadline_after(1000000);
	CU_ASSERT_FALSE(tparker_park_until(&d, &soon));
	CU_ASSERT_TRUE(tparker_timed_out(&d));
	tparker_unpark(tparker_unpark_lock(&d));
	tparker_park(&d);

	tparker_prepare_park(&a);
	soon = tparker_deadline_after(1000000);
	CU_ASSERT_FALSE(tparker_park_until(&a, &soon));
	CU_ASSERT_TRUE(tparker_timed_out(&a));
	tparker_thread_yield();
	tparker_destroy(&a);
	tparker_destroy(&d);

	/* Across threads, both at once: one parked on each backend. */
	struct queue qg = {.lock = PTHREAD_MUTEX_INITIALIZER, .b = good};
	struct queue qd = {.lock = PTHREAD_MUTEX_INITIALIZER, .b = NULL};
	atomic_init(&qg.woken, 0);
	atomic_init(&qd.woken, 0);
	pthread_t tg, td;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&tg, NULL, parked_thread, &qg), 0);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&td, NULL, parked_thread, &qd), 0);
	wake_one(&qd);
	wake_one(&qg);
	pthread_join(tg, NULL);
	pthread_join(td, NULL);
	CU_ASSERT_EQUAL(atomic_load(&qg.woken), 1);
	CU_ASSERT_EQUAL(atomic_load(&qd.woken), 1);
}

/* Loads from many threads at once: one adopted good backend, and each
 * thread reads its own failure reason. */
#define N_THREADS 4
#define N_ROUNDS  25

static atomic_int thread_failures;
static const tparker_backend_t *seen_good[N_THREADS];

static void note_failure(const char *what, const char *detail)
{
	fprintf(stderr, "\n  thread: %s: %s\n", what, detail);
	atomic_fetch_add(&thread_failures, 1);
}

static void *opener(void *arg)
{
	size_t id = (size_t)arg;
	char good[4096], bad[4096];
	const struct broken_case *c = &broken_cases[1 + id % (N_BROKEN - 1)];
	plugin_path(good, sizeof(good), "tparker-good.so");
	plugin_path(bad, sizeof(bad), c->file);
	for (int i = 0; i < N_ROUNDS; i++) {
		const tparker_backend_t *b = NULL;
		if (tparker_backend_open(good, &b) != 0 || !b) {
			note_failure("good", tparker_backend_error());
			return NULL;
		}
		if (seen_good[id] && seen_good[id] != b)
			note_failure("good", "a second backend for the same file");
		seen_good[id] = b;

		const tparker_backend_t *out = untouched;
		int rc = tparker_backend_open(bad, &out);
		const char *why = tparker_backend_error();
		if (rc != c->err || !strstr(why, bad) || !strstr(why, c->phrase))
			note_failure(c->file, why);
		if (out != untouched && out != NULL)
			note_failure(c->file, "*out changed");
	}
	return NULL;
}

static void test_threads(void)
{
	pthread_t t[N_THREADS];
	for (size_t i = 0; i < N_THREADS; i++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, opener, (void *)i), 0);
	for (size_t i = 0; i < N_THREADS; i++)
		pthread_join(t[i], NULL);
	CU_ASSERT_EQUAL(atomic_load(&thread_failures), 0);
	for (size_t i = 1; i < N_THREADS; i++)
		CU_ASSERT_PTR_EQUAL(seen_good[i], seen_good[0]);
}

int main(void)
{
	loader_dir = getenv("TPTEST_LOADER_DIR");
	if (!loader_dir || !*loader_dir) {
		fprintf(stderr,
			"test-loader: TPTEST_LOADER_DIR is not set (run it by meson test)\n");
		return 1;
	}

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	CU_pSuite s = CU_add_suite("loader", NULL, NULL);
	if (!s)
		return 1;
	/* CUnit keeps the name's pointer, not a copy. */
	static char names[N_BROKEN][64];
	for (size_t i = 0; i < N_BROKEN; i++) {
		snprintf(names[i], sizeof(names[i]), "rejects %s", broken_cases[i].file);
		if (!CU_add_test(s, names[i], broken_tests[i]))
			return 1;
	}
	struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
	    {"open good, twice", test_open_good},
	    {"open empty path", test_open_null_args},
	    {"get invalid names", test_get_invalid},
	    {"get NULL", test_get_null},
	    {"get absent names", test_get_absent},
	    {"get past a directory too long for PATH_MAX", test_get_long_dir},
	    {"get broken by name", test_get_broken},
	    {"get spin is the built-in", test_get_spin},
	    {"backend_name(NULL)", test_name_null},
	    {"init_with a non-backend", test_init_with_bad},
	    {"good parker beside the default one", test_good_beside_default},
	    {"unknown word protocol: the plugin's operations run", test_word_unknown},
	    {"ABI 1.0 table: nothing read past its size", test_word_old_minor},
	    {"word protocol 1: the core's own steps", test_word_v1},
	    {"loads from threads", test_threads},
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
