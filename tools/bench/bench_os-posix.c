/* SPDX-License-Identifier: MIT */
/* The bench's platform pieces on POSIX systems (bench_os.h). */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

#include "bench.h"
#include "bench_os.h"

void bench_sleep_ns(uint64_t ns)
{
	struct timespec t = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
	while (nanosleep(&t, &t) != 0 && errno == EINTR)
		;
}

int bench_pin_self(int cpu)
{
#if defined(__linux__)
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
#else
	(void)cpu;
	return ENOSYS;
#endif
}

void *bench_aligned_alloc(size_t align, size_t size)
{
	return aligned_alloc(align, size);
}

void bench_aligned_free(void *p)
{
	free(p);
}

int bench_first_cpu(void)
{
#if defined(__linux__)
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (int i = 0; i < CPU_SETSIZE; i++)
			if (CPU_ISSET(i, &set))
				return i;
#endif
	return -1;
}

long bench_online_cpus(void)
{
	return sysconf(_SC_NPROCESSORS_ONLN);
}

void bench_machine(char *system, size_t system_len, char *loadavg, size_t loadavg_len)
{
	struct utsname u;
	if (uname(&u) == 0)
		snprintf(system, system_len, "%s %s %s", u.sysname, u.release, u.machine);
	FILE *f = fopen("/proc/loadavg", "r");
	if (f) {
		double a, b, c;
		if (fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
			snprintf(loadavg, loadavg_len, "%.2f %.2f %.2f", a, b, c);
		fclose(f);
	}
}

int bench_thread_cpu_ns(pthread_t t, uint64_t *ns)
{
	clockid_t id;
	struct timespec ts;
	int err = pthread_getcpuclockid(t, &id);
	if (err)
		return err;
	if (clock_gettime(id, &ts) != 0)
		return errno;
	*ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	return 0;
}

#if defined(__linux__)
const char bench_word_name[] = "futex";

void bench_word_wait(uint32_t *word, uint32_t seen)
{
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
}

void bench_word_wake_one(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
#else
/* No word wait here: the raw column yields, which callers tolerate (they
 * re-check the word). */
const char bench_word_name[] = "yield";

void bench_word_wait(uint32_t *word, uint32_t seen)
{
	(void)word;
	(void)seen;
	sched_yield();
}

void bench_word_wake_one(uint32_t *word)
{
	(void)word;
}
#endif

const char *bench_platform_note(void)
{
	return NULL;
}

const char *bench_baselines_note(void)
{
	return NULL;
}
