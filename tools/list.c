/* SPDX-License-Identifier: MIT */
/* tparker list: every backend found, whether it works here, the default. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define LIST_INDENT "                 "

static void list_usable(const struct tparker_backend *b, const tparker_backend_t *def,
			const char *path)
{
	printf("%c %-13s %5d  usable    %s\n", b == def ? '*' : ' ', b->name, (int)b->priority,
	       b->description);
	printf(LIST_INDENT "%s\n", path);
}

/* The TPARKER_BACKEND entry that is a path to the default's file, if any. */
static void forced_path(const char *name, char *out, size_t len)
{
	bool ignored;
	const char *v = scan_env("TPARKER_BACKEND", &ignored);
	char want[TPARKER_NAME_MAX + 16];
#if defined(_WIN32)
	snprintf(want, sizeof(want), "tparker-%s.dll", name);
#else
	snprintf(want, sizeof(want), "tparker-%s.so", name);
#endif
	snprintf(out, len, "(named by TPARKER_BACKEND, outside the search path)");
	while (v && *v) {
		const char *comma = strchr(v, ',');
		size_t n = comma ? (size_t)(comma - v) : strlen(v);
		const char *s = v, *e = v + n;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		size_t wl = strlen(want);
		if ((size_t)(e - s) > wl && memcmp(e - wl, want, wl) == 0 &&
		    cli_is_dir_sep(e[-wl - 1])) {
			snprintf(out, len, "%.*s", (int)(e - s), s);
			return;
		}
		v = comma ? comma + 1 : NULL;
	}
}

int cmd_list(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			cli_print_help();
			return CLI_OK;
		}
		if (argv[i][0] == '-')
			return cli_usage_error("list: unknown option '%s'", argv[i]);
		return cli_usage_error("list: unexpected argument '%s'", argv[i]);
	}

	const tparker_backend_t *def = tparker_default_backend();
	struct scan s;
	int err = scan_backends(&s);
	if (err) {
		fprintf(stderr, "tparker: list: %s\n", strerror(err));
		return CLI_FAILED;
	}

	bool shown_default = false;
	printf("  %-13s %5s  %-8s  %s\n", "NAME", "PRIO", "STATUS", "DESCRIPTION / FILE");
	for (size_t i = 0; i < s.n; i++) {
		const struct scan_entry *e = &s.v[i];
		if (e->shadowed_by >= 0) {
			const struct scan_entry *w = &s.v[e->shadowed_by];
			printf("  %-13s %5s  shadowed  by %s\n", e->name, "-",
			       w->path ? w->path : "the built-in backend");
			printf(LIST_INDENT "%s\n", e->path);
			continue;
		}
		const struct tparker_backend *b;
		if (!e->path) {
			b = tparker_backend_get(e->name);
		} else if (tparker_backend_open(e->path, &b) != 0) {
			b = NULL;
		}
		if (!b && strcmp(e->name, def->name) == 0) {
			/* TPARKER_BACKEND=/abs/path loaded another file of this name
			 * first; the library keeps that one. */
			printf("  %-13s %5s  shadowed  by the default, loaded through "
			       "TPARKER_BACKEND\n",
			       e->name, "-");
			printf(LIST_INDENT "%s\n", e->path);
			continue;
		}
		if (!b) {
			printf("  %-13s %5s  unusable: %s\n", e->name, "-",
			       tparker_backend_error());
			printf(LIST_INDENT "%s\n", e->path ? e->path : "(built-in)");
			continue;
		}
		shown_default |= b == def;
		list_usable(b, def, e->path ? e->path : "(built-in)");
	}
	/* TPARKER_BACKEND=/abs/path can pick a file outside the search path. */
	if (!shown_default) {
		char path[4200];
		forced_path(def->name, path, sizeof(path));
		list_usable(def, def, path);
	}
	printf("\ndefault: %s (%s)\n", tparker_backend_name(def), tparker_default_reason());
	scan_free(&s);
	return CLI_OK;
}
