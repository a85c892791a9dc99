/* SPDX-License-Identifier: MIT */
/* Broken: the entry point hands back no backend at all. */
#include "trivial.h"

TPARKER_PLUGIN_EXPORT const struct tparker_backend *
TPARKER_BACKEND_ENTRY(const struct tparker_host *host);

TPARKER_PLUGIN_EXPORT const struct tparker_backend *
TPARKER_BACKEND_ENTRY(const struct tparker_host *host)
{
	(void)host;
	return NULL;
}
