/* SPDX-License-Identifier: MIT */
/* The symbolic name of an errno value in a probe's reason ("... failed:
 * Function not implemented (ENOSYS)"): the name is what people search for,
 * and strerrorname_np() is not in every libc. Static inline: plugins share
 * no library. */
#ifndef TPARKER_PLUGINS_COMMON_ERRNAME_H
#define TPARKER_PLUGINS_COMMON_ERRNAME_H

#include <errno.h>
#include <stddef.h>

/* The errors a probe's system calls fail with under sandboxes and old
 * kernels; NULL for any other (the reason then gives the number). */
static inline const char *tp_errno_name(int err)
{
	static const struct {
		int err;
		const char *name;
	} names[] = {
	    {ENOSYS, "ENOSYS"}, {EPERM, "EPERM"},   {EACCES, "EACCES"},
	    {EINVAL, "EINVAL"}, {EFAULT, "EFAULT"},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].err == err)
			return names[i].name;
	return NULL;
}

#endif
