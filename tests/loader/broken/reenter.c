/* SPDX-License-Identifier: MIT */
/*
 * Broken here: a probe that calls back into the library's loader, as a
 * plugin (or a library it links) might from its constructor or probe. The
 * library must refuse the call with a reason instead of deadlocking on its
 * own loader lock. Plugins do not link libtparker: the calls are looked up
 * in the process.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "trivial.h"

static int reenter_probe(const struct tparker_host *host, char *why, size_t why_len)
{
	(void)host;
	const tparker_backend_t *(*get)(const char *) = NULL;
	int (*open)(const char *, const tparker_backend_t **) = NULL;
	const char *(*error)(void) = NULL;
	void *sym;
	if ((sym = dlsym(RTLD_DEFAULT, "tparker_backend_get")))
		memcpy(&get, &sym, sizeof(sym));
	if ((sym = dlsym(RTLD_DEFAULT, "tparker_backend_open")))
		memcpy(&open, &sym, sizeof(sym));
	if ((sym = dlsym(RTLD_DEFAULT, "tparker_backend_error")))
		memcpy(&error, &sym, sizeof(sym));
	if (!get || !open || !error) {
		snprintf(why, why_len, "libtparker's functions not found in the process");
		return ENOENT;
	}
	const tparker_backend_t *b = get("spin");
	if (b) {
		snprintf(why, why_len, "tparker_backend_get worked from inside a probe");
		return 0;
	}
	char first[600];
	snprintf(first, sizeof(first), "%s", error());
	if (open("/nonexistent/tparker-x.so", &b) != EDEADLK) {
		snprintf(why, why_len, "tparker_backend_open did not refuse with EDEADLK");
		return 0;
	}
	snprintf(why, why_len, "get: %s; open: %s", first, error());
	return EDEADLK;
}

static const struct tparker_backend ops = {
    .version = TPARKER_BACKEND_ABI_VERSION,
    .size = sizeof(struct tparker_backend),
    .name = "reenter",
    .description = "a test plugin",
    .priority = 1,
    .state_size = TRIVIAL_STATE_SIZE,
    .cheap_to_construct = true,
    .probe = reenter_probe,
    TRIVIAL_PARKER_OPS,
};

TPARKER_BACKEND_DEFINE(ops)
