/* SPDX-License-Identifier: MIT */
/* Finding plugins and choosing the default backend, once, at load time. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#ifndef TPARKER_PLUGINDIR
#error "TPARKER_PLUGINDIR must be set by the build"
#endif

/* The once-guard is a flag and a mutex rather than pthread_once: glibc's
 * pthread_once always ends with a futex wake, which a sandbox that denies
 * futex turns into an abort before any probe could decline the futex
 * backends. An uncontended mutex makes no system call. */
static atomic_bool tp_ready;
static pthread_mutex_t tp_once_mutex = PTHREAD_MUTEX_INITIALIZER;
/* tp_self() of the thread making the choice, 0 otherwise; with the low bit
 * set while the fork handlers hold the once-guard. */
static _Atomic uintptr_t tp_choosing;
static const struct tparker_backend *tp_chosen;
static char tp_reason[TP_REASON_MAX];

/* ---- the search path ------------------------------------------------------ */

typedef bool (*tp_dir_fn)(const char *dir, size_t len, void *ctx);

/* TPARKER_PLUGIN_PATH's directories, then the compiled-in one. Stops early
 * when fn returns false. */
static void tp_for_each_dir(tp_dir_fn fn, void *ctx)
{
	if (!TP_PLUGIN_LOADING)
		return;
	const char *path = tp_getenv("TPARKER_PLUGIN_PATH");
	while (path && *path) {
		const char *colon = strchr(path, TP_PATH_LIST_SEP);
		size_t len = colon ? (size_t)(colon - path) : strlen(path);
		if (len > 0 && !fn(path, len, ctx))
			return;
		path = colon ? colon + 1 : NULL;
	}
	fn(tp_plugin_dir(), strlen(tp_plugin_dir()), ctx);
}

static bool tp_describe_dir(const char *dir, size_t len, void *ctx)
{
	char *out = ctx;
	size_t used = strlen(out);
	snprintf(out + used, TP_REASON_MAX - used, "%s%.*s", used ? TP_PATH_LIST_SEP_S : "",
		 (int)len, dir);
	return true;
}

static void tp_search_path(char *out)
{
	if (!TP_PLUGIN_LOADING) {
		snprintf(out, TP_REASON_MAX, "(no folder: built without plugin loading)");
		return;
	}
	out[0] = '\0';
	tp_for_each_dir(tp_describe_dir, out);
}

/* "tparker-<name>.so" (".dll" on Windows) -> name; NULL for other file
 * names. */
static const char *tp_name_from_file(const char *file, char *name)
{
	const char *base = file;
	for (const char *c = file; *c; c++)
		if (TP_IS_DIR_SEP(*c))
			base = c + 1;
	size_t len = strlen(base);
	static const char prefix[] = "tparker-", suffix[] = TP_PLUGIN_SUFFIX;
	if (len <= strlen(prefix) + strlen(suffix) || strncmp(base, prefix, strlen(prefix)) != 0 ||
	    strcmp(base + len - strlen(suffix), suffix) != 0)
		return NULL;
	size_t nlen = len - strlen(prefix) - strlen(suffix);
	if (!tp_valid_name(base + strlen(prefix), nlen))
		return NULL;
	memcpy(name, base + strlen(prefix), nlen);
	name[nlen] = '\0';
	return name;
}

/* ---- loading ---------------------------------------------------------------- */

