/* SPDX-License-Identifier: MIT */
/* The loader twin of a build without plugin loading (plugin_loading=false,
 * e.g. WebAssembly, which has no dlopen worth the name): only the backends
 * compiled into the library exist, and opening a file says why it cannot. */
#include <errno.h>
#include <stdio.h>

#include "internal.h"

int tp_dl_load(const char *path, void **handle, tparker_backend_entry_fn *entry, char *why,
	       size_t why_len)
{
	(void)path, (void)handle, (void)entry;
	snprintf(why, why_len,
		 "this libtparker was built without plugin loading (plugin_loading=false)");
	return ENOSYS;
}

void tp_dl_close(void *handle)
{
	(void)handle;
}
