/* SPDX-License-Identifier: MIT */
/*
 * The futex backends' adaptive spin (plugins/common/spin.h, word.h) learns
 * from its spins only: a park_until whose deadline has already passed, or
 * passes before the spin bound, says nothing about whether spinning pays,
 * so it must leave the parker's spin score alone. Else a caller that polls
 * with past deadlines (a try-lock, a zero timeout) would switch spinning
 * off for the parks that follow.
 *
 * A timing-free check of the shared code itself: it is static inline, so
 * this program includes it and drives tp_word_park_until with a wait
 * function of its own.
 *   past   10 000 park_until calls with deadlines already past: each
 *          returns false without waiting, and the parker's whole state is
 *          unchanged, its score and affinity countdown included;
 *   near   1 000 with deadlines 0 to 3 us away, inside the 5 us spin
 *          bound: each times out, and the score is unchanged.
 * Exit 0 pass, 1 fail.
 */
#include <stdio.h>
#include <string.h>

#include "common/word.h"

static unsigned waits;

/* A sleep that ends at its timeout, without a system call. */
static int fake_wait(_Atomic uint32_t *word, uint32_t expected, const struct timespec *abs)
{
	waits++;
	while (atomic_load_explicit(word, memory_order_acquire) == expected)
		if (abs && tparker_deadline_passed(abs))
			return ETIMEDOUT;
	return EAGAIN;
}

static struct timespec after_ns(long ns)
{
	struct timespec t = tparker_now();
	t.tv_nsec += ns;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_nsec -= 1000000000L;
		t.tv_sec++;
	}
	return t;
}

int main(void)
{
	struct tp_word_state s, before;
	int failures = 0;

	tp_word_init(&s);
	tp_word_prepare_park(&s);
	memcpy(&before, &s, sizeof(s));
	for (int i = 0; i < 10000; i++) {
		struct timespec past = i % 2 ? (struct timespec){0, 0} : tparker_now();
		if (tp_word_park_until(&s, &past, fake_wait)) {
			fprintf(stderr, "FAIL past: park_until returned true with no unparker\n");
			return 1;
		}
	}
	printf("past: score %u -> %u, %u wait(s)\n", before.spin.score, s.spin.score, waits);
	if (waits != 0) {
		fprintf(stderr, "FAIL past: %u wait(s) for deadlines already past\n", waits);
		failures++;
	}
	if (memcmp(&before, &s, sizeof(s)) != 0) {
		fprintf(stderr,
			"FAIL past: the parker's state changed (score %u -> %u, retry shift "
			"%u -> %u, skipped %u -> %u)\n",
			before.spin.score, s.spin.score, before.spin.retry_shift,
			s.spin.retry_shift, before.spin.skipped, s.spin.skipped);
		failures++;
	}

	tp_word_init(&s);
	memcpy(&before, &s, sizeof(s));
	for (int i = 0; i < 1000; i++) {
		struct timespec near = after_ns((i % 4) * 1000);
		tp_word_prepare_park(&s);
		if (tp_word_park_until(&s, &near, fake_wait)) {
			fprintf(stderr, "FAIL near: park_until returned true with no unparker\n");
			return 1;
		}
	}
	printf("near: score %u -> %u\n", before.spin.score, s.spin.score);
	if (s.spin.score != before.spin.score || s.spin.retry_shift != before.spin.retry_shift ||
	    s.spin.skipped != before.spin.skipped) {
		fprintf(stderr,
			"FAIL near: deadlines inside the spin bound changed the score (%u -> %u, "
			"retry shift %u -> %u, skipped %u -> %u)\n",
			before.spin.score, s.spin.score, before.spin.retry_shift,
			s.spin.retry_shift, before.spin.skipped, s.spin.skipped);
		failures++;
	}
	return failures ? 1 : 0;
}
