/* SPDX-License-Identifier: MIT */
/* Broken: a plugin of another ABI major, so it exports only the v2 entry
 * symbol and the v1 loader finds nothing to call. */
#include "trivial.h"

static const struct tparker_backend ops = {
    .version = 2u << 16,
    .size = sizeof(struct tparker_backend),
    .name = "noentry",
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
