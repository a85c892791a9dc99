/* SPDX-License-Identifier: MIT */
/* tparker info: the library, its plugin directory and the environment in effect. */
#include <stdio.h>

#include "cli.h"

static const char *const info_vars[] = {
    "TPARKER_BACKEND",
    "TPARKER_PLUGIN_PATH",
    "TPARKER_DEBUG",
    "TPARKER_SPIN_NS",
};

int cmd_info(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			cli_print_help();
			return CLI_OK;
		}
		if (argv[i][0] == '-')
			return cli_usage_error("info: unknown option '%s'", argv[i]);
		return cli_usage_error("info: unexpected argument '%s'", argv[i]);
	}

	const tparker_backend_t *def = tparker_default_backend();
	printf("%-21s %s\n", "libtparker", tparker_version());
	printf("%-21s %s\n", "plugin directory", tparker_plugin_dir());
	for (size_t i = 0; i < sizeof(info_vars) / sizeof(info_vars[0]); i++) {
		bool ignored;
		const char *v = scan_env(info_vars[i], &ignored);
		if (ignored)
			v = "(ignored: secure execution)";
		else if (!v)
			v = "(unset)";
		else if (!*v)
			v = "(set, empty)";
		printf("%-21s %s\n", info_vars[i], v);
	}
	printf("%-21s %s (%s)\n", "default backend", tparker_backend_name(def),
	       tparker_default_reason());
	printf("%-21s %zu bytes\n", "sizeof(tparker_t)", sizeof(tparker_t));
	return CLI_OK;
}
