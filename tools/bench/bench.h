/* SPDX-License-Identifier: MIT */
/* tparker bench: the variants behind one small vtable, the benchmarks
 * written once against it, and their shared helpers. */
#ifndef TPARKER_TOOLS_BENCH_H
#define TPARKER_TOOLS_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <tparker/backend.h>

struct bench_variant;

/* One parker design as every benchmark sees it. p points to parker_size
 * bytes aligned to BENCH_PARKER_ALIGN. */
struct bench_ops {
	int (*init)(const struct bench_variant *v, void *p);
	void (*destroy)(void *p);
	void (*prepare_park)(void *p);
	void (*park)(void *p);
	bool (*park_until)(void *p, const struct timespec *deadline);
	bool (*timed_out)(void *p);
	/* unpark_lock, then unpark at once: the bench holds no queue lock. */
	void (*unpark)(void *p);
	/* n fast-path cycles; ns elapsed. Instantiated per variant from
	 * BENCH_DEFINE_FASTPATH, so this vtable's own indirect calls stay out
	 * of a figure that is only a few ns. */
	uint64_t (*fastpath)(void *p, uint64_t n);
};

enum bench_kind { BENCH_API, BENCH_DIRECT, BENCH_BASELINE };

struct bench_variant {
	char name[TPARKER_NAME_MAX + 16];
	enum bench_kind kind;
	const struct bench_ops *ops;
	const struct tparker_backend *backend; /* API and direct variants */
	size_t parker_size;		       /* bytes allocated per parker */
	size_t memory;			       /* bytes per parker, as reported */
	bool is_default;
	/* A reference for the fast path only (no park that sleeps): the
	 * other benchmarks skip it and their tables leave it out. */
	bool fastpath_only;
};

uint64_t bench_now_ns(void);

#define BENCH_DEFINE_FASTPATH(fn, prepare, unpark, park)                                           \
	static uint64_t fn(void *p, uint64_t n)                                                    \
	{                                                                                          \
		uint64_t t0 = bench_now_ns();                                                      \
		for (uint64_t i = 0; i < n; i++) {                                                 \
			prepare(p);                                                                \
			unpark(p);                                                                 \
			park(p);                                                                   \
		}                                                                                  \
		return bench_now_ns() - t0;                                                        \
	}

/* bench_variants.c / bench_baselines.c */
void bench_variant_api(struct bench_variant *v, const struct tparker_backend *b);
void bench_variant_direct(struct bench_variant *v, const struct tparker_backend *b);
/* Fills up to max baselines; the first is the reference for ratios. */
size_t bench_baselines(struct bench_variant *out, size_t max);

/* ---- the measurements -------------------------------------------------------- */

#define BENCH_STORM_KS 4
extern const unsigned bench_storm_k[BENCH_STORM_KS];

enum bench_metric {
	BM_FASTPATH,
	BM_PINGPONG,
	BM_PINGPONG_PINNED,
	BM_PINGPONG_RELEASED, /* both pinned to one CPU for a warm-up, then free */
	BM_PINGPONG_LOADED,   /* unpinned, beside two busy loops */
	BM_STORM,	      /* BENCH_STORM_KS triples: wakes/s, latency median, latency p99 */
	BM_TIMEOUT_MED = BM_STORM + 3 * BENCH_STORM_KS,
	BM_TIMEOUT_P99,
	BM_TIMEOUT_EARLY,
	BM_IDLE,
	BM_MEMORY,
	BM_COUNT
};

enum bench_unit { BU_NS, BU_PER_S, BU_COUNT, BU_BYTES };

struct bench_metric_info {
	const char *key;     /* JSON name */
	const char *heading; /* table column */
	enum bench_unit unit;
	bool higher_better;
};
extern const struct bench_metric_info bench_metrics[BM_COUNT];

struct bench_cfg {
	bool quick;
	unsigned rounds;
	uint64_t fastpath_cycles;
	uint64_t pingpong_ns; /* time per measurement */
	uint64_t storm_ns;
	unsigned timeout_samples;
	uint64_t idle_ns;
	int pin_cpu; /* the one CPU of the pinned ping-pong; -1: cannot pin */
};

