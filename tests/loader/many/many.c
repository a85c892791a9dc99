/* SPDX-License-Identifier: MIT */
/* One of 64 working plugins, named by the build (MANY_NAME), with which
 * registry-full fills the library's table of backends and goes one past. */
#include "../broken/trivial.h"

static const struct tparker_backend ops = {
    .version = TPARKER_BACKEND_ABI_VERSION,
    .size = sizeof(struct tparker_backend),
    .name = MANY_NAME,
    .description = "test plugin: one of many",
    .priority = 1,
    .state_size = TRIVIAL_STATE_SIZE,
    .cheap_to_construct = true,
    .probe = trivial_probe,
    TRIVIAL_PARKER_OPS,
};

TPARKER_BACKEND_DEFINE(ops)
