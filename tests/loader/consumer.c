/* SPDX-License-Identifier: MIT */
/*
 * A program outside the project, built against an installed libtparker by
 * pkg-config alone: it uses every name of the README's API table.
 * usage: consumer PLUGINDIR
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <tparker/tparker.h>

static int failures;

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "consumer: FAIL: %s\n", what);
		failures++;
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: consumer PLUGINDIR\n");
		return 2;
	}
	const char *plugindir = argv[1];

	const tparker_backend_t *def = tparker_default_backend();
	const char *name = tparker_backend_name(def);
	printf("version: %s\ndefault: %s\nreason: %s\nplugin dir: %s\n", tparker_version(), name,
	       tparker_default_reason(), tparker_plugin_dir());

	tparker_t p;
	check(tparker_init(&p) == 0, "tparker_init");
	tparker_prepare_park(&p);
	tparker_unpark_handle_t h = tparker_unpark_lock(&p);
	tparker_unpark(h);
	tparker_park(&p);
	tparker_prepare_park(&p);
	struct timespec soon = tparker_deadline_after(1000000);
	check(!tparker_park_until(&p, &soon), "tparker_park_until times out");
	check(tparker_timed_out(&p), "tparker_timed_out");
	tparker_destroy(&p);
	tparker_thread_yield();

	const tparker_backend_t *spin = tparker_backend_get("spin");
	check(spin != NULL, "tparker_backend_get(\"spin\")");
	check(tparker_init_with(&p, spin) == 0, "tparker_init_with(spin)");
	tparker_prepare_park(&p);
	tparker_unpark(tparker_unpark_lock(&p));
	tparker_park(&p);
	tparker_destroy(&p);

	check(tparker_backend_get("nosuch") == NULL, "tparker_backend_get(\"nosuch\") fails");
	check(strstr(tparker_backend_error(), "tparker-nosuch.so") != NULL,
	      "tparker_backend_error() names the missing file");

	/* The installed plugin the default came from is the same backend. */
	char path[4096];
	const tparker_backend_t *opened = NULL;
	if (strcmp(name, "spin") != 0) {
		snprintf(path, sizeof(path), "%s/tparker-%s.so", plugindir, name);
		int rc = tparker_backend_open(path, &opened);
		if (rc != 0)
			fprintf(stderr, "consumer: %s\n", tparker_backend_error());
		check(rc == 0 && opened == def, "tparker_backend_open(default's plugin file)");
	} else {
		snprintf(path, sizeof(path), "%s/tparker-nosuch.so", plugindir);
		check(tparker_backend_open(path, &opened) == ENOENT && opened == NULL,
		      "tparker_backend_open(missing file)");
	}

	return failures ? 1 : 0;
}
