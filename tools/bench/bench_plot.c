/* SPDX-License-Identifier: MIT */
/* tparker bench --plot: ping-pong and wake-storm latency per variant, drawn
 * by gnuplot from data files in a private temporary directory. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

char *bench_find_gnuplot(void)
{
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		const char *colon = strchr(path, ':');
		size_t len = colon ? (size_t)(colon - path) : strlen(path);
		char *file = NULL;
		if (asprintf(&file, "%.*s/gnuplot", (int)len, len ? path : ".") < 0)
			return NULL;
		if (access(file, X_OK) == 0)
			return file;
		free(file);
		if (!colon)
			break;
		path = colon + 1;
	}
	return NULL;
}

/* A gnuplot single-quoted string: '' stands for one quote. */
static void gp_quote(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', f);
		fputc(*s, f);
	}
	fputc('\'', f);
}

static void us(FILE *f, double ns)
{
	if (isnan(ns))
		fprintf(f, " NaN");
	else
		fprintf(f, " %.4g", ns / 1e3);
}

static void write_storm(FILE *f, const struct bench_results *r, int which)
{
	fprintf(f, "K");
	for (size_t v = 0; v < r->nvariants; v++)
		fprintf(f, " \"%s\"", r->variants[v].name);
	fprintf(f, "\n");
	for (int k = 0; k < BENCH_STORM_KS; k++) {
		fprintf(f, "%u", bench_storm_k[k]);
		for (size_t v = 0; v < r->nvariants; v++)
			us(f, bench_result_median(r, v, BM_STORM + 3 * k + which));
		fprintf(f, "\n");
	}
}

static int write_files(const char *dir, const struct bench_results *r, const char *out)
{
	bool pp = r->metric_run[BM_PINGPONG], st = r->metric_run[BM_STORM];
	char name[4096];
	FILE *f;

	snprintf(name, sizeof(name), "%s/pingpong.dat", dir);
	if (!(f = fopen(name, "w")))
		return errno;
	for (size_t v = 0; v < r->nvariants; v++) {
		if (r->variants[v].fastpath_only)
			continue;
		fprintf(f, "\"%s\"", r->variants[v].name);
		us(f, bench_result_median(r, v, BM_PINGPONG));
		us(f, bench_result_median(r, v, BM_PINGPONG_PINNED));
		fprintf(f, "\n");
	}
	if (fclose(f))
		return errno;
	for (int which = 1; which <= 2; which++) {
		snprintf(name, sizeof(name), "%s/storm%d.dat", dir, which);
		if (!(f = fopen(name, "w")))
			return errno;
		write_storm(f, r, which);
		if (fclose(f))
			return errno;
	}

	snprintf(name, sizeof(name), "%s/plot.gp", dir);
	if (!(f = fopen(name, "w")))
		return errno;
	int panels = (pp ? 1 : 0) + (st ? 2 : 0);
	fprintf(f,
		"if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
		"  set terminal pngcairo size %d,560 font ',10'\n"
		"} else {\n"
		"  set terminal png size %d,560\n"
		"}\n",
		panels * 520, panels * 520);
	fprintf(f, "set termoption noenhanced\nset output ");
	gp_quote(f, out);
	fprintf(f, "\nset datafile missing 'NaN'\nset grid ytics\nset key top left\n");
	fprintf(f, "set multiplot layout 1,%d title ", panels);
	char title[512];
	snprintf(title, sizeof(title), "tparker bench%s - %ld CPUs, %s, load %s, %s",
		 r->quick ? " --quick" : "", r->cpus, r->kernel, r->loadavg, r->date);
	gp_quote(f, title);
	fprintf(f, "\n");
	if (pp) {
		fprintf(f, "set title 'ping-pong round trip (median)'\n"
			   "set ylabel 'us per round trip'\nset logscale y\n"
			   "set style data histograms\n"
			   "set style histogram clustered gap 1\n"
			   "set style fill solid 0.8 border -1\n"
			   "set xtics rotate by -35 nomirror\nset yrange [*:*]\n"
			   "plot ");
		snprintf(name, sizeof(name), "%s/pingpong.dat", dir);
		gp_quote(f, name);
		fprintf(f,
			" using 2:xtic(1) title 'unpinned', '' using 3 title 'both on one CPU'\n");
		fprintf(f, "set style data linespoints\nset xtics norotate\n");
	}
	if (st) {
		const char *what[2] = {"median", "p99"};
		for (int which = 1; which <= 2; which++) {
			fprintf(f,
				"set title 'wake storm: unpark-to-running latency (%s)'\n"
				"set xlabel 'K parked threads'\nset ylabel 'us'\n"
				"set logscale xy\nset xtics (1,4,16,64)\nset xrange [0.8:80]\n"
				"set key top left font ',8'\n",
				what[which - 1]);
			snprintf(name, sizeof(name), "%s/storm%d.dat", dir, which);
			fprintf(f, "plot ");
			/* Baselines dashed, so the library's lines stand out. */
			for (size_t v = 0, shown = 0; v < r->nvariants; v++) {
				if (r->variants[v].fastpath_only)
					continue;
				fprintf(f, "%s", shown++ ? ", \\\n  " : "");
				gp_quote(f, name);
				fprintf(f, " using 1:%zu with linespoints lw 2 dt %d title ", v + 2,
					r->variants[v].kind == BENCH_BASELINE ? 2 : 1);
				gp_quote(f, r->variants[v].name);
			}
			fprintf(f, "\n");
		}
	}
	fprintf(f, "unset multiplot\n");
	if (fclose(f))
		return errno;
	return 0;
}

static void cleanup(const char *dir)
{
	const char *files[] = {"pingpong.dat", "storm1.dat", "storm2.dat", "plot.gp"};
	char name[4096];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(name, sizeof(name), "%s/%s", dir, files[i]);
		unlink(name);
	}
	rmdir(dir);
}

int bench_plot(const struct bench_results *r, const char *file)
{
	const char *tmp = getenv("TMPDIR");
	char dir[1024];
	int len = snprintf(dir, sizeof(dir), "%s/tparker-plot-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (len < 0 || (size_t)len >= sizeof(dir))
		errno = ENAMETOOLONG;
	if (len < 0 || (size_t)len >= sizeof(dir) || !mkdtemp(dir)) {
		fprintf(stderr, "tparker: bench: cannot make a temporary directory: %s\n",
			strerror(errno));
		return 1;
	}
	int err = write_files(dir, r, file);
	if (err) {
		fprintf(stderr, "tparker: bench: cannot write the plot data: %s\n", strerror(err));
		cleanup(dir);
		return 1;
	}
	char script[1100];
	snprintf(script, sizeof(script), "%s/plot.gp", dir);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "tparker: bench: fork: %s\n", strerror(errno));
		cleanup(dir);
		return 1;
	}
	if (pid == 0) {
		execlp("gnuplot", "gnuplot", script, (char *)NULL);
		fprintf(stderr, "tparker: bench: cannot run gnuplot: %s\n", strerror(errno));
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	cleanup(dir);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "tparker: bench: gnuplot failed drawing %s\n", file);
		return 1;
	}
	fprintf(stderr, "tparker: bench: plot written to %s\n", file);
	return 0;
}
