/* SPDX-License-Identifier: MIT */
/* Broken: claims the name of the built-in backend. It lives only in the
 * loader tests' build folder, never on another test's TPARKER_PLUGIN_PATH. */
#include "trivial.h"

static const struct tparker_backend ops = {
    .version = TPARKER_BACKEND_ABI_VERSION,
    .size = sizeof(struct tparker_backend),
    .name = "spin",
    .description = "a test plugin",
    .priority = 1,
    .state_size = TRIVIAL_STATE_SIZE,
    .cheap_to_construct = true,
    .probe = trivial_probe,
    TRIVIAL_PARKER_OPS,
};

TPARKER_BACKEND_DEFINE(ops)
