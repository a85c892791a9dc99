/* SPDX-License-Identifier: MIT */
/* Broken: no description. */
#include "trivial.h"

static const struct tparker_backend ops = {
    .version = TPARKER_BACKEND_ABI_VERSION,
    .size = sizeof(struct tparker_backend),
    .name = "nodesc",
    .description = NULL,
    .priority = 1,
    .state_size = TRIVIAL_STATE_SIZE,
    .cheap_to_construct = true,
    .probe = trivial_probe,
    TRIVIAL_PARKER_OPS,
};

TPARKER_BACKEND_DEFINE(ops)
