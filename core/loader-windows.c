/* SPDX-License-Identifier: MIT */
/*
 * Windows twin of loader.c: the one file that knows about loading DLLs, and
 * the other things the core needs from Windows itself (where the plugins
 * are, the spin backend's yield and sleep).
 *
 * Paths reach the core as char strings in the process's ANSI code page, the
 * encoding getenv(), fopen() and the C runtime's other narrow calls use
 * (UTF-8 in a program whose manifest asks for it). They are converted to
 * UTF-16 here and loaded with LoadLibraryExW, so a path with characters
 * outside ASCII works wherever that code page can spell it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#include "internal.h"

/* Wide buffers: long enough for any path the narrow side can hold. */
#define TP_WPATH_MAX 1024
/* The longest path Windows has (a UNICODE_STRING counts bytes in 16 bits),
 * in characters, with its terminating NUL. */
#define TP_WPATH_LONG 32768

/*
 * The plugin is named by a full path, never by a bare name: with
 * LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR | LOAD_LIBRARY_SEARCH_SYSTEM32 the DLLs a
 * plugin imports are looked for only in the plugin's own folder and in
 * System32, never in the current directory, the program's folder or PATH,
 * so nobody can slip a DLL of the same name in front of it (search-order
 * hijacking). The flags need Windows 8, or 7 with KB2533623; without them
 * LoadLibraryExW fails with ERROR_INVALID_PARAMETER and the plugin is
 * reported as not loadable rather than loaded the unsafe way.
 */
#define TP_LOAD_FLAGS (LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR | LOAD_LIBRARY_SEARCH_SYSTEM32)

/* "... (error 193: %1 is not a valid Win32 application.)", one line. */
static void tp_win_error(char *why, size_t why_len, const char *what, DWORD err)
{
	char msg[256] = "";
	DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL,
				 err, 0, msg, sizeof(msg), NULL);
	while (n > 0 && (msg[n - 1] == '\r' || msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	snprintf(why, why_len, "%s (error %lu%s%s)", what, (unsigned long)err, n ? ": " : "", msg);
}

/*
 * The path as a fully qualified UTF-16 path in a malloc'ed buffer; NULL with
 * a reason and an errno value. From MAX_PATH characters on, the \\?\ form
 * (\\?\UNC\ for a share): LoadLibraryExW and GetFileAttributesW take longer
 * paths only so, unless the program's manifest opts into long paths.
 * GetFullPathNameW has already done what \\?\ skips: '/' made '\\', and
 * "." and ".." resolved.
 */
static wchar_t *tp_full_path(const char *path, int *err, char *why, size_t why_len)
{
	size_t bytes = strlen(path);
	if (bytes >= TP_WPATH_LONG) {
		snprintf(why, why_len,
			 "a path of %zu bytes: longer than the %d characters a Windows path can "
			 "have",
			 bytes, TP_WPATH_LONG - 1);
		*err = ENAMETOOLONG;
		return NULL;
	}
	wchar_t *wide = malloc(TP_WPATH_LONG * sizeof(wchar_t));
	/* Room for the "\\?\UNC" that replaces a share's leading "\\". */
	wchar_t *full = malloc((TP_WPATH_LONG + 8) * sizeof(wchar_t));
	*err = ENOMEM;
	if (!wide || !full) {
		snprintf(why, why_len, "out of memory");
		goto fail;
	}
	*err = EINVAL;
	if (!MultiByteToWideChar(CP_ACP, MB_ERR_INVALID_CHARS, path, -1, wide, TP_WPATH_LONG)) {
		tp_win_error(why, why_len, "not a path in the process's code page", GetLastError());
		goto fail;
	}
	wchar_t *out = full + 8;
	DWORD n = GetFullPathNameW(wide, TP_WPATH_LONG, out, NULL);
	if (n == 0 || n >= TP_WPATH_LONG) {
		tp_win_error(why, why_len, "cannot make the path absolute",
			     n ? ERROR_FILENAME_EXCED_RANGE : GetLastError());
		*err = n ? ENAMETOOLONG : EINVAL;
		goto fail;
	}
	free(wide);
	bool verbatim = wcsncmp(out, L"\\\\?\\", 4) == 0 || wcsncmp(out, L"\\\\.\\", 4) == 0;
	if (n < MAX_PATH || verbatim) {
		memmove(full, out, (n + 1) * sizeof(wchar_t));
	} else if (out[0] == L'\\' && out[1] == L'\\') {
		/* \\server\share\... -> \\?\UNC\server\share\... */
		memcpy(out - 6, L"\\\\?\\UNC", 7 * sizeof(wchar_t));
		memmove(full, out - 6, (n + 7) * sizeof(wchar_t));
	} else {
		memcpy(out - 4, L"\\\\?\\", 4 * sizeof(wchar_t));
		memmove(full, out - 4, (n + 5) * sizeof(wchar_t));
	}
	return full;
fail:
	free(wide);
	free(full);
	return NULL;
}

static bool tp_win_has(void *handle, const char *name)
{
	return GetProcAddress((HMODULE)handle, name) != NULL;
}

int tp_dl_load(const char *path, void **handle, tparker_backend_entry_fn *entry, char *why,
	       size_t why_len)
{
	int ret;
	wchar_t *full = tp_full_path(path, &ret, why, why_len);
	if (!full)
		return ret;
	DWORD attr = GetFileAttributesW(full);
	if (attr == INVALID_FILE_ATTRIBUTES) {
		DWORD err = GetLastError();
		free(full);
		if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND) {
			snprintf(why, why_len, "no such file");
			return ENOENT;
		}
		tp_win_error(why, why_len, "cannot read its attributes", err);
		return EACCES;
	}
	if (attr & FILE_ATTRIBUTE_DIRECTORY) {
		free(full);
		snprintf(why, why_len, "not a shared object: not a regular file");
		return ENOEXEC;
	}
	/* No "cannot load" dialog box for a broken file: a reason, like dlopen. */
	DWORD old_mode;
	BOOL mode_set =
	    SetThreadErrorMode(SEM_FAILCRITICALERRORS | SEM_NOOPENFILEERRORBOX, &old_mode);
	HMODULE h = LoadLibraryExW(full, NULL, TP_LOAD_FLAGS);
	DWORD err = GetLastError();
	if (mode_set)
		SetThreadErrorMode(old_mode, NULL);
	free(full);
	if (!h) {
		tp_win_error(why, why_len, "not a shared object: LoadLibraryExW failed", err);
		return ENOEXEC;
	}
	FARPROC sym = GetProcAddress(h, TPARKER_BACKEND_ENTRY_NAME);
	if (!sym) {
		int missing = tp_entry_missing(h, tp_win_has, why, why_len);
		FreeLibrary(h);
		return missing;
	}
	*handle = h;
	_Static_assert(sizeof(sym) == sizeof(*entry), "function pointers have one size");
	memcpy(entry, &sym, sizeof(*entry));
	return 0;
}

