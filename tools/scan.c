/* SPDX-License-Identifier: MIT */
/* Finding backends the way the library does: built-in spin first, then the
 * plugin search path; the first file of a name wins. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define SCAN_PREFIX "tparker-"
#define SCAN_SUFFIX ".so"

const char *scan_env(const char *name, bool *ignored)
{
	/* The library reads through secure_getenv(): show what it sees. */
	const char *seen = secure_getenv(name);
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

static int scan_filter(const struct dirent *d)
{
	size_t len = strlen(d->d_name);
	size_t fix = strlen(SCAN_PREFIX) + strlen(SCAN_SUFFIX);
	return len >= fix && strncmp(d->d_name, SCAN_PREFIX, strlen(SCAN_PREFIX)) == 0 &&
	       strcmp(d->d_name + len - strlen(SCAN_SUFFIX), SCAN_SUFFIX) == 0;
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
	if (!realpath(path, real))
		return 0; /* a missing directory holds no plugins */
	if (scan_seen_dir(*seen, *nseen, real))
		return 0;
	char(*grown)[PATH_MAX] = realloc(*seen, (*nseen + 1) * sizeof(**seen));
	if (!grown)
		return ENOMEM;
	*seen = grown;
	memcpy(grown[(*nseen)++], real, sizeof(real));

	struct dirent **list;
	int n = scandir(path, &list, scan_filter, alphasort);
	if (n < 0)
		return 0;
	int err = 0;
	for (int i = 0; i < n; i++) {
		const char *file = list[i]->d_name;
		size_t len = strlen(file);
		char *full = NULL;
		if (!err && asprintf(&full, "%s/%s", path, file) < 0)
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

int scan_backends(struct scan *s)
{
	s->v = NULL;
	s->n = s->cap = 0;
	int err = scan_push(s, "spin", 4, NULL);
	char(*seen)[PATH_MAX] = NULL;
	size_t nseen = 0;
	bool ignored;
	const char *path = scan_env("TPARKER_PLUGIN_PATH", &ignored);
	while (!err && path && *path) {
		const char *colon = strchr(path, ':');
		size_t len = colon ? (size_t)(colon - path) : strlen(path);
		if (len > 0)
			err = scan_dir(s, path, len, &seen, &nseen);
		path = colon ? colon + 1 : NULL;
	}
	if (!err) {
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
