/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* Every environment read goes through here: under secure execution
 * (setuid, setgid, AT_SECURE) secure_getenv() returns NULL, so no variable
 * can make a privileged program load code or change its backend. Where the
 * C library has issetugid() instead, it answers the same question; the
 * build refuses a C library with neither (core/meson.build). */
const char *tp_getenv(const char *name)
{
#if defined(TP_HAVE_SECURE_GETENV)
	return secure_getenv(name);
#elif defined(TP_HAVE_ISSETUGID)
	return issetugid() ? NULL : getenv(name);
#elif defined(TP_ENV_NO_SECURE_EXECUTION)
	/* Windows: no setuid or setgid, so no program runs with more rights
	 * than the user who sets its environment; see core/meson.build. */
	return getenv(name);
#else
#error "no secure_getenv() or issetugid(): see core/meson.build"
#endif
}

bool tp_debug_enabled(void)
{
	const char *v = tp_getenv("TPARKER_DEBUG");
	return v && strcmp(v, "1") == 0;
}

void tp_debug(const char *fmt, ...)
{
	if (!tp_debug_enabled())
		return;
	char line[TP_REASON_MAX + 256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "tparker: %s\n", line);
}

_Noreturn void tp_fatal(const char *fmt, ...)
{
	char line[4 * TP_ENV_VALUE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* Values from the environment may hold control characters: show them
	 * as '?' so the message stays one line. */
	for (char *c = line; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	/* One write, so the line stays whole among other threads' output. */
	fprintf(stderr, "tparker: %s\n", line);
	fflush(stderr);
	abort();
}

void tp_format(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static _Thread_local char tp_error[TP_REASON_MAX];

void tp_set_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tp_error, sizeof(tp_error), fmt, ap);
	va_end(ap);
}

const char *tp_get_error(void)
{
	return tp_error;
}

const struct tparker_host tp_host = {
    .version = TPARKER_BACKEND_ABI_VERSION,
    .size = sizeof(struct tparker_host),
    .getenv = tp_getenv,
    .debug = tp_debug,
};