void tp_dl_close(void *handle)
{
	FreeLibrary(handle);
}

/* ---- where the plugins are -------------------------------------------------- */

static INIT_ONCE tp_dir_once = INIT_ONCE_STATIC_INIT;
static char tp_dir[PATH_MAX];

/* The folder of the DLL this code is in, + "\tparker-<major>", in the ANSI
 * code page like every other path; left "" when that cannot spell it (a
 * best-fit look-alike could name another folder) or it is too long. */
static BOOL CALLBACK tp_find_dir(INIT_ONCE *once, void *param, void **ctx)
{
	(void)once, (void)param, (void)ctx;
	HMODULE self;
	wchar_t wide[TP_WPATH_MAX];
	if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS |
				    GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
				(LPCWSTR)(void *)&tp_dir, &self))
		return TRUE;
	DWORD n = GetModuleFileNameW(self, wide, TP_WPATH_MAX);
	if (n == 0 || n >= TP_WPATH_MAX)
		return TRUE;
	wchar_t *slash = wcsrchr(wide, L'\\');
	if (!slash)
		return TRUE;
	static const wchar_t sub[] = L"\\tparker-" TPARKER_STRINGIFY(TPARKER_BACKEND_ABI_MAJOR);
	if ((size_t)(slash - wide) + sizeof(sub) / sizeof(sub[0]) > TP_WPATH_MAX)
		return TRUE;
	memcpy(slash, sub, sizeof(sub));
	char narrow[PATH_MAX];
	BOOL lossy = FALSE;
	int len = WideCharToMultiByte(CP_ACP, WC_NO_BEST_FIT_CHARS, wide, -1, narrow,
				      sizeof(narrow), NULL, &lossy);
	if (len > 0 && !lossy)
		memcpy(tp_dir, narrow, (size_t)len);
	return TRUE;
}

const char *tp_plugin_dir(void)
{
	InitOnceExecuteOnce(&tp_dir_once, tp_find_dir, NULL, NULL);
	return tp_dir;
}

/* ---- the spin backend's yield and sleep ------------------------------------ */

void tp_os_yield(void)
{
	SwitchToThread();
}

/* Sleep() counts whole milliseconds: round up, so the sleep ends at or after
 * until; the spin loop checks the clock again either way. */
void tp_os_sleep_until(const struct timespec *until)
{
	struct timespec now = tparker_now();
	if (!tparker_ts_before(&now, until))
		return;
	/* The spin loop sleeps 100 ms at most: a far time is only a bound. */
	if (until->tv_sec - now.tv_sec >= 100) {
		Sleep(100000);
		return;
	}
	long long ns =
	    (long long)(until->tv_sec - now.tv_sec) * 1000000000LL + (until->tv_nsec - now.tv_nsec);
	Sleep((DWORD)((ns + 999999) / 1000000));
}
