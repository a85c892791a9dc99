/* SPDX-License-Identifier: MIT */
/*
 * Not broken: a table of ABI 1.0, whose size ends before word_protocol.
 * The member holds protocol 1 in memory all the same; the core must not
 * read past the declared size, so it runs this plugin's operations (its
 * prepare_park stores TRIVIAL_OWN_PARKED, which the test looks for).
 */
#include "trivial.h"

static const struct tparker_backend ops = {
    .version = (TPARKER_BACKEND_ABI_MAJOR << 16) | 0,
    .size = TPARKER_BACKEND_MIN_SIZE,
    .name = "oldminor",
    .description = "test plugin: an ABI 1.0 table",
    .state_size = TRIVIAL_STATE_SIZE,
    .probe = trivial_probe,
    TRIVIAL_PARKER_OPS_OWN,
    .word_protocol = TPARKER_WORD_PROTOCOL_V1,
};

TPARKER_BACKEND_DEFINE(ops)
