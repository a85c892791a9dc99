/* SPDX-License-Identifier: MIT */
/*
 * The adaptive spin's decisions (plugins/common/spin.h), driven directly and
 * without timing: every spin's outcome is chosen by this program, through
 * tp_spin_learn, the function tp_spin_wait reports to.
 *   same-cpu   a waker that ran on this thread's CPU does not switch the
 *              spin off (a pair put on one CPU would never leave it): the
 *              spin is planned, as yields;
 *   probe      once spins keep failing, a retry comes within
 *              2^TP_SPIN_RETRY_SHIFT_MIN parks and spins longer than the
 *              bound (a sleeping partner takes longer to wake), and its
 *              success fills the score;
 *   recover    a parker whose spins failed for 100 000 parks (the retry
 *              interval at its longest) spins on every park again within
 *              1 200 parks of spins starting to succeed;
 *   bounded    spins that always fail cost, over 100 000 parks, at most
 *              1/32 of the bound per park on average (1/32 of 5 us is
 *              0.16 us, next to a futex sleep of several us);
 *   early      a timed sleep asks to wake early by the learned lateness,
 *              but by at most TP_EARLY_MAX_NS (100 us) and at most 1/8 of
 *              the time left, and never after the deadline; the estimate
 *              never learns past the cap.
 * Exit 0 pass, 1 fail.
 */
#include <stdio.h>
#include <string.h>

#include "common/spin.h"

#define NS 5000u

static int failures;

static void fail(const char *what)
{
	fprintf(stderr, "FAIL %s\n", what);
	failures++;
}

static void fresh(struct tp_spin_state *s)
{
	tp_spin_init(s);
	/* Many CPUs, whatever this machine has, and no affinity re-read. */
	s->cpus = 64;
	s->age = UINT16_MAX;
}

/* One park whose spin, if any, ends as `ok` says; the planned bound, 0 for
 * no spin. */
static uint32_t park(struct tp_spin_state *s, bool ok)
{
	s->age = UINT16_MAX;
	if (!tp_spin_worth_it(s, NS))
		return 0;
	uint32_t bound = tp_spin_bound(s, NS);
	tp_spin_learn(s, ok);
	return bound;
}

static void same_cpu(void)
{
	struct tp_spin_state s;
	int tries = 0;

	/* The CPU can change between the store and the decision: a sample
	 * counts only when it did not. */
	for (;;) {
		fresh(&s);
		int cpu = tp_current_cpu();
		if (cpu < 0) {
			printf("same-cpu: the current CPU is unknown here, skipped\n");
			return;
		}
		atomic_store(&s.waker_cpu, cpu);
		bool spin = tp_spin_worth_it(&s, NS);
		if (tp_current_cpu() != cpu && ++tries < 1000)
			continue;
		printf("same-cpu: spin %d, yield %d\n", spin, s.yield);
		if (!spin)
			fail("same-cpu: a waker on this CPU switched the spin off");
		else if (!s.yield)
			fail("same-cpu: the spin on the waker's CPU pauses instead of yielding");
		break;
	}
	fresh(&s);
	atomic_store(&s.waker_cpu, tp_current_cpu() < 0 ? -1 : tp_current_cpu() + 1);
	if (!tp_spin_worth_it(&s, NS) || s.yield)
		fail("same-cpu: a waker on another CPU does not get a pausing spin");
}

static void probe(void)
{
	struct tp_spin_state s;
	unsigned n;

	fresh(&s);
	for (n = 0; s.score > 0; n++)
		park(&s, false);
	printf("probe: score 0 after %u failed spins\n", n);
	if (n != TP_SPIN_SCORE_INIT)
		fail("probe: the score did not fall by one per failed spin");
	for (n = 1; n <= (1u << TP_SPIN_RETRY_SHIFT_MIN); n++) {
		s.age = UINT16_MAX;
		if (tp_spin_worth_it(&s, NS))
			break;
	}
	printf("probe: retry at park %u, probe %d, bound %u ns\n", n, s.probe,
	       tp_spin_bound(&s, NS));
	if (n > (1u << TP_SPIN_RETRY_SHIFT_MIN))
		fail("probe: no retry within 2^TP_SPIN_RETRY_SHIFT_MIN parks");
	if (!s.probe || tp_spin_bound(&s, NS) <= NS)
		fail("probe: the retry spins no longer than the bound");
	tp_spin_learn(&s, true);
	if (s.score != TP_SPIN_SCORE_MAX)
		fail("probe: a successful probe did not fill the score");
	if (tp_spin_worth_it(&s, NS) && (s.probe || tp_spin_bound(&s, NS) != NS))
		fail("probe: a spin with a score is a probe");
}

