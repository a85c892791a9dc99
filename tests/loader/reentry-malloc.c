/* SPDX-License-Identifier: MIT */
/*
 * An allocator built on libtparker: this program's malloc initialises a
 * parker, as a lock's slow path would on a thread's first contention. The
 * load-time choice of the default backend itself allocates (opendir,
 * dlopen), so the first choice calls back into tparker_init() from inside
 * itself. That call must be answered (by spin, and said so), not deadlock
 * on the choice's once-guard before main.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tparker/tparker.h>

extern void *__libc_malloc(size_t n);

/* Static TLS of the executable: touching it never allocates. */
static __thread int depth;
static const char *reentered_reason;
static int reentered_inits, failed_inits;

/* A parker made from inside malloc must work: unpark, then park. */
static void use_parker(void)
{
	tparker_t p;
	if (tparker_init(&p) != 0) {
		failed_inits++;
		return;
	}
	const char *reason = tparker_default_reason();
	if (strstr(reason, "called back from inside the choice")) {
		reentered_inits++;
		reentered_reason = reason;
	}
	tparker_prepare_park(&p);
	tparker_unpark(tparker_unpark_lock(&p));
	tparker_park(&p);
	tparker_destroy(&p);
}

void *malloc(size_t n)
{
	/* Depth 2 at most: the outer init's choice allocates, and that
	 * allocation's init is the call back this test is about. */
	if (depth < 2) {
		depth++;
		use_parker();
		depth--;
	}
	return __libc_malloc(n);
}

int main(void)
{
	/* A deadlock before main never gets here; this catches one after. */
	alarm(20);
	free(malloc(16));
	const char *reason = tparker_default_reason();
	printf("default %s (%s)\n", tparker_backend_name(tparker_default_backend()), reason);
	printf("%d inits called back from inside the choice, %d failed\n", reentered_inits,
	       failed_inits);
	int bad = 0;
	if (reentered_inits == 0) {
		fprintf(stderr, "FAIL: no tparker_init ran inside the choice: the test tested "
				"nothing\n");
		bad = 1;
	} else if (!strstr(reentered_reason, "served by spin")) {
		fprintf(stderr, "FAIL: the call back got reason \"%s\"\n", reentered_reason);
		bad = 1;
	}
	if (failed_inits) {
		fprintf(stderr, "FAIL: %d tparker_init calls failed\n", failed_inits);
		bad = 1;
	}
	if (strstr(reason, "called back")) {
		fprintf(stderr, "FAIL: after the choice the reason is still \"%s\"\n", reason);
		bad = 1;
	}
	return bad;
}