/* bench_cases.c: each writes its metrics into out[]; a correctness
 * failure ends the run through bench_fail(). */
void bench_fastpath(const struct bench_variant *v, const struct bench_cfg *c, double *out);
/* How the two threads of a ping-pong may be placed; BM_PINGPONG + mode. */
enum bench_pp_mode { BENCH_PP_UNPINNED, BENCH_PP_PINNED, BENCH_PP_RELEASED, BENCH_PP_LOADED };
void bench_pingpong(const struct bench_variant *v, const struct bench_cfg *c,
		    enum bench_pp_mode mode, double *out);
void bench_storm(const struct bench_variant *v, const struct bench_cfg *c, unsigned k_index,
		 double *out);
void bench_timeout(const struct bench_variant *v, const struct bench_cfg *c, double *out);
void bench_idle(const struct bench_variant *v, const struct bench_cfg *c, double *out);
/* k threads that only sleep 1 us and wake, for ns: the time between two
 * wakes of one of them (k / wakes per second of all). */
double bench_poll_interval(unsigned k, uint64_t ns);
void bench_memory(const struct bench_variant *v, const struct bench_cfg *c, double *out);

/* ---- bench_util.c ------------------------------------------------------------ */

#define BENCH_PARKER_ALIGN 128

void *bench_parker_new(const struct bench_variant *v);
void bench_parker_free(const struct bench_variant *v, void *p);

/* Print "tparker bench: FAIL: ..." and end the process with status 1. */
_Noreturn void bench_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The watchdog fails the run when no benchmark makes progress for 5 s;
 * while guarded, it only raises bench_watchdog_hung() instead, for the
 * caller to leave the hung variant behind and carry on. */
void bench_watchdog_start(void);
void bench_watchdog_guard(bool on);
bool bench_watchdog_hung(void);
void bench_tick(void);
void bench_set_context(const char *bench, const char *variant);

/* One updating line on stderr when it is a terminal. */
void bench_progress(const char *bench, unsigned round, unsigned rounds, const char *variant,
		    unsigned done, unsigned total);
void bench_progress_clear(void);

/* Wait, without burning a core, until *count reaches target. */
void bench_wait_count(atomic_uint *count, unsigned target);
void bench_sleep_ns(uint64_t ns);
int bench_pin_self(int cpu);

double bench_median(double *v, size_t n);		/* sorts v; NAN for n == 0 */
double bench_percentile(double *v, size_t n, double q); /* v sorted */
struct timespec bench_ts_add_ns(struct timespec t, uint64_t ns);
int64_t bench_ts_diff_ns(const struct timespec *a, const struct timespec *b); /* a - b */

/* ---- bench_report.c / bench_plot.c ------------------------------------------- */

struct bench_results {
	const struct bench_variant *variants;
	size_t nvariants;
	size_t ref; /* index of the baseline ratios refer to */
	unsigned rounds;
	bool quick;
	bool metric_run[BM_COUNT];
	double *value;	      /* [variant][metric][round], NAN when not measured */
	const char *unusable; /* "name: reason" lines of backends skipped, or "" */
	char date[32];
	char kernel[256];
	char loadavg[64];
	long cpus;
	double seconds;
	/* With the storm and the spin backend: how often each of the largest
	 * storm's K threads can wake when all they do is sleep 1 us and wake
	 * (bench_poll_interval); NAN when not measured. */
	double poll_interval_ns;
};

double *bench_cell(const struct bench_results *r, size_t v, int m, unsigned round);
/* Median over rounds of the value, and of its ratio to the reference. */
double bench_result_median(const struct bench_results *r, size_t v, int m);
double bench_result_ratio(const struct bench_results *r, size_t v, int m);

void bench_print_table(const struct bench_results *r);
void bench_print_json(const struct bench_results *r);
/* 0, or 1 after a message on stderr. */
int bench_plot(const struct bench_results *r, const char *file);
/* NULL when gnuplot is not on PATH; else a malloc'ed path. */
char *bench_find_gnuplot(void);

#endif
