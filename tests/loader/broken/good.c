/* SPDX-License-Identifier: MIT */
/* Not broken: a working spin-style backend whose priority wins any automatic
 * choice it takes part in. It shares the broken plugins' folder on purpose:
 * with TPARKER_PLUGIN_PATH there, the loader must skip them all and take it. */
#include "trivial.h"

static const struct tparker_backend ops = {
    .version = TPARKER_BACKEND_ABI_VERSION,
    .size = sizeof(struct tparker_backend),
    .name = "good",
    .description = "test plugin: a working spin parker",
    .priority = 1000,
    .state_size = TRIVIAL_STATE_SIZE,
    .cheap_to_construct = true,
    .probe = trivial_probe,
    TRIVIAL_PARKER_OPS,
};

TPARKER_BACKEND_DEFINE(ops)
