/* SPDX-License-Identifier: MIT */
/*
 * The page's own thread parks (WebAssembly with threads, under node).
 * Linked without -sPROXY_TO_PTHREAD, so main() runs on the runtime's main
 * thread, and with browser-main.js, which makes that thread one that may
 * not block, as a web page's is; one worker comes from a pool of one, so
 * that starting it needs no trip through the event loop. main() parks;
 * meanwhile the worker makes a synchronous call into the main thread,
 * which must run (a page's thread that waits must keep serving the calls
 * proxied to it, or the worker would never get to unpark it), and then
 * unparks it. Then the same with a deadline, and a timed park that nobody
 * unparks, which must not end early.
 */
#include <pthread.h>
#include <stdatomic.h>

#include <emscripten/threading.h>

#include "wasm-test.h"

static tparker_t parker;
static _Atomic int served;
static _Atomic int worker_ok;

static void serve(void)
{
	atomic_fetch_add(&served, 1);
}

static void *worker(void *arg)
{
	(void)arg;
	/* Let main() reach the wait itself. */
	struct timespec pause = {0, 50000000};
	nanosleep(&pause, NULL);
	int before = atomic_load(&served);
	/* Returns only once the parked main thread has run it. */
	emscripten_sync_run_in_main_runtime_thread(EM_FUNC_SIG_V, serve);
	atomic_store(&worker_ok, atomic_load(&served) == before + 1);
	tparker_unpark(tparker_unpark_lock(&parker));
	return NULL;
}

static void park_served(bool timed)
{
	pthread_t t;
	atomic_store(&worker_ok, 0);
	tparker_prepare_park(&parker);
	WT_CHECK(pthread_create(&t, NULL, worker, NULL) == 0);
	if (timed) {
		struct timespec d = tparker_deadline_after(30u * 1000000000u);
		WT_CHECK(tparker_park_until(&parker, &d));
	} else {
		tparker_park(&parker);
	}
	WT_CHECK(pthread_join(t, NULL) == 0);
	WT_CHECK(atomic_load(&worker_ok) == 1);
}

static void case_park_serves_calls(void)
{
	park_served(false);
}

static void case_park_until_serves_calls(void)
{
	park_served(true);
}

static void case_timeout_never_early(void)
{
	tparker_prepare_park(&parker);
	struct timespec d = tparker_deadline_after(20000000u);
	WT_CHECK(!tparker_park_until(&parker, &d));
	WT_CHECK(wt_reached(&d));
	WT_CHECK(tparker_timed_out(&parker));
}

int main(void)
{
	printf("default %s (%s); main() on the runtime's main thread: %s\n",
	       tparker_backend_name(tparker_default_backend()), tparker_default_reason(),
	       emscripten_is_main_runtime_thread() ? "yes" : "no");
	WT_CHECK(emscripten_is_main_runtime_thread());
	/* One backend for every thread, this one included. */
	WT_CHECK(strcmp(tparker_backend_name(tparker_default_backend()), "wasm_atomic") == 0);
	WT_CHECK(tparker_init(&parker) == 0);
	WT_RUN(case_park_serves_calls);
	WT_RUN(case_park_until_serves_calls);
	WT_RUN(case_timeout_never_early);
	tparker_destroy(&parker);
	return wt_finish();
}
