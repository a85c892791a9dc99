/* SPDX-License-Identifier: MIT */
/* Finding backends the way the library does: spin and the built-in plugins
 * first, then the plugin search path; the first file of a name wins. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define SCAN_PREFIX "tparker-"
#if defined(_WIN32)
#define SCAN_SUFFIX   ".dll"
#define SCAN_LIST_SEP ';' /* ':' is in every drive path */
#define SCAN_DIR_SEP  "\\"
#else
#define SCAN_SUFFIX   ".so"
#define SCAN_LIST_SEP ':'
#define SCAN_DIR_SEP  "/"
#endif

const char *scan_env(const char *name, bool *ignored)
{
#if defined(_WIN32)
	/* No secure execution on Windows: the library reads getenv() there. */
	const char *seen = getenv(name);
#else
	/* The library reads through secure_getenv(): show what it sees. */
	const char *seen = secure_getenv(name);
#endif
	*ignored = !seen && getenv(name);
	return seen;
}

static int scan_push(struct scan *s, const char *name, size_t name_len, char *path)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct scan_entry *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	struct scan_entry *e = &s->v[s->n];
	snprintf(e->name, sizeof(e->name), "%.*s", (int)name_len, name);
	e->path = path;
	e->shadowed_by = -1;
	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i].shadowed_by < 0 && strcmp(s->v[i].name, e->name) == 0) {
			e->shadowed_by = (long)i;
			break;
		}
	}
	s->n++;
	return 0;
}

static bool scan_filter(const char *name)
{
	size_t len = strlen(name);
	size_t fix = strlen(SCAN_PREFIX) + strlen(SCAN_SUFFIX);
	return len >= fix && strncmp(name, SCAN_PREFIX, strlen(SCAN_PREFIX)) == 0 &&
	       strcmp(name + len - strlen(SCAN_SUFFIX), SCAN_SUFFIX) == 0;
}

static int scan_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The plugin file names in dir, sorted; *n of them (0 for a directory that
 * cannot be read). scandir() is not in mingw-w64's C library. */
static char **scan_names(const char *dir, size_t *n, int *err)
{
	char **v = NULL;
	size_t cap = 0;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return NULL;
	for (struct dirent *e; !*err && (e = readdir(d));) {
		if (!scan_filter(e->d_name))
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 8;
			char **grown = realloc(v, cap * sizeof(*v));
			if (!grown) {
				*err = ENOMEM;
				break;
			}
			v = grown;
		}
		if (!(v[*n] = strdup(e->d_name)))
			*err = ENOMEM;
		else
			(*n)++;
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof(*v), scan_cmp);
	return v;
}

/* A directory named twice (the plugin dir also in TPARKER_PLUGIN_PATH)
 * would otherwise list its files as shadowing themselves. */
static bool scan_seen_dir(char (*seen)[PATH_MAX], size_t n, const char *real)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(seen[i], real) == 0)
			return true;
	return false;
}

static int scan_dir(struct scan *s, const char *dir, size_t dir_len, char (**seen)[PATH_MAX],
		    size_t *nseen)
{
	char path[PATH_MAX], real[PATH_MAX];
	snprintf(path, sizeof(path), "%.*s", (int)dir_len, dir);
#if defined(_WIN32)
	if (!_fullpath(real, path, sizeof(real)))
#else
	if (!realpath(path, real))
#endif
		return 0; /* a missing directory holds no plugins */
	if (scan_seen_dir(*seen, *nseen, real))
		return 0;
	char(*grown)[PATH_MAX] = realloc(*seen, (*nseen + 1) * sizeof(**seen));
	if (!grown)
		return ENOMEM;
	*seen = grown;
	memcpy(grown[(*nseen)++], real, sizeof(real));

	size_t n;
	int err = 0;
	char **list = scan_names(path, &n, &err);
	for (size_t i = 0; i < n; i++) {
		const char *file = list[i];
		size_t len = strlen(file);
		char *full = NULL;
		if (!err && asprintf(&full, "%s" SCAN_DIR_SEP "%s", path, file) < 0)
			err = ENOMEM;
		if (!err) {
			err = scan_push(s, file + strlen(SCAN_PREFIX),
					len - strlen(SCAN_PREFIX) - strlen(SCAN_SUFFIX), full);
			if (err)
				free(full);
		}
		free(list[i]);
	}
	free(list);
	return err;
}

/* The plugins compiled into the library this tool is built with
 * (-Dbuiltin_plugins, a comma list), and whether it loads plugin files. */
#ifndef TPARKER_TOOL_BUILTINS
#define TPARKER_TOOL_BUILTINS ""
#endif
#ifndef TPARKER_TOOL_PLUGIN_LOADING
#define TPARKER_TOOL_PLUGIN_LOADING 1
#endif

int scan_backends(struct scan *s)
{
	s->v = NULL;
	s->n = s->cap = 0;
	int err = scan_push(s, "spin", 4, NULL);
	/* Built in, like spin, and ahead of any file: a file of their name is
	 * shadowed, as the library never loads it. */
	for (const char *b = TPARKER_TOOL_BUILTINS; !err && *b;) {
		size_t len = strcspn(b, ",");
		if (len > 0)
			err = scan_push(s, b, len, NULL);
		b += len + (b[len] == ',');
	}
	char(*seen)[PATH_MAX] = NULL;
	size_t nseen = 0;
	bool ignored;
	const char *path = scan_env("TPARKER_PLUGIN_PATH", &ignored);
	while (!err && TPARKER_TOOL_PLUGIN_LOADING && path && *path) {
		const char *colon = strchr(path, SCAN_LIST_SEP);
		size_t len = colon ? (size_t)(colon - path) : strlen(path);
		if (len > 0)
			err = scan_dir(s, path, len, &seen, &nseen);
		path = colon ? colon + 1 : NULL;
	}
	if (!err && TPARKER_TOOL_PLUGIN_LOADING) {
		const char *dir = tparker_plugin_dir();
		err = scan_dir(s, dir, strlen(dir), &seen, &nseen);
	}
	free(seen);
	if (err)
		scan_free(s);
	return err;
}

void scan_free(struct scan *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].path);
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}
