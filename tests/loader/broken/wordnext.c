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
    TRIVIAL_PARKER_OPS_OWN,
    .word_protocol = 99,
};

TPARKER_BACKEND_DEFINE(ops)
