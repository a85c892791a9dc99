/* SPDX-License-Identifier: MIT */
/*
 * What the fork tests share: threads in the parent that a forked child
 * outlives, and a child that starts threads of its own.
 */
#ifndef TPTEST_FAULTS_FORKTHREAD_H
#define TPTEST_FAULTS_FORKTHREAD_H

#include <pthread.h>

#include "harness.h"

/* The child starts a thread after a fork of a multi-threaded process, which
 * POSIX leaves unspecified but glibc supports; ThreadSanitizer refuses it
 * unless told otherwise. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
	return "die_after_fork=0";
}

/* The parent's threads run on stacks of our own: glibc hands a child the
 * stacks of its parent's vanished threads for reuse, so a thread the child
 * starts would get a vanished thread's identity, which ThreadSanitizer
 * rejects ("dup thread"). Memory we own is never reused that way. */
#define FORK_THREAD_STACK (2 * 1024 * 1024) /* sanitizers want about 1 MiB */

struct fork_thread {
	pthread_t id;
	void *stack;
};

static void fork_thread_start(struct fork_thread *t, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;

	t->stack = aligned_alloc(4096, FORK_THREAD_STACK);
	if (!t->stack)
		tpt_fail("out of memory");
	pthread_attr_init(&attr);
	pthread_attr_setstack(&attr, t->stack, FORK_THREAD_STACK);
	int err = pthread_create(&t->id, &attr, fn, arg);
	if (err)
		tpt_fail("pthread_create: %s", strerror(err));
	pthread_attr_destroy(&attr);
}

static void fork_thread_join(struct fork_thread *t)
{
	pthread_join(t->id, NULL);
	free(t->stack);
}

#endif
