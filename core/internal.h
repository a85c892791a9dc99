/* SPDX-License-Identifier: MIT */
/* Internal interfaces of libtparker's core; nothing here is exported. */
#ifndef TPARKER_CORE_INTERNAL_H
#define TPARKER_CORE_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "tparker/backend.h"

#define TP_REASON_MAX	 512
#define TP_ENV_VALUE_MAX 4096

#define TP_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* env.c: the one secure_getenv wrapper, the debug log, per-thread reasons. */
const char *tp_getenv(const char *name);
bool tp_debug_enabled(void);
void tp_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* snprintf that truncates on purpose (reasons are cut, never overflow). */
void tp_format(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void tp_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *tp_get_error(void);
extern const struct tparker_host tp_host;
_Noreturn void tp_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* loader.c: the only file that knows about dlopen. On failure returns an
 * errno value and writes the reason. */
int tp_dl_load(const char *path, void **handle, tparker_backend_entry_fn *entry, char *why,
	       size_t why_len);
void tp_dl_close(void *handle);

/* validate.c: copy a plugin's table into *out (zero-filled past its size)
 * and check every field; 0 or an errno value with the reason. expect_name
 * (may be NULL) is the name the file name promises. */
int tp_validate(const struct tparker_backend *src, const char *expect_name,
		struct tparker_backend *out, char *why, size_t why_len);
bool tp_valid_name(const char *name, size_t len);

/* registry.c: adopted backends, append-only, never removed. */
const struct tparker_backend *tp_registry_add(const struct tparker_backend *copy,
					      const void *origin);
const struct tparker_backend *tp_registry_find_origin(const void *origin);
const struct tparker_backend *tp_registry_find_name(const char *name);
bool tp_registry_contains(const struct tparker_backend *b);
/* The i-th adopted backend, NULL past the end. */
const struct tparker_backend *tp_registry_at(size_t i);
/* Once, before any loading: keep the loader lock usable across fork(). */
void tp_loader_atfork(void);
void tp_loader_lock(void);
void tp_loader_unlock(void);

/* select.c */
void tp_ensure_init(void);
const struct tparker_backend *tp_default(void);
/* Open one plugin file under the loader lock; expect_name may be NULL. */
int tp_open_plugin(const char *path, const char *expect_name, const struct tparker_backend **out,
		   char *why, size_t why_len);

/* spin.c */
extern const struct tparker_backend tp_spin_backend;

#endif
