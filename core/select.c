/* SPDX-License-Identifier: MIT */
/* Finding plugins and choosing the default backend, once, at load time. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
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
static const struct tparker_backend *tp_chosen;
static char tp_reason[TP_REASON_MAX];

/* ---- the search path ------------------------------------------------------ */

typedef bool (*tp_dir_fn)(const char *dir, size_t len, void *ctx);

/* TPARKER_PLUGIN_PATH's directories, then the compiled-in one. Stops early
 * when fn returns false. */
static void tp_for_each_dir(tp_dir_fn fn, void *ctx)
{
	const char *path = tp_getenv("TPARKER_PLUGIN_PATH");
	while (path && *path) {
		const char *colon = strchr(path, ':');
		size_t len = colon ? (size_t)(colon - path) : strlen(path);
		if (len > 0 && !fn(path, len, ctx))
			return;
		path = colon ? colon + 1 : NULL;
	}
	fn(TPARKER_PLUGINDIR, strlen(TPARKER_PLUGINDIR), ctx);
}

static bool tp_describe_dir(const char *dir, size_t len, void *ctx)
{
	char *out = ctx;
	size_t used = strlen(out);
	snprintf(out + used, TP_REASON_MAX - used, "%s%.*s", used ? ":" : "", (int)len, dir);
	return true;
}

static void tp_search_path(char *out)
{
	out[0] = '\0';
	tp_for_each_dir(tp_describe_dir, out);
}

