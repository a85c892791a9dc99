/* SPDX-License-Identifier: MIT */
/* Broken: a required operation (park) is missing. */
#include "trivial.h"

static const struct tparker_backend ops = {
    .version = TPARKER_BACKEND_ABI_VERSION,
    .size = sizeof(struct tparker_backend),
    .name = "noop",
    .description = "a test plugin",
    .priority = 1,
    .state_size = TRIVIAL_STATE_SIZE,
    .cheap_to_construct = true,
    .probe = trivial_probe,
    .init = trivial_init,
    .destroy = trivial_destroy,
    .prepare_park = trivial_prepare_park,
    .park = NULL,
    .park_until = trivial_park_until,
    .timed_out = trivial_timed_out,
    .unpark_lock = trivial_unpark_lock,
    .unpark = trivial_unpark,
    .thread_yield = trivial_thread_yield,
};

TPARKER_BACKEND_DEFINE(ops)
