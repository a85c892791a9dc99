/* SPDX-License-Identifier: MIT */
/*
 * dlopen()/dlclose() of libtparker itself, 200 times, with no parker alive
 * in between: each load chooses its backend afresh (loading the plugin the
 * environment names) and runs one park cycle. No crash, no leak (valgrind),
 * and the plugins libtparker adopts must not pile up: the number of mapped
 * tparker-*.so files stays what it was after the first round.
 *
 * Not linked with libtparker: usage: dlopen <backend> <path of libtparker.so>
 */
#include <dlfcn.h>

#include "tparker/tparker.h"

/* Only the types of tparker.h: every call goes through dlsym. */
#define TPT_NOT_LINKED
#include "harness.h"

#define ROUNDS 200

struct api {
	int (*init)(tparker_t *);
	void (*destroy)(tparker_t *);
	void (*prepare_park)(tparker_t *);
	void (*park)(tparker_t *);
	bool (*park_until)(tparker_t *, const struct timespec *);
	bool (*timed_out)(tparker_t *);
	tparker_unpark_handle_t (*unpark_lock)(tparker_t *);
	void (*unpark)(tparker_unpark_handle_t);
	const tparker_backend_t *(*default_backend)(void);
	const char *(*default_reason)(void);
	const char *(*backend_name)(const tparker_backend_t *);
};

static void *sym(void *lib, const char *name)
{
	dlerror();
	void *p = dlsym(lib, name);
	if (!p)
		tpt_fail("dlsym(%s): %s", name, dlerror());
	return p;
}

/* POSIX lets a data pointer from dlsym become a function pointer; memcpy
 * says so without a pedantic warning. */
#define BIND(api, lib, field, name)                                                                \
	do {                                                                                       \
		void *p_ = sym(lib, name);                                                         \
		memcpy(&(api)->field, &p_, sizeof(p_));                                            \
	} while (0)

static void bind(struct api *a, void *lib)
{
	BIND(a, lib, init, "tparker_init");
	BIND(a, lib, destroy, "tparker_destroy");
	BIND(a, lib, prepare_park, "tparker_prepare_park");
	BIND(a, lib, park, "tparker_park");
	BIND(a, lib, park_until, "tparker_park_until");
	BIND(a, lib, timed_out, "tparker_timed_out");
	BIND(a, lib, unpark_lock, "tparker_unpark_lock");
	BIND(a, lib, unpark, "tparker_unpark");
	BIND(a, lib, default_backend, "tparker_default_backend");
	BIND(a, lib, default_reason, "tparker_default_reason");
	BIND(a, lib, backend_name, "tparker_backend_name");
}

/* Count the distinct mapped files whose name ends in `suffix_pattern`
 * (tparker-*.so) or contains `lib_name`. */
struct maps {
	unsigned plugins;
	unsigned libs;
};

static bool is_plugin_file(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t len = strlen(base);
	return strncmp(base, "tparker-", 8) == 0 && len > 11 && strcmp(base + len - 3, ".so") == 0;
}

static struct maps count_maps(const char *lib_base)
{
	struct maps m = {0, 0};
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		tpt_fail("/proc/self/maps: %s", strerror(errno));
	char line[4096 + 256], seen[64][4096];
	unsigned nseen = 0;
	while (fgets(line, sizeof(line), f)) {
		char *path = strchr(line, '/');
		if (!path)
			continue;
		path[strcspn(path, "\n")] = '\0';
		/* " (deleted)" and the like stay part of the name: harmless. */
		bool dup = false;
		for (unsigned i = 0; i < nseen && !dup; i++)
			dup = strcmp(seen[i], path) == 0;
		if (dup || nseen == 64)
			continue;
		snprintf(seen[nseen++], sizeof(seen[0]), "%s", path);
		if (is_plugin_file(path))
			m.plugins++;
		else if (strstr(path, lib_base))
			m.libs++;
	}
	fclose(f);
	return m;
}

