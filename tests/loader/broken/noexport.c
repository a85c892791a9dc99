/* SPDX-License-Identifier: MIT */
/* Broken: a shared object that exports no entry symbol of any ABI major
 * (a library that is not a libtparker plugin). */
#include "trivial.h"

TPARKER_PLUGIN_EXPORT int tparker_test_not_a_plugin(void);

TPARKER_PLUGIN_EXPORT int tparker_test_not_a_plugin(void)
{
	return 0;
}
