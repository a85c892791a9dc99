/* SPDX-License-Identifier: MIT */
/*
 * Not broken: declares a word protocol this core does not know (as a plugin
 * of a later minor might). The core must run its operations, never the word
 * protocol 1 steps: prepare_park stores its own marker, TRIVIAL_OWN_PARKED,
 * where protocol 1 would store 1, and the test looks for it.
 */
#include "trivial.h"

static const struct tparker_backend ops = {
    .version = TPARKER_BACKEND_ABI_VERSION,
    .size = sizeof(struct tparker_backend),
    .name = "wordnext",
    .description = "test plugin: an unknown word protocol",
    .state_size = TRIVIAL_STATE_SIZE,
    .probe = trivial_probe,
    .init = trivial_init,
    .destroy = trivial_destroy,
    .prepare_park = trivial_prepare_park_own,
    .park = trivial_park,
    .park_until = trivial_park_until,
    .timed_out = trivial_timed_out,
    .unpark_lock = trivial_unpark_lock,
    .unpark = trivial_unpark,
    .thread_yield = trivial_thread_yield,
    .word_protocol = 99,
};

TPARKER_BACKEND_DEFINE(ops)
