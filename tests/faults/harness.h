/* SPDX-License-Identifier: MIT */
/*
 * Shared bits of the fault tests: plain C programs run once per backend as
 * `<test> <backend>`, exit status 0 pass, 1 fail, 77 skip.
 */
#ifndef TPTEST_FAULTS_HARNESS_H
#define TPTEST_FAULTS_HARNESS_H

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

#define TPT_SKIP 77

static const char *tpt_name = "test";
static const char *tpt_backend = "?";

__attribute__((format(printf, 1, 2), noreturn, unused)) static void tpt_fail(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "FAIL %s %s: %s\n", tpt_name, tpt_backend, msg);
	fflush(stderr);
	/* Other threads may be parked forever: do not wait for them. */
	_exit(1);
}

/* Under valgrind everything runs many times slower; a watchdog that fires
 * there would report the tool, not the library. */
static bool tpt_under_valgrind(void)
{
#ifdef HAVE_VALGRIND_H
	if (RUNNING_ON_VALGRIND)
		return true;
#endif
	const char *v = getenv("TPARKER_UNDER_VALGRIND");
	return v && strcmp(v, "1") == 0;
}

static unsigned tpt_slowdown(void)
{
	return tpt_under_valgrind() ? 20 : 1;
}

__attribute__((unused)) static uint64_t tpt_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

__attribute__((unused)) static void tpt_sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static char tpt_alarm_msg[256];

static void tpt_on_alarm(int sig)
{
	(void)sig;
	/* Only async-signal-safe calls here. */
	ssize_t r = write(STDERR_FILENO, tpt_alarm_msg, strlen(tpt_alarm_msg));
	(void)r;
	_exit(1);
}

/* A test that hangs (a lost wakeup) fails after `seconds` with a message,
 * instead of waiting for Meson's timeout. */
__attribute__((unused)) static void tpt_watchdog(unsigned seconds, const char *what)
{
	snprintf(tpt_alarm_msg, sizeof(tpt_alarm_msg),
		 "FAIL %s %s: watchdog: %s not done after %u s (a lost wakeup?)\n", tpt_name,
		 tpt_backend, what, seconds * tpt_slowdown());
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tpt_on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	alarm(seconds * tpt_slowdown());
}

#if defined(TPARKER_TPARKER_H) && !defined(TPT_NOT_LINKED)
/* argv[1] names the backend under test: the process's default backend
 * (chosen by TPARKER_BACKEND=<b>,spin) must be that one, or the test is
 * skipped (failed when TPTEST_REQUIRE_BACKEND is set: a build whose backends
 * must all be usable here). */
__attribute__((unused)) static void tpt_start(const char *name, int argc, char **argv)
{
	tpt_name = name;
	if (argc < 2) {
		fprintf(stderr, "usage: %s <backend>\n", argv[0]);
		exit(1);
	}
	tpt_backend = argv[1];
	const char *have = tparker_backend_name(tparker_default_backend());
	if (strcmp(have, tpt_backend) != 0) {
		const char *req = getenv("TPTEST_REQUIRE_BACKEND");
		bool required = req && *req && strcmp(req, "0") != 0;
		printf("%s %s %s: the default backend is %s (%s)\n", required ? "FAIL" : "SKIP",
		       name, tpt_backend, have, tparker_default_reason());
		exit(required ? 1 : TPT_SKIP);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
}
#endif

#endif
