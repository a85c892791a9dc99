/* SPDX-License-Identifier: MIT */
/* The one file that knows about dynamic loading, so a build for a platform
 * without dlopen replaces only this file. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

static bool tp_dl_has(void *handle, const char *name)
{
	dlerror();
	return dlsym(handle, name) != NULL;
}

int tp_dl_load(const char *path, void **handle, tparker_backend_entry_fn *entry, char *why,
	       size_t why_len)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		int err = errno;
		snprintf(why, why_len, "%s", err == ENOENT ? "no such file" : strerror(err));
		return err == ENOENT ? ENOENT : err;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, why_len, "not a shared object: not a regular file");
		return ENOEXEC;
	}
	/* RTLD_LOCAL: a plugin's symbols never leak into the process. */
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *e = dlerror();
		snprintf(why, why_len, "not a shared object: %s", e ? e : "dlopen failed");
		return ENOEXEC;
	}
	dlerror();
	void *sym = dlsym(h, TPARKER_BACKEND_ENTRY_NAME);
	if (!sym) {
		int err = tp_entry_missing(h, tp_dl_has, why, why_len);
		dlclose(h);
		return err;
	}
	*handle = h;
	/* POSIX guarantees a function pointer survives the round trip. */
	memcpy(entry, &sym, sizeof(*entry));
	return 0;
}

void tp_dl_close(void *handle)
{
	dlclose(handle);
}
