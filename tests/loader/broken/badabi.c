/* SPDX-License-Identifier: MIT */
/* Broken: built for ABI major 2 (yet exporting the v1 entry symbol). */
#include "trivial.h"

static const struct tparker_backend ops = {
    .version = (2u << 16),
    .size = sizeof(struct tparker_backend),
    .name = "badabi",
    .description = "a test plugin",
    .priority = 1,
    .state_size = TRIVIAL_STATE_SIZE,
    .cheap_to_construct = true,
    .probe = trivial_probe,
    TRIVIAL_PARKER_OPS,
};

TPARKER_BACKEND_DEFINE(ops)