static void recover_and_bound(void)
{
	struct tp_spin_state s;
	uint64_t spent = 0;
	unsigned n;

	fresh(&s);
	for (n = 0; n < 100000; n++)
		spent += park(&s, false);
	printf("bounded: %llu ns planned over %u failing parks (%.3f of the bound per park)\n",
	       (unsigned long long)spent, n, (double)spent / n / NS);
	if (spent > (uint64_t)n * NS / 32)
		fail("bounded: failing spins cost more than 1/32 of the bound per park");
	for (n = 0; n < 1200; n++)
		if (park(&s, true))
			break;
	unsigned first = n;
	for (; n < 1200 + 16; n++)
		if (!park(&s, true))
			break;
	printf("recover: first spin after %u parks; spinning on every park after it: %s\n", first,
	       n == 1200 + 16 ? "yes" : "no");
	if (first >= 1200)
		fail("recover: no spin within 1200 parks");
	else if (n != 1200 + 16)
		fail("recover: a successful retry did not bring back spinning on every park");
}

static int64_t ns_between(const struct timespec *a, const struct timespec *b)
{
	return (int64_t)(b->tv_sec - a->tv_sec) * 1000000000 + (b->tv_nsec - a->tv_nsec);
}

/* How early a sleep until now + ahead_ns asks to wake, with estimate e. */
static int64_t margin(uint32_t e, int64_t ahead_ns, int64_t *left)
{
	struct tp_spin_state s;
	struct timespec now = tparker_now(), deadline = now;
	bool active = false;

	fresh(&s);
	deadline.tv_sec += (time_t)(ahead_ns / 1000000000);
	deadline.tv_nsec += (long)(ahead_ns % 1000000000);
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_nsec -= 1000000000L;
		deadline.tv_sec++;
	}
	atomic_store(&tp_early_ns, e);
	struct timespec wake = tp_early_wake(&s, &deadline, NS, &active);
	if (!active)
		fail("early: a spinning parker on many CPUs is not allowed to finish by spinning");
	*left = ns_between(&now, &deadline);
	return ns_between(&wake, &deadline);
}

static void early(void)
{
	int64_t left, m;

	/* A small estimate is used whole. */
	m = margin(5000, 1000000, &left);
	if (m != 5000)
		fail("early: a 5 us estimate does not move a 1 ms sleep's wake by 5 us");
	/* A large one stops at the cap... */
	m = margin(TP_EARLY_MAX_NS, 10000000, &left);
	if (m != (int64_t)TP_EARLY_MAX_NS)
		fail("early: a 10 ms sleep does not wake TP_EARLY_MAX_NS early");
	/* ...and at 1/8 of the time left: 20 us of a 160 us sleep. */
	m = margin(TP_EARLY_MAX_NS, 160000, &left);
	if (m <= 0 || m > left / 8) {
		fprintf(stderr, "early: margin %lld ns for a sleep of %lld ns\n", (long long)m,
			(long long)left);
		fail("early: a short sleep wakes earlier than 1/8 of its length");
	}
	/* A deadline already reached: wake at it, never after. */
	m = margin(TP_EARLY_MAX_NS, 0, &left);
	if (m != 0)
		fail("early: a passed deadline moves the wake");

	/* Lateness far past the cap is learned only up to it. */
	_Atomic uint32_t word = 0;
	struct timespec now = tparker_now(), wake = now;
	wake.tv_sec -= 1;
	atomic_store(&tp_early_ns, 0);
	for (int i = 0; i < 64; i++)
		tp_early_finish(&word, 1, &wake, &now);
	if (atomic_load(&tp_early_ns) != TP_EARLY_MAX_NS)
		fail("early: an estimate fed 1 s of lateness does not stop at TP_EARLY_MAX_NS");
	atomic_store(&tp_early_ns, 0);
}

int main(void)
{
	tp_spin_configure(NULL, "test");
	same_cpu();
	probe();
	recover_and_bound();
	early();
	return failures ? 1 : 0;
}
