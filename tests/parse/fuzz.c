/* SPDX-License-Identifier: MIT */
/*
 * TPARKER_BACKEND's parser (core/parse.c), compiled into this program and
 * driven to every bound: every count of entries up to one past the longest
 * value, entry lengths around the name limit, values around the length
 * limit, then random values checked against a plain reference splitter.
 * The sanitizer build runs it under AddressSanitizer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "../../core/internal.h"

#if !defined(TP_WINDOWS_PATHS)
#define TP_WINDOWS_PATHS 0
#endif

static bool ref_name(const char *s);

/* The reference for an entry's kind. POSIX: a '/' makes a path, absolute
 * when it leads. Windows: '\\' is a separator too, and a drive letter
 * makes a path; absolute are X:\ and X:/ and two leading separators (UNC,
 * \\?\ and \\.\), each followed by something. */
static enum tp_entry_kind ref_kind(const char *s)
{
	if (!*s)
		return TP_ENTRY_EMPTY;
	if (!TP_WINDOWS_PATHS)
		return strchr(s, '/') ? (s[0] == '/' ? TP_ENTRY_PATH : TP_ENTRY_RELATIVE)
		       : ref_name(s)  ? TP_ENTRY_NAME
				      : TP_ENTRY_BAD_NAME;
	size_t n = strlen(s);
	bool drive = n >= 2 && s[1] == ':' &&
		     strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "abcdefghijklmnopqrstuvwxyz",
			    s[0]);
	if (n > 3 && drive && strchr("/\\", s[2]))
		return TP_ENTRY_PATH;
	if (n > 2 && strchr("/\\", s[0]) && strchr("/\\", s[1]))
		return TP_ENTRY_PATH;
	if (drive || strpbrk(s, "/\\"))
		return TP_ENTRY_RELATIVE;
	return ref_name(s) ? TP_ENTRY_NAME : TP_ENTRY_BAD_NAME;
}

/* The reference: split on ',' into a malloc'd array, trim blanks. */
struct ref {
	size_t n;
	char **entries;
};

static struct ref ref_split(const char *value)
{
	struct ref r = {0, NULL};
	const char *p = value;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		while (len && (*p == ' ' || *p == '\t'))
			p++, len--;
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		r.entries = realloc(r.entries, (r.n + 1) * sizeof(*r.entries));
		r.entries[r.n++] = strndup(p, len);
		if (!comma)
			break;
		p = comma + 1;
	}
	return r;
}

static void ref_free(struct ref *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->entries[i]);
	free(r->entries);
}

static bool ref_name(const char *e)
{
	size_t len = strlen(e);
	if (len < 1 || len > 32 || e[0] < 'a' || e[0] > 'z')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789_-", e[i]))
			return false;
	return true;
}

/* What the parser must say of value: well-formed or not, and the entries. */
static bool ref_valid(const char *value)
{
	if (strlen(value) > TP_ENV_VALUE_MAX)
		return false;
	struct ref r = ref_split(value);
	bool ok = true;
	for (size_t i = 0; i < r.n; i++)
		ok = ok && (ref_kind(r.entries[i]) == TP_ENTRY_PATH ||
			    ref_kind(r.entries[i]) == TP_ENTRY_NAME);
	ref_free(&r);
	return ok;
}

static unsigned long checked;

/* The parser agrees with the reference on value. One assertion per value:
 * a few million passing ones would cost more than the parsing. */
static void check(const char *value)
{
	char failures[3 * TP_REASON_MAX] = "";
	bool valid = tp_list_check(value, failures, sizeof(failures));
	bool good = valid == ref_valid(value) && valid == (failures[0] == '\0') &&
		    strlen(failures) < sizeof(failures);
	checked++;

	struct ref r = ref_split(value);
	const char *cursor = value;
	struct tp_entry e = {0};
	size_t n = 0;
	while (tp_list_next(&cursor, &e)) {
		if (n < r.n) {
			const char *s = r.entries[n];
			enum tp_entry_kind want = ref_kind(s);
			good = good && e.len == strlen(s) && memcmp(e.start, s, e.len) == 0 &&
			       tp_entry_kind(&e) == want;
		}
		n++;
		good = good && e.index == n;
	}
	good = good && n == r.n;
	ref_free(&r);
	CU_ASSERT(good);
	if (!good)
		fprintf(stderr, "\n  parser and reference disagree on \"%.200s\" (%zu bytes)\n",
			value, strlen(value));
}

