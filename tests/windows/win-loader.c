/* SPDX-License-Identifier: MIT */
/*
 * The Windows loader (core/loader-windows.c) on paths that must work and
 * files that must be refused, each with its reason:
 *   - a plugin in a folder whose name has spaces and characters outside
 *     ASCII, opened by a path in the process's code page, and found through
 *     a ';'-separated TPARKER_PLUGIN_PATH (run with TPARKER_BACKEND=spin, so
 *     nothing is loaded before);
 *   - a missing file (ENOENT), a folder, a file that is not a DLL, and a DLL
 *     without the entry symbol (libtparker's own), all ENOEXEC;
 *   - a path longer than MAX_PATH (loaded through its \\?\ form) and one
 *     longer than any Windows path (ENAMETOOLONG);
 *   - the DLLs of tests/windows/broken: another ABI major's entry symbol,
 *     a table of another major, a missing operation, too large a state.
 * argv[1] and argv[2]: the waitonaddress and keyed plugins, argv[3] the
 * folder of the broken DLLs. Exit 0 pass, 1 fail, 77 skip (the code page
 * cannot spell the folder's name).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#include "tparker/tparker.h"

static int failures;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

/* The wide path in the process's code page; false when it cannot be spelt. */
static bool narrow(const wchar_t *w, char *out, int len)
{
	BOOL lossy = FALSE;
	return WideCharToMultiByte(CP_ACP, WC_NO_BEST_FIT_CHARS, w, -1, out, len, NULL, &lossy) >
		   0 &&
	       !lossy;
}

static void expect_refused(const char *path, int err, const char *reason)
{
	const tparker_backend_t *b = NULL;
	int r = tparker_backend_open(path, &b);
	printf("%s: %d, %s\n", path, r, tparker_backend_error());
	CHECK(r == err);
	CHECK(strstr(tparker_backend_error(), reason) != NULL);
}

/* A copy of the good test plugin at the end of a path of more than 1100
 * characters under dir (created through the \\?\ form), opened by that path:
 * past MAX_PATH, and past the 1024 characters the loader once had room for;
 * then a path longer than Windows allows, refused. */
static void long_paths(const wchar_t *dir, const char *good)
{
	static wchar_t wlong[2048], src[MAX_PATH];
	wchar_t full[MAX_PATH];
	CHECK(GetFullPathNameW(dir, MAX_PATH, full, NULL) > 0);
	int n = swprintf(wlong, 2048, L"\\\\?\\%ls", full);
	for (int i = 0; n > 0 && n < 1100; i++) {
		n += swprintf(wlong + n, 2048 - (size_t)n, L"\\long folder name %02d", i);
		if (!CreateDirectoryW(wlong, NULL) && GetLastError() != ERROR_ALREADY_EXISTS) {
			fprintf(stderr, "CreateDirectoryW(%ls): %lu\n", wlong, GetLastError());
			failures++;
			return;
		}
	}
	swprintf(wlong + n, 2048 - (size_t)n, L"\\tparker-good.dll");
	MultiByteToWideChar(CP_ACP, 0, good, -1, src, MAX_PATH);
	if (!CopyFileW(src, wlong, FALSE)) {
		fprintf(stderr, "CopyFileW(%ls) failed: %lu\n", wlong, GetLastError());
		failures++;
		return;
	}
	/* The plain form, as a user would write it, with forward slashes. */
	char path[4096];
	CHECK(WideCharToMultiByte(CP_ACP, 0, wlong + 4, -1, path, sizeof(path), NULL, NULL) > 0);
	for (char *c = path; *c; c++)
		if (*c == '\\')
			*c = '/';
	CHECK(strlen(path) > 1100);
	const tparker_backend_t *b = NULL;
	int r = tparker_backend_open(path, &b);
	printf("a path of %zu characters: %d %s\n", strlen(path), r,
	       r ? tparker_backend_error() : "");
	CHECK(r == 0 && b && strcmp(tparker_backend_name(b), "good") == 0);

	size_t len = 40000;
	char *huge = malloc(len + 1);
	CHECK(huge != NULL);
	if (huge) {
		memset(huge, 'x', len);
		memcpy(huge, "C:\\", 3);
		huge[len] = '\0';
		const tparker_backend_t *h = NULL;
		r = tparker_backend_open(huge, &h);
		/* (The message starts with the path, so the reason falls beyond
		 * the end of the error buffer: the error number tells.) */
		printf("a path of %zu characters: %d\n", len, r);
		CHECK(r == ENAMETOOLONG);
		free(huge);
	}
}

