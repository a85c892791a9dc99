/* SPDX-License-Identifier: MIT */
/*
 * Not broken: a usable plugin whose probe takes 300 ms, and first writes one
 * byte to the file descriptor named by TPTEST_PROBE_FD (when set), so that a
 * test can act while the library is inside its load-time choice.
 */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "trivial.h"

static int slowprobe_probe(const struct tparker_host *host, char *why, size_t why_len)
{
	(void)host, (void)why, (void)why_len;
	const char *fd = getenv("TPTEST_PROBE_FD");
	if (fd && write(atoi(fd), "p", 1) != 1)
		return EIO;
	struct timespec pause = {0, 300000000};
	while (nanosleep(&pause, &pause) != 0)
		;
	return 0;
}

static const struct tparker_backend ops = {
    .version = TPARKER_BACKEND_ABI_VERSION,
    .size = sizeof(struct tparker_backend),
    .name = "slowprobe",
    .description = "a test plugin",
    .priority = 1,
    .state_size = TRIVIAL_STATE_SIZE,
    .cheap_to_construct = true,
    .probe = slowprobe_probe,
    TRIVIAL_PARKER_OPS,
};

TPARKER_BACKEND_DEFINE(ops)
