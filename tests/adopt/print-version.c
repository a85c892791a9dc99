/* SPDX-License-Identifier: MIT */
/* Prints what the library reports, for check-version.sh. */
#include <stdio.h>
#include <tparker/tparker.h>

int main(void)
{
	return puts(tparker_version()) < 0;
}
