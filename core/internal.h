/* SPDX-License-Identifier: MIT */
/* Internal interfaces of libtparker's core; nothing here is exported. */
#ifndef TPARKER_CORE_INTERNAL_H
#define TPARKER_CORE_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tparker/backend.h"

#define TP_REASON_MAX	 512
#define TP_ENV_VALUE_MAX 4096
/* Backends one process can adopt, spin included. */
#define TP_REGISTRY_MAX 64

#define TP_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* 0 when the build has no plugin loading (plugin_loading=false): only the
 * built-in backends exist, and no plugin folder is read. */
#ifndef TP_PLUGIN_LOADING
#define TP_PLUGIN_LOADING 1
#endif

/* What the shared files need to know about the platform, as macros so that
 * their code stays one; the platform's own code lives in twins that
 * core/meson.build picks (loader.c, loader-windows.c). */
#if defined(_WIN32)
/* mingw's gcc reads format(printf) as Microsoft's printf, which knows no
 * %zu; the build asks for mingw's C99 one (__USE_MINGW_ANSI_STDIO). */
#define TP_PRINTF_FORMAT   gnu_printf
#define TP_PATH_LIST_SEP   ';'
#define TP_PATH_LIST_SEP_S ";"
#define TP_DIR_SEP_S	   "\\"
#define TP_IS_DIR_SEP(c)   ((c) == '\\' || (c) == '/')
#define TP_PLUGIN_SUFFIX   ".dll"
/* No fork() on Windows: nothing to prepare for. */
#define TP_ATFORK(prepare, parent, child) ((void)(prepare), (void)(parent), (void)(child))
/* loader-windows.c: tparker-<major> beside the core DLL, found at run time
 * (Windows has no fixed prefix); "" when it cannot be named. */
const char *tp_plugin_dir(void);
/* loader-windows.c: the spin backend's yield and sleep. */
void tp_os_yield(void);
void tp_os_sleep_until(const struct timespec *until);
#else
#define TP_PRINTF_FORMAT		  printf
#define TP_PATH_LIST_SEP		  ':'
#define TP_PATH_LIST_SEP_S		  ":"
#define TP_DIR_SEP_S			  "/"
#define TP_IS_DIR_SEP(c)		  ((c) == '/')
#define TP_PLUGIN_SUFFIX		  ".so"
#define TP_ATFORK(prepare, parent, child) pthread_atfork(prepare, parent, child)
#define tp_plugin_dir()			  TPARKER_PLUGINDIR
#define tp_os_yield()			  sched_yield()
#if defined(__EMSCRIPTEN__)
/* Emscripten's clock_nanosleep ignores TIMER_ABSTIME (3.1.6 sleeps for the
 * whole absolute time, hours): sleep for what is left instead. An early
 * return goes round the caller's loop, as EINTR does elsewhere. */
static inline void tp_os_sleep_until(const struct timespec *until)
{
	struct timespec now = tparker_now(), left;
	if (!tparker_ts_before(&now, until))
		return;
	left.tv_sec = until->tv_sec - now.tv_sec;
	left.tv_nsec = until->tv_nsec - now.tv_nsec;
	if (left.tv_nsec < 0) {
		left.tv_nsec += 1000000000L;
		left.tv_sec--;
	}
	nanosleep(&left, NULL);
}
#else
/* Absolute: EINTR just goes round the caller's loop. */
#define tp_os_sleep_until(until) clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, until, NULL)
#endif
#endif

/* env.c: the one secure_getenv wrapper, the debug log, per-thread reasons. */
const char *tp_getenv(const char *name);
bool tp_debug_enabled(void);
void tp_debug(const char *fmt, ...) __attribute__((format(TP_PRINTF_FORMAT, 1, 2)));
/* snprintf that truncates on purpose (reasons are cut, never overflow). */
void tp_format(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(TP_PRINTF_FORMAT, 3, 4)));
void tp_set_error(const char *fmt, ...) __attribute__((format(TP_PRINTF_FORMAT, 1, 2)));
const char *tp_get_error(void);
extern const struct tparker_host tp_host;
_Noreturn void tp_fatal(const char *fmt, ...) __attribute__((format(TP_PRINTF_FORMAT, 1, 2)));