/* Each DLL of tests/windows/broken, refused with its reason. */
static void broken(const char *dir)
{
	static const struct {
		const char *file;
		int err;
		const char *reason;
	} cases[] = {
	    {"tparker-wrongmajor.dll", EPROTO,
	     "built for ABI major 2 (exports tparker_backend_entry_v2, not "
	     "tparker_backend_entry_v1), this libtparker speaks major 1"},
	    {"tparker-badabi.dll", EPROTO, "built for ABI major 2, this libtparker speaks major 1"},
	    {"tparker-noop.dll", EINVAL, "required operation 'park' missing"},
	    {"tparker-bigstate.dll", EINVAL, "state size 4096 exceeds"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[MAX_PATH * 2];
		snprintf(path, sizeof(path), "%s\\%s", dir, cases[i].file);
		expect_refused(path, cases[i].err, cases[i].reason);
	}
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s WAITONADDRESS_DLL KEYED_DLL BROKEN_DIR\n", argv[0]);
		return 1;
	}
	wchar_t dir[MAX_PATH], src[MAX_PATH], dst[MAX_PATH];
	/* A folder of its own in the current one (the build folder). */
	/* wine reuses process ids from one wineserver to the next: the
	 * counter keeps the name new, and a folder left by an earlier run with
	 * the same name is reused. */
	LARGE_INTEGER count;
	QueryPerformanceCounter(&count);
	swprintf(dir, MAX_PATH, L"win loader \u00e9\u00fc %lu-%llx",
		 (unsigned long)GetCurrentProcessId(), (unsigned long long)count.QuadPart);
	char dir_acp[MAX_PATH * 2];
	if (!narrow(dir, dir_acp, sizeof(dir_acp))) {
		printf("code page %u cannot spell the folder's name: skipped\n", GetACP());
		return 77;
	}
	if (!CreateDirectoryW(dir, NULL) && GetLastError() != ERROR_ALREADY_EXISTS) {
		fprintf(stderr, "CreateDirectoryW failed: %lu\n", GetLastError());
		return 1;
	}
	for (int i = 1; i <= 2; i++) {
		MultiByteToWideChar(CP_ACP, 0, argv[i], -1, src, MAX_PATH);
		const wchar_t *base = wcsrchr(src, L'\\');
		const wchar_t *slash = wcsrchr(src, L'/');
		if (!base || (slash && slash > base))
			base = slash;
		swprintf(dst, MAX_PATH, L"%ls\\%ls", dir, base ? base + 1 : src);
		if (!CopyFileW(src, dst, FALSE)) {
			fprintf(stderr, "CopyFileW(%ls) failed: %lu\n", src, GetLastError());
			return 1;
		}
	}

	/* Found through the search path; the first folder does not exist. */
	char full[MAX_PATH * 2], var[MAX_PATH * 4];
	CHECK(GetFullPathNameA(dir_acp, sizeof(full), full, NULL) > 0);
	snprintf(var, sizeof(var), "TPARKER_PLUGIN_PATH=C:\\no such folder;%s", full);
	CHECK(_putenv(var) == 0);
	const tparker_backend_t *b = tparker_backend_get("waitonaddress");
	if (!b)
		fprintf(stderr, "waitonaddress: %s\n", tparker_backend_error());
	CHECK(b && strcmp(tparker_backend_name(b), "waitonaddress") == 0);

	/* Opened by its path, relative and in the process's code page. */
	char path[MAX_PATH * 2];
	snprintf(path, sizeof(path), "%s\\tparker-keyed.dll", dir_acp);
	b = NULL;
	int r = tparker_backend_open(path, &b);
	if (r)
		fprintf(stderr, "%s: %s\n", path, tparker_backend_error());
	CHECK(r == 0 && b && strcmp(tparker_backend_name(b), "keyed") == 0);
	tparker_t p;
	CHECK(b && tparker_init_with(&p, b) == 0);
	if (b) {
		tparker_prepare_park(&p);
		tparker_unpark(tparker_unpark_lock(&p));
		tparker_park(&p);
		tparker_destroy(&p);
	}

	/* Refused, each with its reason. */
	snprintf(path, sizeof(path), "%s\\tparker-missing.dll", dir_acp);
	expect_refused(path, ENOENT, "no such file");
	expect_refused(dir_acp, ENOEXEC, "not a regular file");
	snprintf(path, sizeof(path), "%s\\tparker-text.dll", dir_acp);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("not a DLL\n", f);
		fclose(f);
	}
	expect_refused(path, ENOEXEC, "LoadLibraryExW failed");
	/* libtparker itself: a DLL, but no plugin. */
	/* (The address of an imported function is the program's own thunk, so
	 * the core is found by the name Meson gives it.) */
	HMODULE core = GetModuleHandleA("libtparker-1.dll");
	CHECK(core != NULL);
	CHECK(GetModuleFileNameA(core, path, sizeof(path)) > 0);
	expect_refused(path, ENOEXEC, "no entry symbol");

	/* The compiled-in folder is found at run time beside the core DLL. */
	char *slash = strrchr(path, '\\');
	if (slash)
		strcpy(slash, "\\tparker-1");
	printf("plugin folder: %s\n", tparker_plugin_dir());
	CHECK(strcmp(tparker_plugin_dir(), path) == 0);

	char good[MAX_PATH * 2];
	snprintf(good, sizeof(good), "%s\\tparker-good.dll", argv[3]);
	long_paths(dir, good);
	broken(argv[3]);
	return failures ? 1 : 0;
}