static int tp_open_locked(const char *path, const struct tparker_backend **out, char *why,
			  size_t why_len)
{
	char expect[TPARKER_NAME_MAX + 1];
	const char *expect_name = tp_name_from_file(path, expect);
	void *handle;
	tparker_backend_entry_fn entry;
	int err;

	tp_debug("trying %s", path);
	if (expect_name && tp_builtin_status(expect_name)) {
		snprintf(why, why_len,
			 "'%s' is built into this libtparker: a plugin file of that name is never "
			 "loaded",
			 expect_name);
		err = EEXIST;
		goto rejected;
	}
	err = tp_dl_load(path, &handle, &entry, why, why_len);
	if (err)
		goto rejected;
	const struct tparker_backend *src = entry(&tp_host);
	const struct tparker_backend *known = src ? tp_registry_find_origin(src) : NULL;
	if (known) {
		/* Already adopted (the same file, opened again): drop the extra
		 * reference; the first one keeps it loaded forever. */
		tp_dl_close(handle);
		*out = known;
		return 0;
	}
	struct tparker_backend copy;
	err = tp_validate(src, expect_name, &copy, why, why_len);
	if (!err && tp_builtin_status(copy.name)) {
		snprintf(why, why_len,
			 "'%s' is built into this libtparker: a plugin file of that name is never "
			 "loaded",
			 copy.name);
		err = EEXIST;
	}
	if (!err && tp_registry_find_name(copy.name)) {
		snprintf(why, why_len, "a backend named '%s' is already loaded", copy.name);
		err = EEXIST;
	}
	if (!err && !(*out = tp_registry_add(&copy, src))) {
		snprintf(why, why_len, "too many backends loaded (at most %d)", TP_REGISTRY_MAX);
		err = ENOMEM;
	}
	if (err) {
		tp_dl_close(handle);
		goto rejected;
	}
	tp_debug("found %s (priority %d): %s", copy.name, (int)copy.priority, copy.description);
	return 0;
rejected:
	tp_debug("%s rejected: %s", path, why);
	return err;
}

struct tp_find {
	const char *name;
	char path[PATH_MAX];
	bool found;
	size_t too_long; /* directories skipped: their plugin path exceeds PATH_MAX */
};

static bool tp_find_in_dir(const char *dir, size_t len, void *ctx)
{
	struct tp_find *f = ctx;
	int n = snprintf(f->path, sizeof(f->path),
			 "%.*s" TP_DIR_SEP_S "tparker-%s" TP_PLUGIN_SUFFIX, (int)len, dir, f->name);
	if (n < 0 || (size_t)n >= sizeof(f->path)) {
		tp_debug("plugin directory %.*s...: longer than %d bytes, skipped", 64, dir,
			 PATH_MAX - 1);
		f->too_long++;
		return true;
	}
	f->found = access(f->path, F_OK) == 0;
	return !f->found;
}

/* Caller holds the loader lock. The first file found on the search path
 * decides, as with PATH. */
static const struct tparker_backend *tp_get_locked(const char *name, char *why, size_t why_len)
{
	const struct tparker_backend *b = tp_registry_find_name(name);
	if (b)
		return b;
	const char *builtin_why = tp_builtin_status(name);
	if (builtin_why) {
		/* Rejected at start-up (its probe failed): no file stands in. */
		tp_format(why, why_len, "built-in %s: %s", name, builtin_why);
		return NULL;
	}
	if (!TP_PLUGIN_LOADING) {
		tp_format(why, why_len,
			  "no backend named '%s' is built into this libtparker, which was built "
			  "without plugin loading (plugin_loading=false)",
			  name);
		return NULL;
	}
	struct tp_find f = {.name = name};
	tp_for_each_dir(tp_find_in_dir, &f);
	if (!f.found) {
		char dirs[TP_REASON_MAX];
		tp_search_path(dirs);
		if (f.too_long)
			tp_format(why, why_len,
				  "no plugin tparker-%s" TP_PLUGIN_SUFFIX
				  " (%zu director%s skipped: a plugin path "
				  "there would exceed %d bytes) in %s",
				  name, f.too_long, f.too_long == 1 ? "y" : "ies", PATH_MAX - 1,
				  dirs);
		else
			tp_format(why, why_len, "no plugin tparker-%s" TP_PLUGIN_SUFFIX " in %s",
				  name, dirs);
		return NULL;
	}
	char reason[TP_REASON_MAX];
	if (tp_open_locked(f.path, &b, reason, sizeof(reason)) != 0) {
		tp_format(why, why_len, "%s: %s", f.path, reason);
		return NULL;
	}
	return b;
}

/* ---- the automatic choice ----------------------------------------------- */

struct tp_scan {
	const struct tparker_backend *best;
	char usable[TP_REASON_MAX];
};