static char *repeat(const char *unit, size_t count, const char *tail)
{
	size_t ul = strlen(unit), tl = strlen(tail);
	char *s = malloc(ul * count + tl + 1);
	for (size_t i = 0; i < count; i++)
		memcpy(s + i * ul, unit, ul);
	memcpy(s + ul * count, tail, tl + 1);
	return s;
}

/* 0 to 4097 commas: up to 4098 empty entries, the last value one byte past
 * the limit. Checked without the reference, whose allocations per entry
 * would make this quadratic in mallocs. */
static void test_every_comma_count(void)
{
	char *v = malloc(TP_ENV_VALUE_MAX + 2);
	for (size_t n = 0; n <= TP_ENV_VALUE_MAX + 1; n++) {
		memset(v, ',', n);
		v[n] = '\0';
		char failures[3 * TP_REASON_MAX] = "";
		bool valid = tp_list_check(v, failures, sizeof(failures));
		const char *want =
		    n <= TP_ENV_VALUE_MAX ? "entry 1 is empty" : "longer than the 4096 allowed";
		const char *cursor = v;
		struct tp_entry e = {0};
		size_t entries = 0, nonempty = 0;
		while (tp_list_next(&cursor, &e)) {
			entries++;
			nonempty += e.len != 0 || tp_entry_kind(&e) != TP_ENTRY_EMPTY;
		}
		bool good = !valid && strstr(failures, want) && entries == n + 1 && !nonempty &&
			    e.index == n + 1;
		CU_ASSERT(good);
		if (!good)
			fprintf(stderr, "\n  %zu commas: %zu entries, failures \"%.100s\"\n", n,
				entries, failures);
		checked++;
	}
	free(v);
}

/* Lists of valid names whose total length is each length around the limit. */
static void test_lengths_around_the_limit(void)
{
	for (size_t total = TP_ENV_VALUE_MAX - 40; total <= TP_ENV_VALUE_MAX + 40; total++) {
		/* "spin," repeated, padded with a name of the right length. */
		size_t units = (total - 1) / 5;
		char *v = repeat("spin,", units, "");
		size_t have = units * 5, pad = total - have;
		v = realloc(v, total + 1);
		memset(v + have, 'a', pad);
		v[total] = '\0';
		CU_ASSERT_EQUAL_FATAL(strlen(v), total);
		char failures[3 * TP_REASON_MAX] = "";
		bool ok = tp_list_check(v, failures, sizeof(failures));
		/* The pad is a name of 1 to 5 letters: valid up to the limit. */
		CU_ASSERT_EQUAL(ok, total <= TP_ENV_VALUE_MAX);
		if (total > TP_ENV_VALUE_MAX)
			CU_ASSERT_PTR_NOT_NULL(strstr(failures, "longer than the 4096 allowed"));
		check(v);
		free(v);
	}
}

/* Names of 31, 32 (the limit) and 33 characters; one absolute path as long
 * as the whole value may be; blanks around entries. */
static void test_entry_lengths(void)
{
	for (size_t len = 30; len <= 34; len++) {
		char *name = repeat("a", len, "");
		char failures[3 * TP_REASON_MAX] = "";
		CU_ASSERT_EQUAL(tp_list_check(name, failures, sizeof(failures)), len <= 32);
		check(name);
		char *listed = malloc(len + 16);
		sprintf(listed, " \t%s\t , spin ", name);
		check(listed);
		free(listed);
		free(name);
	}
	for (size_t len = TP_ENV_VALUE_MAX - 1; len <= TP_ENV_VALUE_MAX + 1; len++) {
		const char *root = TP_WINDOWS_PATHS ? "C:\\" : "/";
		char *path = repeat(root, 1, "");
		path = realloc(path, len + 1);
		memset(path + strlen(root), 'x', len - strlen(root));
		path[len] = '\0';
		char failures[3 * TP_REASON_MAX] = "";
		CU_ASSERT_EQUAL(tp_list_check(path, failures, sizeof(failures)),
				len <= TP_ENV_VALUE_MAX);
		check(path);
		free(path);
	}
}

/* Random values from an alphabet rich in separators and bad characters,
 * with lengths clustered at 0 and around the limit. */
