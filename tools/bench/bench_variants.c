/* SPDX-License-Identifier: MIT */
/* The library's backends as bench variants: through the public API, and the
 * default backend's operations called directly (what dispatch costs). */
#include <stdio.h>
#include <string.h>

#include "bench.h"

/* ---- through the public API ---------------------------------------------- */

static int api_init(const struct bench_variant *v, void *p)
{
	return tparker_init_with(p, v->backend);
}

static void api_destroy(void *p)
{
	tparker_destroy(p);
}

static inline void api_prepare_park(void *p)
{
	tparker_prepare_park(p);
}

static inline void api_park(void *p)
{
	tparker_park(p);
}

static bool api_park_until(void *p, const struct timespec *deadline)
{
	return tparker_park_until(p, deadline);
}

static bool api_timed_out(void *p)
{
	return tparker_timed_out(p);
}

static inline void api_unpark(void *p)
{
	tparker_unpark(tparker_unpark_lock(p));
}

BENCH_DEFINE_FASTPATH(api_fastpath, api_prepare_park, api_unpark, api_park)

static const struct bench_ops api_ops = {
    .init = api_init,
    .destroy = api_destroy,
    .prepare_park = api_prepare_park,
    .park = api_park,
    .park_until = api_park_until,
    .timed_out = api_timed_out,
    .unpark = api_unpark,
    .fastpath = api_fastpath,
};

void bench_variant_api(struct bench_variant *v, const struct tparker_backend *b)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", b->name);
	v->kind = BENCH_API;
	v->ops = &api_ops;
	v->backend = b;
	v->parker_size = sizeof(tparker_t);
	v->memory = sizeof(tparker_t);
}

/* ---- the backend's operations, called directly ---------------------------
 * The same layout as tparker_t (backend pointer, then the state), minus the
 * library's exported wrappers: the difference to the API variant is what
 * dispatch costs. */

struct direct {
	const struct tparker_backend *b;
	_Alignas(16) unsigned char state[TPARKER_STATE_MAX];
};

static int direct_init(const struct bench_variant *v, void *p)
{
	struct direct *d = p;
	d->b = v->backend;
	return d->b->init(d->state);
}

static void direct_destroy(void *p)
{
	struct direct *d = p;
	d->b->destroy(d->state);
}

static inline void direct_prepare_park(void *p)
{
	struct direct *d = p;
	d->b->prepare_park(d->state);
}

static inline void direct_park(void *p)
{
	struct direct *d = p;
	d->b->park(d->state);
}

static bool direct_park_until(void *p, const struct timespec *deadline)
{
	struct direct *d = p;
	return d->b->park_until(d->state, deadline);
}

static bool direct_timed_out(void *p)
{
	struct direct *d = p;
	return d->b->timed_out(d->state);
}

static inline void direct_unpark(void *p)
{
	struct direct *d = p;
	const struct tparker_backend *b = d->b;
	tparker_unpark_handle_t h = {NULL, NULL};
	if (b->unpark_lock(d->state, &h)) {
		h.backend = b;
		b->unpark(&h);
	}
}

BENCH_DEFINE_FASTPATH(direct_fastpath, direct_prepare_park, direct_unpark, direct_park)

static const struct bench_ops direct_ops = {
    .init = direct_init,
    .destroy = direct_destroy,
    .prepare_park = direct_prepare_park,
    .park = direct_park,
    .park_until = direct_park_until,
    .timed_out = direct_timed_out,
    .unpark = direct_unpark,
    .fastpath = direct_fastpath,
};

void bench_variant_direct(struct bench_variant *v, const struct tparker_backend *b)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s-direct", b->name);
	v->kind = BENCH_DIRECT;
	v->ops = &direct_ops;
	v->backend = b;
	v->parker_size = sizeof(struct direct);
	/* What the backend itself needs per parker. */
	v->memory = b->state_size;
}
