/* SPDX-License-Identifier: MIT */
/* Copy, then check, a backend table before the core adopts it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

struct tp_required_op {
	const char *name;
	size_t offset;
};

/* clang-format off */
#define TP_OP(op) { #op, offsetof(struct tparker_backend, op) }
static const struct tp_required_op tp_required_ops[] = {
	TP_OP(probe), TP_OP(init), TP_OP(destroy), TP_OP(prepare_park), TP_OP(park),
	TP_OP(park_until), TP_OP(timed_out), TP_OP(unpark_lock), TP_OP(unpark),
	TP_OP(thread_yield),
};
#undef TP_OP
/* clang-format on */

int tp_entry_missing(void *handle, bool (*has)(void *handle, const char *name), char *why,
		     size_t why_len)
{
	for (int m = 0; m < 10; m++) {
		char name[40];
		snprintf(name, sizeof(name), "tparker_backend_entry_v%d", m);
		if (m == TPARKER_BACKEND_ABI_MAJOR || !has(handle, name))
			continue;
		snprintf(why, why_len,
			 "built for ABI major %d (exports %s, not " TPARKER_BACKEND_ENTRY_NAME
			 "), this libtparker speaks major %d",
			 m, name, TPARKER_BACKEND_ABI_MAJOR);
		return EPROTO;
	}
	snprintf(why, why_len,
		 "no entry symbol " TPARKER_BACKEND_ENTRY_NAME
		 " (not a libtparker plugin, or one of another ABI major)");
	return ENOEXEC;
}

int tp_validate(const struct tparker_backend *src, const char *expect_name,
		struct tparker_backend *out, char *why, size_t why_len)
{
	if (!src) {
		snprintf(why, why_len, "entry returned no backend");
		return EINVAL;
	}
	/* version and size come first in every major, so they are safe to read. */
	uint32_t major = src->version >> 16;
	if (major != TPARKER_BACKEND_ABI_MAJOR) {
		snprintf(why, why_len, "built for ABI major %u, this libtparker speaks major %d",
			 (unsigned)major, TPARKER_BACKEND_ABI_MAJOR);
		return EPROTO;
	}
	if (src->size < TPARKER_BACKEND_MIN_SIZE) {
		snprintf(why, why_len, "table size %u is smaller than the %zu bytes of ABI %d.0",
			 (unsigned)src->size, (size_t)TPARKER_BACKEND_MIN_SIZE,
			 TPARKER_BACKEND_ABI_MAJOR);
		return EPROTO;
	}
	/* Members a newer minor appended beyond our struct are ignored; those
	 * an older plugin lacks stay zero (absent). */
	memset(out, 0, sizeof(*out));
	memcpy(out, src, src->size < sizeof(*out) ? src->size : sizeof(*out));
	out->size = sizeof(*out);

	size_t len = out->name ? strnlen(out->name, TPARKER_NAME_MAX + 1) : 0;
	if (!out->name || !tp_valid_name(out->name, len)) {
		snprintf(why, why_len,
			 "invalid name (a backend name is 1 to %d characters of [a-z0-9_-], "
			 "starting with a letter)",
			 TPARKER_NAME_MAX);
		return EINVAL;
	}
	if (strcmp(out->name, tp_spin_backend.name) == 0) {
		snprintf(why, why_len, "name '%s' is reserved for the built-in backend", out->name);
		return EINVAL;
	}
	if (expect_name && strcmp(out->name, expect_name) != 0) {
		snprintf(why, why_len, "file is named for '%s' but declares name '%s'", expect_name,
			 out->name);
		return EINVAL;
	}
	if (!out->description) {
		snprintf(why, why_len, "no description");
		return EINVAL;
	}
	if (out->state_size > TPARKER_STATE_MAX) {
		snprintf(why, why_len, "state size %u exceeds the %d bytes a parker has room for",
			 (unsigned)out->state_size, TPARKER_STATE_MAX);
		return EINVAL;
	}
	if (out->word_protocol == TPARKER_WORD_PROTOCOL_V1 &&
	    out->state_size < sizeof(struct tparker_word_v1)) {
		snprintf(why, why_len,
			 "declares word protocol %u but its state size %u is smaller than "
			 "the %zu bytes of the protocol's word",
			 (unsigned)out->word_protocol, (unsigned)out->state_size,
			 sizeof(struct tparker_word_v1));
		return EINVAL;
	}
	/* A protocol from a newer minor: this core runs the operations only. */
	if (out->word_protocol != TPARKER_WORD_PROTOCOL_V1)
		out->word_protocol = 0;
	for (size_t i = 0; i < sizeof(tp_required_ops) / sizeof(tp_required_ops[0]); i++) {
		void *fn;
		memcpy(&fn, (const char *)out + tp_required_ops[i].offset, sizeof(fn));
		if (!fn) {
			snprintf(why, why_len, "required operation '%s' missing",
				 tp_required_ops[i].name);
			return EINVAL;
		}
	}
	char probe_why[TP_REASON_MAX] = "";
	int err = out->probe(&tp_host, probe_why, sizeof(probe_why));
	if (err != 0) {
		snprintf(why, why_len, "probe failed: %s",
			 probe_why[0] ? probe_why : strerror(err > 0 ? err : EINVAL));
		return err > 0 ? err : EINVAL;
	}
	return 0;
}