static void tp_consider(struct tp_scan *s, const struct tparker_backend *b)
{
	size_t used = strlen(s->usable);
	snprintf(s->usable + used, sizeof(s->usable) - used, "%s%s", used ? ", " : "", b->name);
	if (!s->best || b->priority > s->best->priority)
		s->best = b;
}

/*
 * Every plugin of one directory, in name order, without a list: each pass
 * over the directory finds the smallest plugin name after the previous one.
 * No allocation beyond opendir's own and no limit on the number of files;
 * plugin directories hold a handful, so the passes cost nothing.
 */
static bool tp_scan_dir(const char *dir, size_t len, void *ctx)
{
	(void)ctx;
	char path[PATH_MAX];
	if (len >= sizeof(path)) {
		tp_debug("plugin directory %.*s...: longer than %d bytes, skipped", 64, dir,
			 PATH_MAX - 1);
		return true;
	}
	memcpy(path, dir, len);
	path[len] = '\0';
	DIR *d = opendir(path);
	if (!d) {
		tp_debug("plugin directory %s: %s", path, strerror(errno));
		return true;
	}
	char last[TPARKER_NAME_MAX + 1] = "", next[TPARKER_NAME_MAX + 1],
				     name[TPARKER_NAME_MAX + 1];
	for (;;) {
		bool found = false;
		struct dirent *e;
		rewinddir(d);
		while ((e = readdir(d)))
			if (tp_name_from_file(e->d_name, name) && strcmp(name, last) > 0 &&
			    (!found || strcmp(name, next) < 0)) {
				memcpy(next, name, sizeof(name));
				found = true;
			}
		if (!found)
			break;
		memcpy(last, next, sizeof(next));
		if (tp_builtin_status(next)) {
			tp_debug("%s" TP_DIR_SEP_S "tparker-%s" TP_PLUGIN_SUFFIX
				 " skipped: '%s' is built into this libtparker",
				 path, next, next);
			continue;
		}
		if (tp_registry_find_name(next))
			continue;
		char file[PATH_MAX], why[TP_REASON_MAX];
		int n = snprintf(file, sizeof(file),
				 "%s" TP_DIR_SEP_S "tparker-%s" TP_PLUGIN_SUFFIX, path, next);
		if (n < 0 || (size_t)n >= sizeof(file)) {
			tp_debug("%s" TP_DIR_SEP_S "tparker-%s" TP_PLUGIN_SUFFIX
				 ": longer than %d bytes, skipped",
				 path, next, PATH_MAX - 1);
			continue;
		}
		const struct tparker_backend *b;
		tp_open_locked(file, &b, why, sizeof(why));
	}
	closedir(d);
	return true;
}

/* Load every plugin on the search path; return the best usable backend,
 * with the names of all usable ones in s->usable. */
static void tp_scan_all(struct tp_scan *s)
{
	memset(s, 0, sizeof(*s));
	tp_for_each_dir(tp_scan_dir, NULL);
	/* Every adopted backend counts, spin (always first) included. */
	const struct tparker_backend *b;
	for (size_t i = 0; (b = tp_registry_at(i)); i++)
		tp_consider(s, b);
}

/* ---- the forced choice -------------------------------------------------- */

/* The value as it may appear on one line: control characters become '?'
 * and a long value is cut. */
static void tp_printable(const char *value, char *out, size_t out_len)
{
	size_t len = strlen(value), i;
	for (i = 0; i < len && i + 4 < out_len && i < 256; i++)
		out[i] = (value[i] >= 0x20 && value[i] < 0x7f) ? value[i] : '?';
	if (i < len)
		snprintf(out + i, out_len - i, "... (%zu bytes)", len);
	else
		out[i] = '\0';
}

static _Noreturn void tp_forced_failure(const char *value, const char *failures)
{
	struct tp_scan s;
	tp_scan_all(&s);
	char shown[300];
	tp_printable(value, shown, sizeof(shown));
	tp_fatal("TPARKER_BACKEND=\"%s\" cannot be honoured: %s; usable here: %s; "
		 "set TPARKER_BACKEND to one of them, end the list with spin for a fallback, "
		 "or unset it",
		 shown, failures, s.usable);
}