/* How many references keep a plugin loaded: reopen it with RTLD_NOLOAD
 * and close twice until it goes. Destroys what it measures: call last. */
static unsigned plugin_refcount(const char *path)
{
	unsigned n = 0;
	while (n < 100000) {
		void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
		if (!h)
			break;
		dlclose(h);
		dlclose(h);
		n++;
	}
	return n;
}

static void plugin_path(char *out, size_t len)
{
	out[0] = '\0';
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return;
	char line[4096 + 256];
	while (fgets(line, sizeof(line), f)) {
		char *path = strchr(line, '/');
		if (!path)
			continue;
		path[strcspn(path, "\n")] = '\0';
		if (is_plugin_file(path)) {
			snprintf(out, len, "%s", path);
			break;
		}
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	tpt_name = "dlopen";
	if (argc < 3) {
		fprintf(stderr, "usage: %s <backend> <path of libtparker.so>\n", argv[0]);
		return 1;
	}
	tpt_backend = argv[1];
	const char *libpath = argv[2];
	const char *lib_base = strrchr(libpath, '/');
	lib_base = lib_base ? lib_base + 1 : libpath;
	/* libtparker.so.1.0.0 -> match "libtparker.so" in any of its names. */
	char lib_stem[256];
	snprintf(lib_stem, sizeof(lib_stem), "%.*s", (int)strcspn(lib_base, "."), lib_base);
	tpt_watchdog(20, "200 dlopen/dlclose rounds");

	struct maps first = {0, 0};
	unsigned unloaded = 0;
	for (unsigned round = 0; round < ROUNDS; round++) {
		void *lib = dlopen(libpath, RTLD_NOW | RTLD_LOCAL);
		if (!lib)
			tpt_fail("round %u: dlopen(%s): %s", round, libpath, dlerror());
		struct api a;
		bind(&a, lib);
		const char *have = a.backend_name(a.default_backend());
		if (strcmp(have, tpt_backend) != 0) {
			if (round == 0) {
				printf("SKIP dlopen %s: the default backend is %s (%s)\n",
				       tpt_backend, have, a.default_reason());
				dlclose(lib);
				return TPT_SKIP;
			}
			tpt_fail("round %u: the default backend became %s", round, have);
		}

		tparker_t *p = malloc(sizeof(*p));
		if (!p || a.init(p) != 0)
			tpt_fail("round %u: tparker_init failed", round);
		a.prepare_park(p);
		a.unpark(a.unpark_lock(p));
		a.park(p);
		a.prepare_park(p);
		struct timespec past = {0, 0};
		if (a.park_until(p, &past) || !a.timed_out(p))
			tpt_fail("round %u: park_until(past) did not time out", round);
		a.destroy(p);
		free(p);

		if (dlclose(lib) != 0)
			tpt_fail("round %u: dlclose: %s", round, dlerror());
		struct maps m = count_maps(lib_stem);
		if (m.libs == 0)
			unloaded++;
		if (round == 0)
			first = m;
		else if (m.plugins != first.plugins)
			tpt_fail("round %u: %u tparker-*.so files mapped, %u after round 0", round,
				 m.plugins, first.plugins);
	}
	char plugin[4096];
	plugin_path(plugin, sizeof(plugin));
	printf("dlopen %s: %d rounds of dlopen, init, park cycle, destroy, dlclose; libtparker "
	       "unmapped after %u of them; %u plugin file%s mapped throughout",
	       tpt_backend, ROUNDS, unloaded, first.plugins, first.plugins == 1 ? "" : "s");
	/* For the record: each libtparker instance adopts its plugin anew and
	 * never closes it, so the plugin's dlopen count grows by one a round;
	 * the mapping itself is shared. */
	if (plugin[0])
		printf("; %s holds %u dlopen references\n", plugin, plugin_refcount(plugin));
	else
		printf("\n");
	return 0;
}
