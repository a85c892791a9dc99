/* SPDX-License-Identifier: MIT */
/* Broken here: a backend whose probe says this machine cannot run it. */
#include <stdio.h>

#include "trivial.h"

static int probefail_probe(const struct tparker_host *host, char *why, size_t why_len)
{
	(void)host;
	snprintf(why, why_len, "no such device here");
	return ENODEV;
}

static const struct tparker_backend ops = {
    .version = TPARKER_BACKEND_ABI_VERSION,
    .size = sizeof(struct tparker_backend),
    .name = "probefail",
    .description = "a test plugin",
    .priority = 1,
    .state_size = TRIVIAL_STATE_SIZE,
    .cheap_to_construct = true,
    .probe = probefail_probe,
    TRIVIAL_PARKER_OPS,
};

TPARKER_BACKEND_DEFINE(ops)
