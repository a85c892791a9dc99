/* SPDX-License-Identifier: MIT */
/*
 * Backend names, and TPARKER_BACKEND's syntax: entries separated by commas, blanks around each
 * trimmed, each a backend name or the absolute path of a plugin file.
 *
 * The parser walks the value in place: no copy, no array of entries, so no
 * count of entries can overflow anything (a value of 4096 commas is 4097
 * empty entries, each reported). Pure functions without global state, so
 * tests/parse runs them directly against every length and count.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

bool tp_valid_name(const char *name, size_t len)
{
	if (len == 0 || len > TPARKER_NAME_MAX || !(name[0] >= 'a' && name[0] <= 'z'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

bool tp_list_next(const char **cursor, struct tp_entry *e)
{
	const char *p = *cursor;
	if (!p)
		return false;
	const char *comma = strchr(p, ',');
	const char *end = comma ? comma : p + strlen(p);
	*cursor = comma ? comma + 1 : NULL;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	e->start = p;
	e->len = (size_t)(end - p);
	e->index++;
	return true;
}

/* Windows path forms, chosen by the target; tests/parse compiles this file
 * both ways, so each is tested on any build machine. */
#if !defined(TP_WINDOWS_PATHS)
#if defined(_WIN32)
#define TP_WINDOWS_PATHS 1
#else
#define TP_WINDOWS_PATHS 0
#endif
#endif

static bool tp_sep(char c)
{
	return c == '/' || (TP_WINDOWS_PATHS && c == '\\');
}

static bool tp_drive(const char *s, size_t len)
{
	return TP_WINDOWS_PATHS && len >= 2 &&
	       ((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')) && s[1] == ':';
}

/* A name never holds a separator or a ':', so whatever does is a path. On
 * Windows the absolute ones are C:\..., C:/..., and \\server\share\...,
 * \\?\..., \\.\... (either slash); C:x.dll and \x.dll depend on the current
 * drive's directory or on the current drive: relative. */
enum tp_entry_kind tp_entry_kind(const struct tp_entry *e)
{
	const char *s = e->start;
	size_t len = e->len;
	if (len == 0)
		return TP_ENTRY_EMPTY;
	if (!TP_WINDOWS_PATHS && s[0] == '/')
		return TP_ENTRY_PATH;
	if (TP_WINDOWS_PATHS && ((len > 2 && tp_sep(s[0]) && tp_sep(s[1])) ||
				 (len > 3 && tp_drive(s, len) && tp_sep(s[2]))))
		return TP_ENTRY_PATH;
	bool pathlike = tp_drive(s, len);
	for (size_t i = 0; i < len && !pathlike; i++)
		pathlike = tp_sep(s[i]);
	if (pathlike)
		return TP_ENTRY_RELATIVE;
	return tp_valid_name(s, len) ? TP_ENTRY_NAME : TP_ENTRY_BAD_NAME;
}

void tp_append(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strnlen(buf, len);
	if (used + 2 >= len)
		return;
	if (used) {
		memcpy(buf + used, "; ", 3);
		used += 2;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

bool tp_list_check(const char *value, char *failures, size_t len)
{
	size_t bytes = strnlen(value, TP_ENV_VALUE_MAX + 1);
	if (bytes > TP_ENV_VALUE_MAX) {
		tp_append(failures, len, "the value is %zu bytes, longer than the %d allowed",
			  strlen(value), TP_ENV_VALUE_MAX);
		return false;
	}
	bool ok = true;
	const char *cursor = value;
	struct tp_entry e = {0};
	while (tp_list_next(&cursor, &e)) {
		switch (tp_entry_kind(&e)) {
		case TP_ENTRY_NAME:
		case TP_ENTRY_PATH:
			continue;
		case TP_ENTRY_EMPTY:
			tp_append(failures, len, "entry %zu is empty", e.index);
			break;
		case TP_ENTRY_RELATIVE:
			tp_append(failures, len, "%.*s: a relative path, give an absolute path",
				  (int)e.len, e.start);
			break;
		case TP_ENTRY_BAD_NAME:
			tp_append(failures, len,
				  "'%.*s' is not a valid backend name ([a-z0-9_-], at most %d "
				  "characters, starting with a letter)",
				  (int)e.len, e.start, TPARKER_NAME_MAX);
			break;
		}
		ok = false;
	}
	return ok;
}
