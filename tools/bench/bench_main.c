/* SPDX-License-Identifier: MIT */
/* tparker bench: options, the variants, and the rounds (A B C A B C ...) so
 * that the machine's drift hits every variant alike. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bench_lock.h"
#include "bench_os.h"
#include "cli.h"

#define MAX_VARIANTS 24
#define MAX_NAMES    32

enum bench_id { B_FASTPATH, B_PINGPONG, B_STORM, B_TIMEOUT, B_IDLE, B_MEMORY, B_COUNT };

static const char *const bench_names[B_COUNT] = {
    "fastpath", "pingpong", "storm", "timeout", "idle", "memory",
};

/* One measured unit: a benchmark with its parameters. */
struct unit {
	enum bench_id bench;
	const char *label;
	unsigned arg; /* ping-pong mode, or the storm K index */
};

static const struct unit units[] = {
    {B_FASTPATH, "fastpath", 0},
    {B_PINGPONG, "pingpong", BENCH_PP_UNPINNED},
    {B_PINGPONG, "pingpong pinned", BENCH_PP_PINNED},
    {B_PINGPONG, "pingpong released", BENCH_PP_RELEASED},
    {B_PINGPONG, "pingpong loaded", BENCH_PP_LOADED},
    {B_STORM, "storm K=1", 0},
    {B_STORM, "storm K=4", 1},
    {B_STORM, "storm K=16", 2},
    {B_STORM, "storm K=64", 3},
    {B_TIMEOUT, "timeout", 0},
    {B_IDLE, "idle", 0},
    {B_MEMORY, "memory", 0},
};

struct opts {
	bool quick, json;
	unsigned rounds;
	const char *plot;
	char *backends[MAX_NAMES];
	size_t nbackends;
	bool only[B_COUNT];
	bool only_set;
	bool lock; /* --only lock: the locks' own run (bench_lock.c) */
};