/* "tparker-<name>.so" -> name; NULL for other file names. */
static const char *tp_name_from_file(const char *file, char *name)
{
	const char *base = strrchr(file, '/');
	base = base ? base + 1 : file;
	size_t len = strlen(base);
	static const char prefix[] = "tparker-", suffix[] = ".so";
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

	tp_debug("trying %s", path);
	int err = tp_dl_load(path, &handle, &entry, why, why_len);
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
	if (!err && tp_registry_find_name(copy.name)) {
		snprintf(why, why_len, "a backend named '%s' is already loaded", copy.name);
		err = EEXIST;
	}
	if (!err && !(*out = tp_registry_add(&copy, src))) {
		snprintf(why, why_len, "too many backends loaded");
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
	char path[4096];
	bool found;
};

static bool tp_find_in_dir(const char *dir, size_t len, void *ctx)
{
	struct tp_find *f = ctx;
	snprintf(f->path, sizeof(f->path), "%.*s/tparker-%s.so", (int)len, dir, f->name);
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
	struct tp_find f = {.name = name};
	tp_for_each_dir(tp_find_in_dir, &f);
	if (!f.found) {
		char dirs[TP_REASON_MAX];
		tp_search_path(dirs);
		snprintf(why, why_len, "no plugin tparker-%s.so in %s", name, dirs);
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

static int tp_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void tp_consider(struct tp_scan *s, const struct tparker_backend *b)
{
	size_t used = strlen(s->usable);
	snprintf(s->usable + used, sizeof(s->usable) - used, "%s%s", used ? ", " : "", b->name);
	if (!s->best || b->priority > s->best->priority)
		s->best = b;
}

static bool tp_scan_dir(const char *dir, size_t len, void *ctx)
{
	(void)ctx;
	char path[4096];
	snprintf(path, sizeof(path), "%.*s", (int)len, dir);
	DIR *d = opendir(path);
	if (!d) {
		tp_debug("plugin directory %s: %s", path, strerror(errno));
		return true;
	}
	char *names[256];
	size_t n = 0;
	struct dirent *e;
	char name[TPARKER_NAME_MAX + 1];
	while ((e = readdir(d)) && n < sizeof(names) / sizeof(names[0]))
		if (tp_name_from_file(e->d_name, name))
			names[n++] = strdup(name);
	closedir(d);
	qsort(names, n, sizeof(names[0]), tp_cmp_str);
	for (size_t i = 0; i < n; i++) {
		if (names[i] && !tp_registry_find_name(names[i])) {
			char file[4096 + 64], why[TP_REASON_MAX];
			const struct tparker_backend *b;
			snprintf(file, sizeof(file), "%s/tparker-%s.so", path, names[i]);
			tp_open_locked(file, &b, why, sizeof(why));
		}
		free(names[i]);
	}
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

static void tp_trim(char **s)
{
	char *p = *s, *end = p + strlen(p);
	while (*p == ' ' || *p == '\t')
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*end = '\0';
	*s = p;
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

/* Append "; "-separated text to a failure list. */
__attribute__((format(printf, 3, 4))) static void tp_append(char *buf, size_t len, const char *fmt,
							    ...)
{
	size_t used = strlen(buf);
	if (used + 2 >= len)
		return;
	if (used) {
		memcpy(buf + used, "; ", 3);
		used += 2;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

static void tp_choose_forced(const char *value)
{
	char failures[3 * TP_REASON_MAX] = "";
	if (strlen(value) > TP_ENV_VALUE_MAX) {
		tp_append(failures, sizeof(failures),
			  "the value is %zu bytes, longer than the %d allowed", strlen(value),
			  TP_ENV_VALUE_MAX);
		tp_forced_failure(value, failures);
	}
	char copy[TP_ENV_VALUE_MAX + 1];
	snprintf(copy, sizeof(copy), "%s", value);
	char *entries[TP_ENV_VALUE_MAX / 2 + 1];
	size_t n = 0;
	char *cursor = copy;
	/* Split by hand: strtok would hide empty entries. */
	for (;;) {
		char *comma = strchr(cursor, ',');
		if (comma)
			*comma = '\0';
		entries[n++] = cursor;
		if (!comma)
			break;
		cursor = comma + 1;
	}

	/* A malformed entry is an error wherever it stands in the list. */
	bool malformed = false;
	for (size_t i = 0; i < n; i++) {
		tp_trim(&entries[i]);
		char *e = entries[i];
		if (!*e) {
			tp_append(failures, sizeof(failures), "entry %zu is empty", i + 1);
			malformed = true;
		} else if (strchr(e, '/')) {
			if (e[0] != '/') {
				tp_append(failures, sizeof(failures),
					  "%s: a relative path, give an absolute path", e);
				malformed = true;
			}
		} else if (!tp_valid_name(e, strlen(e))) {
			tp_append(
			    failures, sizeof(failures),
			    "'%s' is not a valid backend name ([a-z0-9_-], starting with a letter)",
			    e);
			malformed = true;
		}
	}
	if (malformed)
		tp_forced_failure(value, failures);

	for (size_t i = 0; i < n; i++) {
		const char *e = entries[i];
		char why[TP_REASON_MAX];
		const struct tparker_backend *b = NULL;
		if (e[0] == '/') {
			if (tp_open_locked(e, &b, why, sizeof(why)) != 0)
				b = NULL;
		} else {
			b = tp_get_locked(e, why, sizeof(why));
		}
		if (b) {
			tp_chosen = b;
			char shown[300];
			tp_printable(value, shown, sizeof(shown));
			snprintf(tp_reason, sizeof(tp_reason), "forced by TPARKER_BACKEND=%s",
				 shown);
			return;
		}
		tp_debug("TPARKER_BACKEND entry %s: %s", e, why);
		tp_append(failures, sizeof(failures), "%s: %s", e, why);
	}
	tp_forced_failure(value, failures);
}

static void tp_choose(void)
{
	tp_loader_atfork();
	tp_loader_lock();
	tp_registry_add(&tp_spin_backend, &tp_spin_backend);
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
	pthread_mutex_lock(&tp_once_mutex);
	if (!atomic_load_explicit(&tp_ready, memory_order_relaxed)) {
		tp_choose();
		atomic_store_explicit(&tp_ready, true, memory_order_release);
	}
	pthread_mutex_unlock(&tp_once_mutex);
}

const struct tparker_backend *tp_default(void)
{
	tp_ensure_init();
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
	tp_loader_lock();
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
	tp_loader_lock();
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
	return TPARKER_PLUGINDIR;
}

TPARKER_API const char *tparker_version(void)
{
	return TPARKER_VERSION;
}
