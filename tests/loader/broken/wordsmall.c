/* SPDX-License-Identifier: MIT */
/* Broken: declares word protocol 1 with a state too small for its word. */
#include "trivial.h"

static const struct tparker_backend ops = {
    .version = TPARKER_BACKEND_ABI_VERSION,
    .size = sizeof(struct tparker_backend),
    .name = "wordsmall",
    .description = "test plugin: word protocol with a 4-byte state",
    .state_size = 4,
    .probe = trivial_probe,
    TRIVIAL_PARKER_OPS,
    .word_protocol = TPARKER_WORD_PROTOCOL_V1,
};

TPARKER_BACKEND_DEFINE(ops)