/* Append the comma list arg to names[]; trims nothing: names have no blanks. */
static int split_names(const char *opt, char *arg, char **names, size_t *n)
{
	for (char *save = NULL, *tok = strtok_r(arg, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (*n == MAX_NAMES)
			return cli_usage_error("bench: too many names for %s", opt);
		names[(*n)++] = tok;
	}
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o, bool *help)
{
	char *only[MAX_NAMES];
	size_t nonly = 0;
	for (int i = 1; i < argc; i++) {
		char *a = argv[i], *val = NULL;
		char *eq = a[0] == '-' && a[1] == '-' ? strchr(a, '=') : NULL;
		char name[32];
		snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
		bool takes = strcmp(name, "--rounds") == 0 || strcmp(name, "--backend") == 0 ||
			     strcmp(name, "--only") == 0 || strcmp(name, "--plot") == 0;
		if (takes) {
			if (eq)
				val = eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				return cli_usage_error("bench: option '%s' needs an argument",
						       name);
			if (!*val)
				return cli_usage_error(
				    "bench: option '%s' needs a non-empty argument", name);
		} else if (eq) {
			return cli_usage_error("bench: option '%s' takes no argument", name);
		}
		int err = 0;
		if (cli_is_help(a)) {
			*help = true;
		} else if (strcmp(a, "--quick") == 0) {
			o->quick = true;
		} else if (strcmp(a, "--json") == 0) {
			o->json = true;
		} else if (strcmp(name, "--plot") == 0) {
			o->plot = val;
		} else if (strcmp(name, "--rounds") == 0) {
			char *end;
			errno = 0;
			unsigned long r = strtoul(val, &end, 10);
			if (*end || errno || r < 1 || r > 1000 || val[0] == '-')
				return cli_usage_error("bench: --rounds wants a number from 1 to "
						       "1000, not '%s'",
						       val);
			o->rounds = (unsigned)r;
		} else if (strcmp(name, "--backend") == 0) {
			err = split_names(name, val, o->backends, &o->nbackends);
		} else if (strcmp(name, "--only") == 0) {
			err = split_names(name, val, only, &nonly);
		} else if (a[0] == '-') {
			return cli_usage_error("bench: unknown option '%s'", a);
		} else {
			return cli_usage_error("bench: unexpected argument '%s'", a);
		}
		if (err)
			return err;
	}
	for (size_t i = 0; i < nonly; i++) {
		if (strcmp(only[i], "lock") == 0) {
			o->lock = true;
			continue;
		}
		int b = 0;
		while (b < B_COUNT && strcmp(only[i], bench_names[b]) != 0)
			b++;
		if (b == B_COUNT)
			return cli_usage_error(
			    "bench: unknown benchmark '%s' for --only (fastpath, "
			    "pingpong, storm, timeout, idle, memory, lock)",
			    only[i]);
		o->only[b] = true;
		o->only_set = true;
	}
	if (o->lock && (o->only_set || o->plot || o->nbackends))
		return cli_usage_error("bench: --only lock runs on its own (no other benchmark, "
				       "--backend or --plot)");
	if (o->lock)
		return 0;
	if (!o->only_set)
		for (int b = 0; b < B_COUNT; b++)
			o->only[b] = true;
	if (o->plot && !o->only[B_PINGPONG] && !o->only[B_STORM])
		return cli_usage_error("bench: --plot draws pingpong and storm, and --only "
				       "left both out");
	return 0;
}

static bool name_listed(const struct opts *o, const char *name)
{
	for (size_t i = 0; i < o->nbackends; i++)
		if (strcmp(o->backends[i], name) == 0)
			return true;
	return false;
}

static int by_priority(const void *a, const void *b)
{
	const struct bench_variant *x = a, *y = b;
	return (y->backend->priority > x->backend->priority) -
	       (y->backend->priority < x->backend->priority);
}

/* Appends "name: reason\n" to the malloc'ed list *s of length *len. */
static void add_unusable(char **s, size_t *len, const char *name, const char *reason)
{
	size_t more = strlen(name) + strlen(reason) + 3;
	char *grown = realloc(*s, *len + more + 1);
	if (!grown)
		bench_fail("out of memory");
	*len += (size_t)snprintf(grown + *len, more + 1, "%s: %s\n", name, reason);
	*s = grown;
}

/* Every usable backend (or those --backend names), the default's direct
 * variant, then the baselines. */
static int collect_variants(const struct opts *o, struct bench_variant *v, size_t *nv, size_t *ref,
			    char **unusable)
{
	const struct tparker_backend *def = tparker_default_backend();
	char direct_name[TPARKER_NAME_MAX + 16];
	snprintf(direct_name, sizeof(direct_name), "%s-direct", def->name);
	size_t n = 0, len = 0;
	*unusable = NULL;

	for (size_t i = 0; i < o->nbackends; i++) {
		const char *name = o->backends[i];
		size_t nl = strlen(name);
		if (strcmp(name, direct_name) == 0)
			continue;
		if (nl > 7 && strcmp(name + nl - 7, "-direct") == 0) {
			return cli_usage_error("bench: only the default backend has a direct "
					       "variant ('%s'), not '%s'",
					       direct_name, name);
		}
		if (!tparker_backend_get(name)) {
			return cli_usage_error("bench: --backend %s: %s", name,
					       tparker_backend_error());
		}
	}

	struct scan s;
	int err = scan_backends(&s);
	if (err) {
		fprintf(stderr, "tparker: bench: %s\n", strerror(err));
		return CLI_FAILED;
	}
	for (size_t i = 0; i < s.n && n < MAX_VARIANTS - 8; i++) {
		const struct scan_entry *e = &s.v[i];
		if (e->shadowed_by >= 0 || (o->nbackends && !name_listed(o, e->name)))
			continue;
		const struct tparker_backend *b = tparker_backend_get(e->name);
		if (!b) {
			add_unusable(unusable, &len, e->name, tparker_backend_error());
			continue;
		}
		bench_variant_api(&v[n], b);
		v[n].is_default = b == def;
		n++;
	}
	scan_free(&s);
	qsort(v, n, sizeof(*v), by_priority);
	if (!o->nbackends || name_listed(o, def->name) || name_listed(o, direct_name))
		bench_variant_direct(&v[n++], def);
	*ref = n;
	size_t nbase = bench_baselines(&v[n], MAX_VARIANTS - n);
	if (nbase == 0)
		*ref = 0;
	for (size_t i = 0; nbase == 0 && i < n; i++)
		if (v[i].is_default)
			*ref = i;
	n += nbase;
	*nv = n;
	return 0;
}

static void machine(struct bench_results *r)
{
	bench_machine(r->kernel, sizeof(r->kernel), r->loadavg, sizeof(r->loadavg));
	r->cpus = bench_online_cpus();
	time_t now = time(NULL);
	struct tm tm;
	if (gmtime_r(&now, &tm))
		strftime(r->date, sizeof(r->date), "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void configure(const struct opts *o, struct bench_cfg *c)
{
	c->quick = o->quick;
	if (o->quick) {
		c->rounds = 3;
		c->fastpath_cycles = 100000;
		c->pingpong_ns = 50000000;
		c->storm_ns = 50000000;
		c->timeout_samples = 12;
		c->idle_ns = 100000000;
	} else {
		c->rounds = 5;
		c->fastpath_cycles = 500000;
		c->pingpong_ns = 500000000;
		c->storm_ns = 400000000;
		c->timeout_samples = 150;
		c->idle_ns = 1000000000;
	}
	if (o->rounds)
		c->rounds = o->rounds;
	c->pin_cpu = bench_first_cpu();
}

static void run_unit(const struct unit *u, const struct bench_variant *v, const struct bench_cfg *c,
		     double *out)
{
	switch (u->bench) {
	case B_FASTPATH:
		bench_fastpath(v, c, out);
		break;
	case B_PINGPONG:
		bench_pingpong(v, c, (enum bench_pp_mode)u->arg, out);
		break;
	case B_STORM:
		bench_storm(v, c, u->arg, out);
		break;
	case B_TIMEOUT:
		bench_timeout(v, c, out);
		break;
	case B_IDLE:
		bench_idle(v, c, out);
		break;
	case B_MEMORY:
		bench_memory(v, c, out);
		break;
	case B_COUNT:
		break;
	}
}

/* A unit run on a thread of its own, so that a variant that hangs (a lost
 * wakeup: libstdc++'s atomic::wait was seen to lose one in about 25 runs)
 * can be left behind, its threads parked for good, while the run goes on. */
struct unit_job {
	const struct unit *u;
	const struct bench_variant *v;
	const struct bench_cfg *c;
	double out[BM_COUNT];
	atomic_bool done;
};

static void *unit_job_run(void *arg)
{
	struct unit_job *j = arg;
	run_unit(j->u, j->v, j->c, j->out);
	atomic_store_explicit(&j->done, true, memory_order_release);
	return NULL;
}

/* false: the unit hung (no progress for the watchdog's 5 s); its job and
 * threads are leaked on purpose, since they may still touch them. */
static bool run_guarded(const struct unit *u, const struct bench_variant *v,
			const struct bench_cfg *c, double *out)
{
	struct unit_job *j = calloc(1, sizeof(*j));
	pthread_attr_t attr;
	pthread_t t;
	if (!j)
		bench_fail("out of memory");
	*j = (struct unit_job){.u = u, .v = v, .c = c};
	/* What the unit does not measure stays as the caller set it (NAN). */
	memcpy(j->out, out, sizeof(j->out));
	atomic_init(&j->done, false);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int err = pthread_create(&t, &attr, unit_job_run, j);
	pthread_attr_destroy(&attr);
	if (err)
		bench_fail("cannot create a thread: %s", strerror(err));
	bench_watchdog_guard(true);
	/* Polled seldom, so that this thread barely disturbs the measurement. */
	while (!atomic_load_explicit(&j->done, memory_order_acquire)) {
		if (bench_watchdog_hung()) {
			bench_watchdog_guard(false);
			return false;
		}
		bench_sleep_ns(50000000);
	}
	bench_watchdog_guard(false);
	memcpy(out, j->out, sizeof(j->out));
	free(j);
	return true;
}

static const int unit_metrics[B_COUNT][2] = {
    [B_FASTPATH] = {BM_FASTPATH, BM_FASTPATH + 1},
    [B_PINGPONG] = {BM_PINGPONG, BM_PINGPONG_LOADED + 1},
    [B_STORM] = {BM_STORM, BM_STORM + 3 * BENCH_STORM_KS},
    [B_TIMEOUT] = {BM_TIMEOUT_MED, BM_TIMEOUT_EARLY + 1},
    [B_IDLE] = {BM_IDLE, BM_IDLE + 1},
    [B_MEMORY] = {BM_MEMORY, BM_MEMORY + 1},
};

int cmd_bench(int argc, char **argv)
{
	struct opts o = {0};
	bool help = false;
	int err = parse_opts(argc, argv, &o, &help);
	if (err)
		return err;
	if (help) {
		cli_print_help();
		return CLI_OK;
	}
	if (o.lock) {
		struct bench_cfg lc;
		configure(&o, &lc);
		return bench_lock_run(o.rounds ? o.rounds : lc.rounds, o.quick, o.json);
	}
	char *gnuplot = o.plot ? bench_find_gnuplot() : NULL;
	if (o.plot && !gnuplot)
		fprintf(stderr, "tparker: bench: gnuplot not found: install gnuplot-nox; measuring "
				"anyway, the table comes without the plot\n");

	static struct bench_variant variants[MAX_VARIANTS];
	struct bench_results r = {.variants = variants};
	char *unusable = NULL;
	err = collect_variants(&o, variants, &r.nvariants, &r.ref, &unusable);
	if (err) {
		free(unusable);
		free(gnuplot);
		return err;
	}
	r.unusable = unusable;
	size_t unusable_len = unusable ? strlen(unusable) : 0;
	struct bench_cfg c;
	configure(&o, &c);
	r.rounds = c.rounds;
	r.quick = c.quick;
	size_t cells = r.nvariants * BM_COUNT * c.rounds;
	r.value = malloc(cells * sizeof(*r.value));
	if (!r.value)
		bench_fail("out of memory");
	for (size_t i = 0; i < cells; i++)
		r.value[i] = NAN;
	machine(&r);

	unsigned total = 0, done = 0;
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++)
		if (o.only[units[u].bench])
			for (size_t vi = 0; vi < r.nvariants; vi++)
				if (units[u].bench == B_FASTPATH || !variants[vi].fastpath_only)
					total += units[u].bench == B_MEMORY ? 1 : c.rounds;

	bench_watchdog_start();
	uint64_t t_start = bench_now_ns();
	double out[BM_COUNT];
	bool hung[MAX_VARIANTS] = {false}, library_hung = false;
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		const struct unit *un = &units[u];
		if (!o.only[un->bench])
			continue;
		const int *ms = unit_metrics[un->bench];
		for (int m = ms[0]; m < ms[1]; m++)
			r.metric_run[m] = true;
		/* Memory does not change between rounds. */
		unsigned rounds = un->bench == B_MEMORY ? 1 : c.rounds;
		for (unsigned round = 0; round < rounds; round++) {
			for (size_t vi = 0; vi < r.nvariants; vi++) {
				const struct bench_variant *v = &variants[vi];
				if (hung[vi] || (v->fastpath_only && un->bench != B_FASTPATH))
					continue;
				bench_progress(un->label, round + 1, rounds, v->name, done++,
					       total);
				bench_set_context(un->label, v->name);
				for (int m = 0; m < BM_COUNT; m++)
					out[m] = NAN;
				if (!run_guarded(un, v, &c, out)) {
					char why[160];
					hung[vi] = true;
					library_hung |= v->kind != BENCH_BASELINE;
					snprintf(why, sizeof(why),
						 "FAILED: hung in %s round %u (no progress for "
						 "5 s: a lost wakeup); left out from there",
						 un->label, round + 1);
					bench_progress_clear();
					fprintf(stderr, "tparker bench: %s: %s\n", v->name, why);
					add_unusable(&unusable, &unusable_len, v->name, why);
					r.unusable = unusable;
					continue;
				}
				bench_tick();
				for (int m = ms[0]; m < ms[1]; m++) {
					if (un->bench == B_STORM &&
					    (m - BM_STORM) / 3 != (int)un->arg)
						continue;
					if (un->bench == B_PINGPONG &&
					    m != BM_PINGPONG + (int)un->arg)
						continue;
					*bench_cell(&r, vi, m, round) = out[m];
				}
			}
		}
	}
	bench_progress_clear();
	r.poll_interval_ns = NAN;
	for (size_t vi = 0; vi < r.nvariants && o.only[B_STORM]; vi++)
		if (variants[vi].kind == BENCH_API && strcmp(variants[vi].name, "spin") == 0)
			r.poll_interval_ns = bench_poll_interval(bench_storm_k[BENCH_STORM_KS - 1],
								 c.quick ? 50000000 : 300000000);
	r.seconds = (double)(bench_now_ns() - t_start) / 1e9;

	const char *notes[] = {
		bench_platform_note(),
		bench_baselines_note(),
#if !defined(HAVE_CXX_BASELINE) && !defined(_WIN32)
		"no C++20 compiler when the tool was built: the atomic::wait "
		"baseline (cxx20-atomic) is left out",
#else
		NULL,
#endif
	};
	for (size_t i = 0; i < sizeof(notes) / sizeof(notes[0]); i++)
		if (notes[i])
			fprintf(o.json ? stderr : stdout, "note: %s\n", notes[i]);
	if (o.json)
		bench_print_json(&r);
	else
		bench_print_table(&r);
	/* A baseline that hangs is its own bug; a backend that hangs is ours. */
	int status = library_hung ? CLI_FAILED : CLI_OK;
	if (o.plot) {
		fflush(stdout);
		if (!gnuplot) {
			fprintf(stderr,
				"tparker: bench: gnuplot not found: install gnuplot-nox "
				"(or put gnuplot on PATH) to draw %s\n",
				o.plot);
			status = CLI_FAILED;
		} else if (bench_plot(&r, o.plot) != 0) {
			status = CLI_FAILED;
		}
	}
	free(gnuplot);
	free(r.value);
	free(unusable);
	return status;
}
