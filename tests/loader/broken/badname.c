/* SPDX-License-Identifier: MIT */
/* Broken: a name outside [a-z][a-z0-9_-]*. */
#include "trivial.h"

static const struct tparker_backend ops = {
    .version = TPARKER_BACKEND_ABI_VERSION,
    .size = sizeof(struct tparker_backend),
    .name = "Bad Name!",
    .description = "a test plugin",
    .priority = 1,
    .state_size = TRIVIAL_STATE_SIZE,
    .cheap_to_construct = true,
    .probe = trivial_probe,
    TRIVIAL_PARKER_OPS,
};

TPARKER_BACKEND_DEFINE(ops)
