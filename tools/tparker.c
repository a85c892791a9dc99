/* SPDX-License-Identifier: MIT */
/* The tparker command: dispatch, help and usage errors. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <tparker/tparker.h>

#include "cli.h"

static const char help_text[] =
    "usage: tparker [--help | --version] <command> [options]\n"
    "\n"
    "Inspect and measure libtparker's thread-parking backends.\n"
    "\n"
    "commands:\n"
    "  list      every backend found: spin and the plugins built into the library,\n"
    "            then each plugin file in $TPARKER_PLUGIN_PATH and the plugin\n"
    "            directory, with its priority, description and whether it works\n"
    "            here; '*' marks the default\n"
    "  info      library version, plugin directory, TPARKER_* variables in effect,\n"
    "            default backend and why, sizeof(tparker_t)\n"
    "  bench     measure every usable backend side by side with inline baselines\n"
    "            (raw-futex, raw-condvar, posix-sem, cxx20-atomic), interleaved in\n"
    "            rounds\n"
    "  help      this text\n"
    "\n"
    "bench options:\n"
    "  --quick           short run (under 20 s on 2 cores): fewer rounds, shorter runs\n"
    "  --rounds N        rounds per benchmark (default 5; 3 with --quick)\n"
    "  --backend NAME    only these backends (repeatable or a comma list); NAME-direct\n"
    "                    names the default backend's direct-call variant; the\n"
    "                    baselines always run\n"
    "  --only BENCH      only these benchmarks (repeatable or a comma list):\n"
    "                    fastpath, pingpong, storm, timeout, idle, memory\n"
    "                    or lock alone: tparker_mutex_t and tparker_cond_t against\n"
    "                    pthread's, tparker_wait/wake against the raw futex\n"
    "  --json            JSON on stdout instead of the table\n"
    "  --plot FILE.png   also draw ping-pong and wake-storm latency with gnuplot\n"
    "\n"
    "environment (read by the library, shown by 'tparker info'):\n"
    "  TPARKER_BACKEND       force a backend: name, comma list, or absolute path\n"
    "  TPARKER_PLUGIN_PATH   colon list of plugin directories searched first\n"
    "  TPARKER_DEBUG=1       log the backend choice to stderr\n"
    "  TPARKER_SPIN_NS       bound of the adaptive spin before sleeping (0: never spin)\n"
    "\n"
    "exit status:\n"
    "  0  success\n"
    "  1  a run failed: a bench correctness check (lost wakeup, early timeout),\n"
    "     gnuplot missing or failing, an output error\n"
    "  2  usage error: unknown command or option, missing or bad argument\n";

void cli_print_help(void)
{
	fputs(help_text, stdout);
}

bool cli_is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int cli_usage_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "tparker: %s (try 'tparker --help')\n", msg);
	return CLI_USAGE;
}

static int finish(int status)
{
	/* A full disk or closed pipe on stdout is a failed run, not success. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "tparker: error writing to stdout\n");
		return status == CLI_OK ? CLI_FAILED : status;
	}
	return status;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error("missing command");
	const char *cmd = argv[1];
	if (cli_is_help(cmd) || strcmp(cmd, "help") == 0) {
		cli_print_help();
		return finish(CLI_OK);
	}
	if (strcmp(cmd, "--version") == 0) {
		printf("tparker %s (libtparker %s)\n", TPARKER_TOOL_VERSION, tparker_version());
		return finish(CLI_OK);
	}
	if (cmd[0] == '-')
		return cli_usage_error("unknown option '%s'", cmd);
	if (strcmp(cmd, "list") == 0)
		return finish(cmd_list(argc - 1, argv + 1));
	if (strcmp(cmd, "info") == 0)
		return finish(cmd_info(argc - 1, argv + 1));
	if (strcmp(cmd, "bench") == 0)
		return finish(cmd_bench(argc - 1, argv + 1));
	return cli_usage_error("unknown command '%s'", cmd);
}
