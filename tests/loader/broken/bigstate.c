/* SPDX-License-Identifier: MIT */
/* Broken: asks for more per-parker state than a tparker_t has room for. */
#include "trivial.h"

static const struct tparker_backend ops = {
    .version = TPARKER_BACKEND_ABI_VERSION,
    .size = sizeof(struct tparker_backend),
    .name = "bigstate",
    .description = "a test plugin",
    .priority = 1,
    .state_size = 4096,
    .cheap_to_construct = true,
    .probe = trivial_probe,
    TRIVIAL_PARKER_OPS,
};

TPARKER_BACKEND_DEFINE(ops)
