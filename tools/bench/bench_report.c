/* SPDX-License-Identifier: MIT */
/* tparker bench results: medians over rounds, ratios, the table and JSON. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cli.h"

/* The variables that change what is measured, shown with the figures. */
static const char *const env_vars[] = {"TPARKER_BACKEND", "TPARKER_SPIN_NS", "TPARKER_DEBUG"};
#define N_ENV_VARS (sizeof(env_vars) / sizeof(env_vars[0]))

/* Three metrics per storm size: index i of bench_storm_k, K = k. */
#define STORM_WAKES(i, k)                                                                          \
	[BM_STORM + 3 * (i)] = {"storm_k" #k "_wakes_per_s", "wakes/s", BU_PER_S, true}
#define STORM_MED(i, k)                                                                            \
	[BM_STORM + 3 * (i) + 1] = {"storm_k" #k "_latency_median_ns", "lat median", BU_NS, false}
#define STORM_P99(i, k)                                                                            \
	[BM_STORM + 3 * (i) + 2] = {"storm_k" #k "_latency_p99_ns", "lat p99", BU_NS, false}

const struct bench_metric_info bench_metrics[BM_COUNT] = {
    [BM_FASTPATH] = {"fastpath_ns", "per cycle", BU_NS, false},
    [BM_PINGPONG] = {"pingpong_ns", "unpinned", BU_NS, false},
    [BM_PINGPONG_PINNED] = {"pingpong_pinned_ns", "one CPU", BU_NS, false},
    [BM_PINGPONG_RELEASED] = {"pingpong_released_ns", "released", BU_NS, false},
    [BM_PINGPONG_LOADED] = {"pingpong_loaded_ns", "loaded", BU_NS, false},
    STORM_WAKES(0, 1),
    STORM_MED(0, 1),
    STORM_P99(0, 1),
    STORM_WAKES(1, 4),
    STORM_MED(1, 4),
    STORM_P99(1, 4),
    STORM_WAKES(2, 16),
    STORM_MED(2, 16),
    STORM_P99(2, 16),
    STORM_WAKES(3, 64),
    STORM_MED(3, 64),
    STORM_P99(3, 64),
    [BM_TIMEOUT_MED] = {"timeout_overshoot_median_ns", "over median", BU_NS, false},
    [BM_TIMEOUT_P99] = {"timeout_overshoot_p99_ns", "over p99", BU_NS, false},
    [BM_TIMEOUT_EARLY] = {"timeout_early_returns", "early", BU_COUNT, false},
    [BM_IDLE] = {"idle_cpu_ns_per_s", "CPU per s", BU_NS, false},
    [BM_MEMORY] = {"memory_bytes", "per parker", BU_BYTES, false},
};

double *bench_cell(const struct bench_results *r, size_t v, int m, unsigned round)
{
	return &r->value[(v * BM_COUNT + (size_t)m) * r->rounds + round];
}

/* Median over rounds of variant v's figure, or (ref < nvariants) of its
 * ratio to variant ref in the same round. */
static double median_of(const struct bench_results *r, size_t v, int m, size_t ref)
{
	double tmp[1000];
	size_t n = 0;
	for (unsigned i = 0; i < r->rounds && n < sizeof(tmp) / sizeof(tmp[0]); i++) {
		double x = *bench_cell(r, v, m, i);
		if (isnan(x))
			continue;
		if (ref < r->nvariants) {
			double base = *bench_cell(r, ref, m, i);
			if (isnan(base) || base <= 0)
				continue;
			x /= base;
		}
		tmp[n++] = x;
	}
	return bench_median(tmp, n);
}

double bench_result_median(const struct bench_results *r, size_t v, int m)
{
	return median_of(r, v, m, r->nvariants);
}

double bench_result_ratio(const struct bench_results *r, size_t v, int m)
{
	if (m == BM_TIMEOUT_EARLY)
		return NAN;
	return median_of(r, v, m, r->ref);
}

/* Issue 5 holds the pthread backend to the raw mutex+condvar baseline on
 * every row: its own ratios, per round like the others. */
static bool pthread_pair(const struct bench_results *r, size_t *pt, size_t *cv)
{
	*pt = *cv = r->nvariants;
	for (size_t v = 0; v < r->nvariants; v++) {
		if (r->variants[v].kind == BENCH_API && strcmp(r->variants[v].name, "pthread") == 0)
			*pt = v;
		else if (r->variants[v].kind == BENCH_BASELINE &&
			 strcmp(r->variants[v].name, "raw-condvar") == 0)
			*cv = v;
	}
	return *pt < r->nvariants && *cv < r->nvariants;
}

static double pthread_ratio(const struct bench_results *r, size_t pt, size_t cv, int m)
{
	if (!r->metric_run[m] || m == BM_TIMEOUT_EARLY || m == BM_IDLE)
		return NAN;
	return median_of(r, pt, m, cv);
}

/* ---- the table ----------------------------------------------------------------- */

static void fmt_value(char *buf, size_t len, double x, enum bench_unit u)
{
	if (isnan(x)) {
		snprintf(buf, len, "-");
		return;
	}
	switch (u) {
	case BU_NS:
		if (x < 1e3)
			snprintf(buf, len, "%.1f ns", x);
		else if (x < 1e6)
			snprintf(buf, len, "%.1f us", x / 1e3);
		else if (x < 1e9)
			snprintf(buf, len, "%.2f ms", x / 1e6);
		else
			snprintf(buf, len, "%.2f s", x / 1e9);
		break;
	case BU_PER_S:
		if (x < 1e3)
			snprintf(buf, len, "%.0f", x);
		else if (x < 1e6)
			snprintf(buf, len, "%.1fk", x / 1e3);
		else
			snprintf(buf, len, "%.2fM", x / 1e6);
		break;
	case BU_COUNT:
		snprintf(buf, len, "%.0f", x);
		break;
	case BU_BYTES:
		snprintf(buf, len, "%.0f B", x);
		break;
	}
}

static void print_group(const struct bench_results *r, const char *title, int first, int count)
{
	if (!r->metric_run[first])
		return;
	printf("\n%s\n  %-18s", title, "variant");
	for (int m = first; m < first + count; m++)
		printf(" %11s %6s", bench_metrics[m].heading, "ratio");
	printf("\n");
	for (size_t v = 0; v < r->nvariants; v++) {
		const struct bench_variant *bv = &r->variants[v];
		if (bv->fastpath_only && first != BM_FASTPATH)
			continue;
		printf("%c %-18s", bv->is_default ? '*' : ' ', bv->name);
		for (int m = first; m < first + count; m++) {
			char val[32], ratio[32];
			fmt_value(val, sizeof(val), bench_result_median(r, v, m),
				  bench_metrics[m].unit);
			double q = bench_result_ratio(r, v, m);
			if (isnan(q))
				snprintf(ratio, sizeof(ratio), "-");
			else
				snprintf(ratio, sizeof(ratio), "%.*fx",
					 q < 10	   ? 2
					 : q < 100 ? 1
						   : 0,
					 q);
			printf(" %11s %6s", val, ratio);
		}
		printf("\n");
	}
}

/* The ping-pong rows whose gain must hold on every round, not only in the
 * median: per variant, the spread over rounds of the figure and of its
 * ratio to the reference in the same round. */
static void print_spread(const struct bench_results *r, int m)
{
	if (!r->metric_run[m] || r->rounds < 2)
		return;
	printf("  %s per round (min / median / max; ratio in the same round):\n",
	       bench_metrics[m].heading);
	for (size_t v = 0; v < r->nvariants; v++) {
		double x[1000], q[1000];
		size_t n = 0, nq = 0;
		for (unsigned i = 0; i < r->rounds && n < 1000; i++) {
			double a = *bench_cell(r, v, m, i), b = *bench_cell(r, r->ref, m, i);
			if (isnan(a))
				continue;
			x[n++] = a;
			if (!isnan(b) && b > 0)
				q[nq++] = a / b;
		}
		if (n == 0)
			continue;
		char lo[32], mid[32], hi[32];
		double med = bench_median(x, n);
		fmt_value(lo, sizeof(lo), x[0], BU_NS);
		fmt_value(mid, sizeof(mid), med, BU_NS);
		fmt_value(hi, sizeof(hi), x[n - 1], BU_NS);
		printf("%c %-18s %9s %9s %9s", r->variants[v].is_default ? '*' : ' ',
		       r->variants[v].name, lo, mid, hi);
		if (nq) {
			double qm = bench_median(q, nq);
			printf("   %6.3fx %6.3fx %6.3fx", q[0], qm, q[nq - 1]);
		}
		printf("\n");
	}
}

/* The dispatch cost per call: API minus direct, over the four calls of a
 * fast-path cycle. */
#define FASTPATH_CALLS 4

/* Median over rounds of (a - b) in the same round, so both sides saw the
 * same machine. */
static double median_diff(const struct bench_results *r, size_t a, size_t b, int m)
{
	double d[1000];
	size_t n = 0;
	for (unsigned i = 0; i < r->rounds && n < 1000; i++) {
		double x = *bench_cell(r, a, m, i), y = *bench_cell(r, b, m, i);
		if (!isnan(x) && !isnan(y))
			d[n++] = x - y;
	}
	return bench_median(d, n);
}

/* The default backend's API variant, or r->nvariants. */
static size_t default_api(const struct bench_results *r)
{
	for (size_t v = 0; v < r->nvariants; v++)
		if (r->variants[v].kind == BENCH_API && r->variants[v].is_default)
			return v;
	return r->nvariants;
}

static size_t variant_named(const struct bench_results *r, const char *name)
{
	for (size_t v = 0; v < r->nvariants; v++)
		if (strcmp(r->variants[v].name, name) == 0)
			return v;
	return r->nvariants;
}

static bool dispatch_cost(const struct bench_results *r, const char **name, double *per_call)
{
	size_t api = default_api(r), direct = r->nvariants;
	for (size_t v = 0; v < r->nvariants; v++)
		if (r->variants[v].kind == BENCH_DIRECT)
			direct = v;
	if (api == r->nvariants || direct == r->nvariants || !r->metric_run[BM_FASTPATH])
		return false;
	*name = r->variants[api].name;
	*per_call = median_diff(r, api, direct, BM_FASTPATH) / FASTPATH_CALLS;
	return !isnan(*per_call);
}

/* The default backend above cas-floor, the cycle with one compare-exchange
 * and nothing else. */
static bool floor_gap(const struct bench_results *r, const char **name, double *gap)
{
	size_t api = default_api(r), floor = variant_named(r, "cas-floor");
	if (api == r->nvariants || floor == r->nvariants || !r->metric_run[BM_FASTPATH])
		return false;
	*name = r->variants[api].name;
	*gap = median_diff(r, api, floor, BM_FASTPATH);
	return !isnan(*gap);
}

static void print_dispatch(const struct bench_results *r)
{
	const char *name;
	double ns;
	if (dispatch_cost(r, &name, &ns))
		printf("  dispatch: %s through the API minus %s-direct = %.1f ns per call "
		       "(median over rounds; %d calls per cycle)\n",
		       name, name, ns, FASTPATH_CALLS);
	if (floor_gap(r, &name, &ns))
		printf("  floor: %s minus cas-floor (one compare-exchange, the least a parker "
		       "pays that\n    learns atomically whether its owner sleeps) = %.1f ns per "
		       "cycle (median over rounds)\n",
		       name, ns);
}

static void print_pthread_vs_condvar(const struct bench_results *r)
{
	size_t pt, cv;
	if (!pthread_pair(r, &pt, &cv))
		return;
	printf("\npthread vs raw-condvar: median of (pthread / raw-condvar) in the same round; "
	       "below 1 is better except wakes/s\n ");
	int shown = 0;
	for (int m = 0; m < BM_COUNT; m++) {
		double q = pthread_ratio(r, pt, cv, m);
		if (isnan(q))
			continue;
		printf("%s %s %.2fx", shown && shown % 4 == 0 ? "\n " : "", bench_metrics[m].key,
		       q);
		shown++;
	}
	printf("\n");
}

void bench_print_table(const struct bench_results *r)
{
	const char *ref = r->variants[r->ref].name;
	printf("tparker bench%s: %u round%s, %ld CPUs, %s, load %s, %s\n",
	       r->quick ? " --quick" : "", r->rounds, r->rounds == 1 ? "" : "s", r->cpus, r->kernel,
	       r->loadavg, r->date);
	printf("each figure: median over rounds; ratio: median of (variant / %s) in the "
	       "same round\n'*' marks the default backend (%s); lower is better except "
	       "wakes/s\n",
	       ref, tparker_default_reason());
	for (size_t i = 0; i < N_ENV_VARS; i++) {
		bool ignored;
		const char *v = scan_env(env_vars[i], &ignored);
		if (v)
			printf("%s=%s\n", env_vars[i], v);
	}
	print_group(r,
		    "fast path: prepare_park + unpark_lock/unpark + park (returns at once), "
		    "per cycle",
		    BM_FASTPATH, 1);
	print_dispatch(r);
	print_group(r,
		    "ping-pong: round trip between two threads (unpinned / both pinned to one "
		    "CPU / pinned to one CPU for the first eighth, then released / unpinned "
		    "beside two busy loops)",
		    BM_PINGPONG, 4);
	print_spread(r, BM_PINGPONG);
	print_spread(r, BM_PINGPONG_RELEASED);
	for (int k = 0; k < BENCH_STORM_KS; k++) {
		char title[160];
		snprintf(title, sizeof(title),
			 "wake storm K=%u: one waker, %u parked threads; wakes/s and "
			 "unpark-to-running latency",
			 bench_storm_k[k], bench_storm_k[k]);
		print_group(r, title, BM_STORM + 3 * k, 3);
	}
	if (!isnan(r->poll_interval_ns)) {
		char iv[32];
		fmt_value(iv, sizeof(iv), r->poll_interval_ns, BU_NS);
		printf("  polling ceiling: %u threads that only sleep 1 us and wake, nothing else "
		       "running,\n    wake each every %s; spin's median latency at K=%u cannot be "
		       "much below half that\n",
		       bench_storm_k[BENCH_STORM_KS - 1], iv, bench_storm_k[BENCH_STORM_KS - 1]);
	}
	print_group(r, "timeout: park_until(now + 1 ms), nobody unparks: overshoot, early returns",
		    BM_TIMEOUT_MED, 3);
	print_group(r, "idle: CPU time used by 8 parked threads per second parked", BM_IDLE, 1);
	print_group(r, "memory: bytes per parker (API: sizeof(tparker_t); direct: backend state)",
		    BM_MEMORY, 1);
	print_pthread_vs_condvar(r);
	if (r->unusable && *r->unusable) {
		printf("\nnot usable here (skipped):\n");
		for (const char *l = r->unusable; *l;) {
			size_t n = strcspn(l, "\n");
			printf("  %.*s\n", (int)n, l);
			l += n + (l[n] == '\n');
		}
	}
	printf("\n%.1f s\n", r->seconds);
}

/* ---- JSON ------------------------------------------------------------------------ */

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void json_number(double x)
{
	if (isnan(x) || isinf(x))
		printf("null");
	else
		printf("%.6g", x);
}

static const char *const kind_names[] = {"api", "direct", "baseline"};

void bench_print_json(const struct bench_results *r)
{
	printf("{\n  \"tool\": \"tparker bench\",\n  \"version\": ");
	json_string(tparker_version());
	printf(",\n  \"date\": ");
	json_string(r->date);
	printf(",\n  \"machine\": {\"cpus\": %ld, \"kernel\": ", r->cpus);
	json_string(r->kernel);
	printf(", \"loadavg\": ");
	json_string(r->loadavg);
	printf("},\n  \"quick\": %s,\n  \"rounds\": %u,\n  \"seconds\": ",
	       r->quick ? "true" : "false", r->rounds);
	json_number(r->seconds);
	printf(",\n  \"default_backend\": ");
	json_string(tparker_backend_name(tparker_default_backend()));
	printf(",\n  \"default_reason\": ");
	json_string(tparker_default_reason());
	printf(",\n  \"environment\": {");
	for (size_t i = 0, shown = 0; i < N_ENV_VARS; i++) {
		bool ignored;
		const char *v = scan_env(env_vars[i], &ignored);
		if (!v)
			continue;
		printf("%s", shown++ ? ", " : "");
		json_string(env_vars[i]);
		printf(": ");
		json_string(v);
	}
	printf("}");
	printf(",\n  \"ratio_reference\": ");
	json_string(r->variants[r->ref].name);
	const char *dname;
	double per_call;
	printf(",\n  \"dispatch_ns_per_call\": ");
	json_number(dispatch_cost(r, &dname, &per_call) ? per_call : NAN);
	printf(",\n  \"above_cas_floor_ns\": ");
	json_number(floor_gap(r, &dname, &per_call) ? per_call : NAN);
	printf(",\n  \"storm_poll_interval_ns\": ");
	json_number(r->poll_interval_ns);
	printf(",\n  \"pthread_vs_raw_condvar\": {");
	size_t pt, cv;
	if (pthread_pair(r, &pt, &cv)) {
		for (int m = 0, shown = 0; m < BM_COUNT; m++) {
			double q = pthread_ratio(r, pt, cv, m);
			if (isnan(q))
				continue;
			printf("%s", shown++ ? ", " : "");
			json_string(bench_metrics[m].key);
			printf(": ");
			json_number(q);
		}
	}
	printf("}");
	printf(",\n  \"unusable\": [");
	const char *line = r->unusable ? r->unusable : "";
	for (bool first = true; *line; first = false) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char buf[1024];
		snprintf(buf, sizeof(buf), "%.*s", (int)len, line);
		printf("%s", first ? "" : ", ");
		json_string(buf);
		line += len + (nl ? 1 : 0);
	}
	printf("],\n  \"variants\": {");
	for (size_t v = 0; v < r->nvariants; v++) {
		const struct bench_variant *bv = &r->variants[v];
		printf("%s\n    ", v ? "," : "");
		json_string(bv->name);
		printf(": {\n      \"kind\": \"%s\",\n      \"default\": %s", kind_names[bv->kind],
		       bv->is_default ? "true" : "false");
		for (int m = 0; m < BM_COUNT; m++) {
			if (!r->metric_run[m])
				continue;
			printf(",\n      ");
			json_string(bench_metrics[m].key);
			printf(": {\"median\": ");
			json_number(bench_result_median(r, v, m));
			printf(", \"ratio\": ");
			json_number(bench_result_ratio(r, v, m));
			printf("}");
		}
		printf("\n    }");
	}
	printf("\n  }\n}\n");
}