/* loader.c: the only file that knows about dlopen (loader-windows.c:
 * LoadLibraryExW; loader-none.c, for plugin_loading=false, loads nothing).
 * On failure returns an errno value and writes the reason. */
int tp_dl_load(const char *path, void **handle, tparker_backend_entry_fn *entry, char *why,
	       size_t why_len);
void tp_dl_close(void *handle);

/* validate.c: copy a plugin's table into *out (zero-filled past its size)
 * and check every field; 0 or an errno value with the reason. expect_name
 * (may be NULL) is the name the file name promises. */
int tp_validate(const struct tparker_backend *src, const char *expect_name,
		struct tparker_backend *out, char *why, size_t why_len);
/* validate.c: a loaded file lacks TPARKER_BACKEND_ENTRY_NAME. When it
 * exports another ABI major's entry (has(handle, name) says whether a
 * symbol exists), EPROTO and the reason names that major, as the table's
 * version would be named; else ENOEXEC and "no entry symbol ...". Shared by
 * the loaders, so every platform words it the same. */
int tp_entry_missing(void *handle, bool (*has)(void *handle, const char *name), char *why,
		     size_t why_len);
bool tp_valid_name(const char *name, size_t len);

/* registry.c: adopted backends, append-only, never removed. */
const struct tparker_backend *tp_registry_add(const struct tparker_backend *copy,
					      const void *origin);
const struct tparker_backend *tp_registry_find_origin(const void *origin);
const struct tparker_backend *tp_registry_find_name(const char *name);
bool tp_registry_contains(const struct tparker_backend *b);
/* The i-th adopted backend, NULL past the end. */
const struct tparker_backend *tp_registry_at(size_t i);
/* Validate, probe and adopt the plugins compiled into the core, right after
 * spin; caller holds the loader lock. */
void tp_registry_add_builtins(void);
/* NULL when no plugin of that name is compiled in; else "" when it was
 * adopted, or why it was not. A plugin file of a built-in name is never
 * loaded: the build's own backend wins. */
const char *tp_builtin_status(const char *name);
/* The loader lock, which serialises every plugin load and the choice. The
 * lock fails (false, with a reason) only when the calling thread holds it
 * already: a plugin's constructor or probe, or an allocator the loader
 * called, has come back into the library. */
bool tp_loader_lock(char *why, size_t why_len);
void tp_loader_unlock(void);
/* Called by the atfork handlers, the once-guard's first. */
void tp_loader_fork_prepare(void);
void tp_loader_fork_release(void);
/* pthread_self() as an integer, for "is it me" checks without TLS. */
uintptr_t tp_self(void);

/* parse.c: TPARKER_BACKEND's list syntax, walked in place. */
struct tp_entry {
	const char *start; /* not NUL-terminated: len bytes */
	size_t len;
	size_t index; /* 1-based; start with a zeroed struct */
};
enum tp_entry_kind {
	TP_ENTRY_NAME,
	TP_ENTRY_PATH,
	TP_ENTRY_EMPTY,
	TP_ENTRY_RELATIVE,
	TP_ENTRY_BAD_NAME
};
/* The next entry, blanks trimmed; *cursor starts at the value and becomes
 * NULL after the last entry. "" is one empty entry, "a," two entries. */
bool tp_list_next(const char **cursor, struct tp_entry *e);
enum tp_entry_kind tp_entry_kind(const struct tp_entry *e);
/* true when every entry is a name or an absolute path and the value is at
 * most TP_ENV_VALUE_MAX bytes; otherwise each problem is appended to
 * failures. */
bool tp_list_check(const char *value, char *failures, size_t len);
/* Append "; "-separated text to a failure list, cut when it is full. */
void tp_append(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(TP_PRINTF_FORMAT, 3, 4)));

/* select.c */
void tp_ensure_init(void);
const struct tparker_backend *tp_default(void);

/* spin.c */
extern const struct tparker_backend tp_spin_backend;

#endif