static void tp_choose_forced(const char *value)
{
	char failures[3 * TP_REASON_MAX] = "";
	/* A malformed entry is an error wherever it stands in the list. */
	if (!tp_list_check(value, failures, sizeof(failures)))
		tp_forced_failure(value, failures);

	const char *cursor = value;
	struct tp_entry e = {0};
	while (tp_list_next(&cursor, &e)) {
		/* tp_list_check() bounds the whole value, so any entry fits. */
		char entry[TP_ENV_VALUE_MAX + 1], why[TP_REASON_MAX];
		memcpy(entry, e.start, e.len);
		entry[e.len] = '\0';
		const struct tparker_backend *b = NULL;
		if (tp_entry_kind(&e) == TP_ENTRY_PATH) {
			if (tp_open_locked(entry, &b, why, sizeof(why)) != 0)
				b = NULL;
		} else {
			b = tp_get_locked(entry, why, sizeof(why));
		}
		if (b) {
			tp_chosen = b;
			char shown[300];
			tp_printable(value, shown, sizeof(shown));
			snprintf(tp_reason, sizeof(tp_reason), "forced by TPARKER_BACKEND=%s",
				 shown);
			return;
		}
		tp_debug("TPARKER_BACKEND entry %s: %s", entry, why);
		tp_append(failures, sizeof(failures), "%s: %s", entry, why);
	}
	tp_forced_failure(value, failures);
}

/*
 * fork() while another thread makes the choice or loads a plugin waits for
 * it, so the child never inherits a held once-guard or loader lock. A fork
 * from the choosing thread itself (a plugin's probe) keeps what it holds.
 */
static void tp_fork_prepare(void)
{
	uintptr_t self = tp_self();
	if (atomic_load_explicit(&tp_choosing, memory_order_relaxed) != self) {
		pthread_mutex_lock(&tp_once_mutex);
		atomic_store_explicit(&tp_choosing, self | 1, memory_order_relaxed);
	}
	tp_loader_fork_prepare();
}

static void tp_fork_release(void)
{
	tp_loader_fork_release();
	if (atomic_load_explicit(&tp_choosing, memory_order_relaxed) == (tp_self() | 1)) {
		atomic_store_explicit(&tp_choosing, 0, memory_order_relaxed);
		pthread_mutex_unlock(&tp_once_mutex);
	}
}

/* Runs once, under the once-guard, with tp_choosing set: a call back into
 * the library from here on (an allocator, a plugin's constructor) is
 * answered without waiting for the choice (see tp_default()). */
static void tp_choose(void)
{
	/* spin first: it is what a call back into the library gets. */
	tp_registry_add(&tp_spin_backend, &tp_spin_backend);
	TP_ATFORK(tp_fork_prepare, tp_fork_release, tp_fork_release);
	char why[TP_REASON_MAX];
	if (!tp_loader_lock(why, sizeof(why)))
		tp_fatal("choosing the default backend: %s", why);
	tp_registry_add_builtins();
	const char *forced = tp_getenv("TPARKER_BACKEND");
	if (forced) {
		tp_debug("TPARKER_BACKEND=%s", forced);
		tp_choose_forced(forced);
	} else {
		char dirs[TP_REASON_MAX];
		tp_search_path(dirs);
		tp_debug("TPARKER_BACKEND unset: probing plugins in %s", dirs);
		struct tp_scan s;
		tp_scan_all(&s);
		tp_chosen = s.best;
		if (s.best->priority > tp_spin_backend.priority)
			tp_format(tp_reason, sizeof(tp_reason),
				  "highest priority usable plugin (priority %d; usable: %s)",
				  (int)s.best->priority, s.usable);
		else if (!TP_PLUGIN_LOADING)
			snprintf(tp_reason, sizeof(tp_reason),
				 "last resort: no usable built-in backend, and this libtparker was "
				 "built without plugin loading");
		else
			snprintf(tp_reason, sizeof(tp_reason),
				 "last resort: no usable plugin in %s", dirs);
	}
	tp_loader_unlock();
	tp_debug("chosen: %s (%s)", tp_chosen->name, tp_reason);
}