static void test_random(void)
{
	static const char alphabet[] = "az09_-,, \t/./A!\n\x7f\xff\\\\:C";
	unsigned long long x = 0x9e3779b97f4a7c15ull;
	char *v = malloc(TP_ENV_VALUE_MAX + 64);
	for (int round = 0; round < 20000; round++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		size_t len = round % 40 == 0 ? TP_ENV_VALUE_MAX - 8 + x % 17 : x % 80;
		for (size_t i = 0; i < len; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			v[i] = alphabet[x % (sizeof(alphabet) - 1)];
		}
		v[len] = '\0';
		check(v);
	}
	free(v);
}

/* The path forms one by one, in the parser itself (the reference could share
 * a mistake): what each is on POSIX and on Windows. */
static void test_path_forms(void)
{
	static const struct {
		const char *entry;
		enum tp_entry_kind posix, windows;
	} forms[] = {
	    {"/usr/lib/tparker-1/tparker-futex.so", TP_ENTRY_PATH, TP_ENTRY_RELATIVE},
	    {"C:\\tparker\\tparker-keyed.dll", TP_ENTRY_BAD_NAME, TP_ENTRY_PATH},
	    {"c:/tparker/tparker-keyed.dll", TP_ENTRY_RELATIVE, TP_ENTRY_PATH},
	    {"Z:\\a b\\tparker-keyed.dll", TP_ENTRY_BAD_NAME, TP_ENTRY_PATH},
	    {"\\\\server\\share\\tparker-keyed.dll", TP_ENTRY_BAD_NAME, TP_ENTRY_PATH},
	    {"//server/share/tparker-keyed.dll", TP_ENTRY_PATH, TP_ENTRY_PATH},
	    {"\\\\?\\C:\\tparker\\tparker-keyed.dll", TP_ENTRY_BAD_NAME, TP_ENTRY_PATH},
	    {"\\\\?\\UNC\\server\\share\\x.dll", TP_ENTRY_BAD_NAME, TP_ENTRY_PATH},
	    {"\\\\.\\C:\\x.dll", TP_ENTRY_BAD_NAME, TP_ENTRY_PATH},
	    /* relative to the current drive's folder, or to the current drive */
	    {"C:tparker-keyed.dll", TP_ENTRY_BAD_NAME, TP_ENTRY_RELATIVE},
	    {"\\tparker\\tparker-keyed.dll", TP_ENTRY_BAD_NAME, TP_ENTRY_RELATIVE},
	    {"tparker\\tparker-keyed.dll", TP_ENTRY_BAD_NAME, TP_ENTRY_RELATIVE},
	    {"./tparker-keyed.dll", TP_ENTRY_RELATIVE, TP_ENTRY_RELATIVE},
	    {"C:", TP_ENTRY_BAD_NAME, TP_ENTRY_RELATIVE},
	    {"C:\\", TP_ENTRY_BAD_NAME, TP_ENTRY_RELATIVE},
	    {"\\\\", TP_ENTRY_BAD_NAME, TP_ENTRY_RELATIVE},
	    /* a bare name is never a path */
	    {"keyed", TP_ENTRY_NAME, TP_ENTRY_NAME},
	    {"waitonaddress", TP_ENTRY_NAME, TP_ENTRY_NAME},
	    {"c", TP_ENTRY_NAME, TP_ENTRY_NAME},
	    {"keyed.dll", TP_ENTRY_BAD_NAME, TP_ENTRY_BAD_NAME},
	    {"1:\\x.dll", TP_ENTRY_BAD_NAME, TP_ENTRY_RELATIVE},
	};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct tp_entry e = {forms[i].entry, strlen(forms[i].entry), 1};
		enum tp_entry_kind want = TP_WINDOWS_PATHS ? forms[i].windows : forms[i].posix;
		enum tp_entry_kind got = tp_entry_kind(&e);
		CU_ASSERT_EQUAL(got, want);
		if (got != want)
			fprintf(stderr, "\n  %s: kind %d, expected %d\n", forms[i].entry, got,
				want);
		check(forms[i].entry);
	}
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	CU_pSuite s = CU_add_suite("TPARKER_BACKEND parser", NULL, NULL);
	if (!s || !CU_add_test(s, "every comma count, 0 to 4097", test_every_comma_count) ||
	    !CU_add_test(s, "lengths around 4096", test_lengths_around_the_limit) ||
	    !CU_add_test(s, "entry lengths", test_entry_lengths) ||
	    !CU_add_test(s, "random values", test_random) ||
	    !CU_add_test(s, TP_WINDOWS_PATHS ? "path forms (Windows)" : "path forms (POSIX)",
			 test_path_forms))
		return 1;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_failures();
	printf("%lu values checked\n", checked);
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
