/* SPDX-License-Identifier: MIT */
/*
 * `tparker list` for WebAssembly (the tparker tool itself needs POSIX
 * processes): every backend this build has, whether it is usable here and
 * why not, and the default with its reason, through the public API only.
 * With arguments, also checks: the default must be argv[1], and argv[2]
 * (if given) must appear in the reason some backend is not usable.
 */
#include <emscripten/threading.h>

#include "wasm-test.h"

static const char *const names[] = {"spin", "wasm_atomic", "wasm", "futex", "pthread"};

int main(int argc, char **argv)
{
	const tparker_backend_t *def = tparker_default_backend();

	printf("libtparker %s on WebAssembly %s threads; this thread: %s\n", tparker_version(),
#if defined(__EMSCRIPTEN_PTHREADS__)
	       "with",
#else
	       "without",
#endif
	       emscripten_is_main_runtime_thread() ? "the runtime's main thread"
						   : "a worker (a pthread)");
	bool reason_seen = argc < 3;
	printf("  %-12s %s\n", "NAME", "STATUS");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const tparker_backend_t *b = tparker_backend_get(names[i]);
		if (b)
			printf("%c %-12s usable\n", b == def ? '*' : ' ', names[i]);
		else
			printf("  %-12s not usable: %s\n", names[i], tparker_backend_error());
		if (!b && argc > 2 && strstr(tparker_backend_error(), argv[2]))
			reason_seen = true;
	}
	printf("default: %s (%s)\n", tparker_backend_name(def), tparker_default_reason());
	if (argc > 1 && strcmp(tparker_backend_name(def), argv[1]) != 0) {
		printf("FAIL: the default is %s, not %s\n", tparker_backend_name(def), argv[1]);
		return 1;
	}
	if (!reason_seen) {
		printf("FAIL: no backend is unusable for the reason '%s'\n", argv[2]);
		return 1;
	}
	return 0;
}