__attribute__((constructor)) static void tp_constructor(void)
{
	tp_ensure_init();
}

void tp_ensure_init(void)
{
	if (atomic_load_explicit(&tp_ready, memory_order_acquire))
		return;
	uintptr_t self = tp_self();
	/* Called back from inside the choice: waiting would deadlock. */
	if (atomic_load_explicit(&tp_choosing, memory_order_relaxed) == self)
		return;
	pthread_mutex_lock(&tp_once_mutex);
	if (!atomic_load_explicit(&tp_ready, memory_order_relaxed)) {
		atomic_store_explicit(&tp_choosing, self, memory_order_relaxed);
		tp_choose();
		atomic_store_explicit(&tp_ready, true, memory_order_release);
		atomic_store_explicit(&tp_choosing, 0, memory_order_relaxed);
	}
	pthread_mutex_unlock(&tp_once_mutex);
}

static const char tp_reentry_reason[] =
    "called back from inside the choice of the default backend (by an allocator or a "
    "plugin's constructor): served by spin";

/* A call back from the choosing thread gets spin, the first backend the
 * registry holds: a parker made then stays on spin for its life. */
static __attribute__((cold, noinline)) const struct tparker_backend *tp_default_reentered(void)
{
	tp_debug("%s", tp_reentry_reason);
	return tp_registry_at(0);
}

const struct tparker_backend *tp_default(void)
{
	tp_ensure_init();
	if (TP_UNLIKELY(!atomic_load_explicit(&tp_ready, memory_order_acquire)))
		return tp_default_reentered();
	return tp_chosen;
}

/* ---- public ------------------------------------------------------------- */

TPARKER_API const tparker_backend_t *tparker_default_backend(void)
{
	return tp_default();
}

TPARKER_API const char *tparker_default_reason(void)
{
	tp_ensure_init();
	if (!atomic_load_explicit(&tp_ready, memory_order_acquire))
		return tp_reentry_reason;
	return tp_reason;
}

TPARKER_API const tparker_backend_t *tparker_backend_get(const char *name)
{
	tp_ensure_init();
	if (!name || !tp_valid_name(name, strnlen(name, TPARKER_NAME_MAX + 1))) {
		tp_set_error("%s: invalid backend name (1 to %d characters of [a-z0-9_-], "
			     "starting with a letter)",
			     name ? name : "(null)", TPARKER_NAME_MAX);
		return NULL;
	}
	char why[TP_REASON_MAX];
	if (!tp_loader_lock(why, sizeof(why))) {
		tp_set_error("%s: %s", name, why);
		return NULL;
	}
	const struct tparker_backend *b = tp_get_locked(name, why, sizeof(why));
	tp_loader_unlock();
	if (!b)
		tp_set_error("%s", why);
	return b;
}

TPARKER_API int tparker_backend_open(const char *path, const tparker_backend_t **out)
{
	tp_ensure_init();
	if (!path || !*path || !out) {
		tp_set_error("%s: %s", path ? path : "(null)",
			     out ? "empty path" : "no place for the result (out is NULL)");
		return EINVAL;
	}
	char why[TP_REASON_MAX];
	const struct tparker_backend *b;
	if (!tp_loader_lock(why, sizeof(why))) {
		tp_set_error("%s: %s", path, why);
		return EDEADLK;
	}
	int err = tp_open_locked(path, &b, why, sizeof(why));
	tp_loader_unlock();
	if (err) {
		tp_set_error("%s: %s", path, why);
		return err;
	}
	*out = b;
	return 0;
}

TPARKER_API const char *tparker_backend_error(void)
{
	return tp_get_error();
}

TPARKER_API const char *tparker_plugin_dir(void)
{
	return tp_plugin_dir();
}

TPARKER_API const char *tparker_version(void)
{
	return TPARKER_VERSION;
}
