/* SPDX-License-Identifier: MIT */
/* Shared by the tparker command's pieces: commands, usage errors, discovery. */
#ifndef TPARKER_TOOLS_CLI_H
#define TPARKER_TOOLS_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include <tparker/backend.h>

/* Exit statuses, documented in --help. */
#define CLI_OK	   0
#define CLI_FAILED 1
#define CLI_USAGE  2

/* One line "tparker: <problem> (try 'tparker --help')" on stderr; returns CLI_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_print_help(void);
/* true when arg is -h or --help. */
bool cli_is_help(const char *arg);

int cmd_list(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* ---- scan.c: where backends come from -------------------------------------- */

struct scan_entry {
	char name[TPARKER_NAME_MAX + 1 + 64]; /* from the file name; may be invalid */
	char *path;			      /* NULL: built in (spin, -Dbuiltin_plugins) */
	long shadowed_by;		      /* index of the entry of the same name, or -1 */
};

struct scan {
	struct scan_entry *v;
	size_t n, cap;
};

/* The built-in backends (spin, then those of -Dbuiltin_plugins), then every
 * tparker-*.so in each directory of TPARKER_PLUGIN_PATH and then
 * tparker_plugin_dir(), in the library's search order (sorted by name within
 * a directory). 0 or an errno value. */
int scan_backends(struct scan *s);
void scan_free(struct scan *s);
/* What TPARKER_* variable name holds, as the library sees it: NULL when
 * unset; *ignored set when secure execution hides a value that is set. */
const char *scan_env(const char *name, bool *ignored);

/* A directory separator in a path: '/' and, on Windows, '\\' too. */
static inline bool cli_is_dir_sep(char c)
{
#if defined(_WIN32)
	return c == '/' || c == '\\';
#else
	return c == '/';
#endif
}

#endif
