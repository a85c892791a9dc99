/* SPDX-License-Identifier: MIT */
/* Broken: a plugin of ABI major 2 as such a libtparker would define it: its
 * table says major 2 and it exports the major-2 entry symbol, not v1. */
#include "trivial.h"

static const struct tparker_backend ops = {
    .version = (2u << 16),
    .size = sizeof(struct tparker_backend),
    .name = "wrongmajor",
    .description = "a test plugin",
    .priority = 1,
    .state_size = TRIVIAL_STATE_SIZE,
    .cheap_to_construct = true,
    .probe = trivial_probe,
    TRIVIAL_PARKER_OPS,
};

TPARKER_PLUGIN_EXPORT const struct tparker_backend *
tparker_backend_entry_v2(const struct tparker_host *host);
TPARKER_PLUGIN_EXPORT const struct tparker_backend *
tparker_backend_entry_v2(const struct tparker_host *host)
{
	(void)host;
	return &ops;
}
