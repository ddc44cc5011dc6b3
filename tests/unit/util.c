/*
 * NAME
 *	unit_util - tokens, names, UTF-8, number parsing and other helpers
 *	of lib/util.c
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "lib/util.h"

#define S(lit)	(lit), (sizeof(lit) - 1)

/* ---- tokens ---- */

static void
test_token_round_trip(void **state)
{
	for (int n = 0; n < 200; n++) {
		uint8_t tok[TOKEN_LEN], back[TOKEN_LEN];
		char text[TOKEN_STR_LEN + 1];

		token_new(tok);
		/* version 4, variant 10xx */
		assert_int_equal(tok[6] & 0xf0, 0x40);
		assert_int_equal(tok[8] & 0xc0, 0x80);
		memset(text, 'x', sizeof(text));
		token_format(tok, text);
		assert_int_equal(strlen(text), TOKEN_STR_LEN);
		for (size_t i = 0; i < TOKEN_STR_LEN; i++) {
			if (i == 8 || i == 13 || i == 18 || i == 23)
				assert_int_equal(text[i], '-');
			else
				assert_non_null(strchr("0123456789abcdef", text[i]));
		}
		assert_true(token_shaped(text, TOKEN_STR_LEN));
		memset(back, 0, sizeof(back));
		assert_int_equal(token_parse(text, TOKEN_STR_LEN, back), 0);
		assert_memory_equal(tok, back, TOKEN_LEN);
	}
}

static void
test_token_known_value(void **state)
{
	static const uint8_t want[TOKEN_LEN] = {
		0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
		0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
	};
	const char *lower = "01234567-89ab-cdef-fedc-ba9876543210";
	const char *upper = "01234567-89AB-CDEF-FEDC-BA9876543210";
	const char *mixed = "01234567-89Ab-cDeF-FeDc-bA9876543210";
	uint8_t tok[TOKEN_LEN];
	char text[TOKEN_STR_LEN + 1];

	token_format(want, text);
	assert_string_equal(text, lower);

	memset(tok, 0xaa, sizeof(tok));
	assert_int_equal(token_parse(lower, strlen(lower), tok), 0);
	assert_memory_equal(tok, want, TOKEN_LEN);
	memset(tok, 0xaa, sizeof(tok));
	assert_int_equal(token_parse(upper, strlen(upper), tok), 0);
	assert_memory_equal(tok, want, TOKEN_LEN);
	memset(tok, 0xaa, sizeof(tok));
	assert_int_equal(token_parse(mixed, strlen(mixed), tok), 0);
	assert_memory_equal(tok, want, TOKEN_LEN);

	/* upper-case text formats back to the canonical lower case */
	token_format(tok, text);
	assert_string_equal(text, lower);
}

static void
test_token_misshapen(void **state)
{
	static const char *bad[] = {
		"",
		"01234567-89ab-cdef-fedc-ba987654321",		/* 35 */
		"01234567-89ab-cdef-fedc-ba98765432100",	/* 37 */
		"0123456789ab-cdef-fedc-ba9876543210-",		/* dash moved */
		"01234567-89ab-cdef-fedcba-9876543210",
		"01234567_89ab_cdef_fedc_ba9876543210",
		"0123456g-89ab-cdef-fedc-ba9876543210",		/* g */
		"01234567-89ab-cdef-fedc-ba987654321 ",
		" 1234567-89ab-cdef-fedc-ba9876543210",
		"{1234567-89ab-cdef-fedc-ba987654321}",
		"01234567-89ab-cdef-fedc-ba98765432-0",
		"------------------------------------",
	};
	uint8_t tok[TOKEN_LEN];

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		assert_false(token_shaped(bad[i], strlen(bad[i])));
		assert_int_equal(token_parse(bad[i], strlen(bad[i]), tok), -1);
	}
	/* a valid token seen through a shorter length is not a token */
	assert_false(token_shaped("01234567-89ab-cdef-fedc-ba9876543210", 35));
	/* any version is accepted, only the shape matters */
	assert_true(token_shaped(S("00000000-0000-0000-0000-000000000000")));
	assert_true(token_shaped(S("ffffffff-ffff-ffff-ffff-ffffffffffff")));
}

/* ---- names ---- */

static void
test_name_valid(void **state)
{
	char name[NAME_LEN + 2];

	assert_false(name_valid("", 0));
	assert_false(name_valid("abc", 0));
	assert_true(name_valid(S("a")));
	assert_true(name_valid(S("Z")));
	assert_true(name_valid(S("7")));
	assert_true(name_valid(S("_")));
	assert_true(name_valid(S(".")));
	assert_true(name_valid(S("-")));
	assert_true(name_valid(S("Messi_10.ar-x")));

	memset(name, 'a', sizeof(name));
	assert_true(name_valid(name, NAME_LEN - 1));
	assert_true(name_valid(name, NAME_LEN));	/* 32 */
	assert_false(name_valid(name, NAME_LEN + 1));	/* 33 */
	name[NAME_LEN - 1] = '!';
	assert_false(name_valid(name, NAME_LEN));

	static const char *bad[] = {
		"a b", "a\tb", "a/b", "a@b", "a:b", "a,b", "a+b", "a=b",
		"a#b", "a'b", "a\"b", "a\\b", "a*b", "a~b", "caf\xc3\xa9",
		"\xff", "a\x7f", "a\x01", "\xd0\x90",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		assert_false(name_valid(bad[i], strlen(bad[i])));
	/* an embedded NUL is not a name character */
	assert_false(name_valid("ab\0cd", 5));
	/* the length decides, not the terminator */
	assert_true(name_valid("abc!", 3));
}

/* ---- UTF-8 ---- */

static void
test_utf8_valid_good(void **state)
{
	static const char *good[] = {
		"",
		"plain ascii",
		"\x01\x1f\x7f",			/* controls are well-formed */
		"\xc2\x80",			/* U+0080, smallest 2-byte */
		"\xc3\xa9",			/* U+00E9 */
		"\xdf\xbf",			/* U+07FF, largest 2-byte */
		"\xe0\xa0\x80",			/* U+0800, smallest 3-byte */
		"\xe2\x82\xac",			/* U+20AC euro */
		"\xed\x9f\xbf",			/* U+D7FF, below the surrogates */
		"\xee\x80\x80",			/* U+E000, above them */
		"\xef\xbf\xbd",			/* U+FFFD */
		"\xef\xbf\xbf",			/* U+FFFF */
		"\xf0\x90\x80\x80",		/* U+10000, smallest 4-byte */
		"\xf0\x9f\x98\x80",		/* U+1F600 */
		"\xf4\x8f\xbf\xbf",		/* U+10FFFF, the last */
		"a\xc3\xa9z\xf0\x9f\x98\x80!",
	};

	for (size_t i = 0; i < ARRAY_LEN(good); i++)
		assert_true(utf8_valid(good[i], strlen(good[i])));
	/* NUL is a well-formed one-byte character */
	assert_true(utf8_valid("a\0b", 3));
}

static void
test_utf8_valid_bad(void **state)
{
	static const char *bad[] = {
		"\x80",				/* lone continuation */
		"\xbf",
		"a\x80z",
		"\xc0\x80",			/* overlong NUL */
		"\xc0\xaf",			/* overlong '/' */
		"\xc1\xbf",			/* overlong U+007F */
		"\xe0\x80\x80",			/* overlong 3-byte */
		"\xe0\x9f\xbf",			/* overlong U+07FF */
		"\xf0\x80\x80\x80",		/* overlong 4-byte */
		"\xf0\x8f\xbf\xbf",		/* overlong U+FFFF */
		"\xed\xa0\x80",			/* U+D800 surrogate */
		"\xed\xaf\xbf",			/* U+DBFF */
		"\xed\xb0\x80",			/* U+DC00 */
		"\xed\xbf\xbf",			/* U+DFFF */
		"\xed\xa0\xbd\xed\xb8\x80",	/* CESU-8 surrogate pair */
		"\xf4\x90\x80\x80",		/* U+110000 */
		"\xf5\x80\x80\x80",		/* lead byte beyond U+10FFFF */
		"\xf7\xbf\xbf\xbf",
		"\xf8\x88\x80\x80\x80",		/* 5-byte form */
		"\xfc\x84\x80\x80\x80\x80",	/* 6-byte form */
		"\xfe",
		"\xff",
		"\xc3",				/* truncated 2-byte */
		"\xe2\x82",			/* truncated 3-byte */
		"\xf0\x9f\x98",			/* truncated 4-byte */
		"\xe2\x82z",			/* continuation missing */
		"\xc3\xc3\xa9",
		"\xf0\x9f\x98\x80\x80",		/* one continuation too many */
		"ok\xe2\x82",			/* truncated at the very end */
	};

	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		assert_false(utf8_valid(bad[i], strlen(bad[i])));
	/* a valid sequence cut by the length given is not valid */
	assert_false(utf8_valid("\xe2\x82\xac", 2));
	assert_false(utf8_valid("\xf0\x9f\x98\x80", 3));
	assert_true(utf8_valid("\xe2\x82\xac", 3));
}

/* sanitized - utf8_sanitize into a fresh string */
static char *
sanitized(const char *s, size_t len, size_t *outlen)
{
	char *out = malloc(3 * len + 1);

	assert_non_null(out);
	*outlen = utf8_sanitize(s, len, out);
	assert_true(*outlen <= 3 * len);
	out[*outlen] = '\0';
	assert_true(utf8_valid(out, *outlen));
	return out;
}

#define FFFD	"\xef\xbf\xbd"

static void
test_utf8_sanitize(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "", "" },
		{ "hello", "hello" },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
		{ "a\xff" "b", "a" FFFD "b" },
		{ "\x80", FFFD },
		{ "\xc0\x80", FFFD FFFD },			/* overlong */
		{ "\xe0\x80\xaf", FFFD FFFD FFFD },		/* overlong */
		{ "\xed\xa0\x80", FFFD FFFD FFFD },		/* surrogate */
		{ "\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD },	/* > U+10FFFF */
		{ "\xe2\x82", FFFD FFFD },			/* truncated */
		{ "x\xe2\x82", "x" FFFD FFFD },
		{ "\xe2\x82" "A", FFFD FFFD "A" },
		{ "\xf0\x9f\x98" "A", FFFD FFFD FFFD "A" },
		{ "\xc3\xc3\xa9", FFFD "\xc3\xa9" },		/* resyncs */
		{ "\xef\xbf\xbd", "\xef\xbf\xbd" },		/* U+FFFD stays */
		{ "\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf" },	/* U+10FFFF stays */
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		size_t n;
		char *out = sanitized(cases[i].in, strlen(cases[i].in), &n);

		assert_int_equal(n, strlen(cases[i].out));
		assert_memory_equal(out, cases[i].out, n);
		free(out);
	}
}

static void
test_utf8_sanitize_all_bytes(void **state)
{
	/* every byte value, in every position: the output is always valid */
	char in[512];
	size_t n;

	for (int i = 0; i < 256; i++) {
		in[2 * i] = (char)i;
		in[2 * i + 1] = (char)(255 - i);
	}
	free(sanitized(in, sizeof(in), &n));
	/* worst case: every byte replaced, exactly three times the input */
	memset(in, 0xff, sizeof(in));
	free(sanitized(in, sizeof(in), &n));
	assert_int_equal(n, 3 * sizeof(in));
}

/* ---- hashing, time ---- */

static void
test_hash_str(void **state)
{
	uint32_t a = hash_str(42, S("messi"));

	assert_int_equal(a, hash_str(42, S("messi")));
	assert_int_not_equal(a, hash_str(43, S("messi")));
	assert_int_not_equal(a, hash_str(42, S("Messi")));
	assert_int_not_equal(a, hash_str(42, S("messi2")));
	/* only len bytes count */
	assert_int_equal(hash_str(7, "abcdef", 3), hash_str(7, S("abc")));
}

static void
test_iso_time(void **state)
{
	char out[21];

	iso_time(0, out);
	assert_string_equal(out, "1970-01-01T00:00:00Z");
	iso_time(1700000000, out);
	assert_string_equal(out, "2023-11-14T22:13:20Z");
	iso_time(951782400, out);		/* a leap day */
	assert_string_equal(out, "2000-02-29T00:00:00Z");
}

static void
test_clock(void **state)
{
	uint64_t a = now_msec(), b;

	usleep(20 * 1000);
	b = now_msec();
	assert_true(b >= a + 15);
	assert_true(b < a + 5000);
	assert_true(now_sec() > 1600000000);
}

/* ---- numbers ---- */

static void
test_parse_uint(void **state)
{
	uint64_t v;

	assert_int_equal(parse_uint("0", 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_uint("42", 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse_uint("007", 100, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(parse_uint("10", 10, &v), 0);	/* max itself */
	assert_int_equal(v, 10);
	assert_int_equal(parse_uint("18446744073709551615", UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);

	v = 12345;
	static const char *bad[] = {
		"", " 1", "1 ", "+1", "-1", "1a", "a1", "0x10", "1.5", "1e3",
		"18446744073709551616", "99999999999999999999999",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		assert_int_equal(parse_uint(bad[i], UINT64_MAX, &v), -1);
	assert_int_equal(parse_uint("11", 10, &v), -1);	/* above max */
	assert_int_equal(parse_uint("65536", 65535, &v), -1);
	assert_int_equal(v, 12345);			/* untouched on error */
}

static void
test_parse_size(void **state)
{
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = {
		{ "0", 0 }, { "1", 1 }, { "512", 512 },
		{ "1K", 1024 }, { "1k", 1024 }, { "64k", 64 << 10 },
		{ "2M", 2 << 20 }, { "2m", 2 << 20 },
		{ "3G", 3ULL << 30 }, { "3g", 3ULL << 30 },
		{ "0G", 0 },
		{ "18446744073709551615", UINT64_MAX },
		{ "17179869183G", UINT64_MAX - ((1ULL << 30) - 1) },
		{ "18014398509481983K", UINT64_MAX - 1023 },
	};
	static const char *bad[] = {
		"", "K", "k1", " 1", "1 ", "1 K", "-1", "+1", "1KB", "1Kk",
		"1T", "1t", "1b", "1.5M", "0x10", "1e3",
		"18446744073709551616",		/* too big before scaling */
		"17179869184G",			/* 2^64 */
		"18014398509481984K",		/* 2^64 */
		"99999999999999999999M",
	};
	uint64_t v;

	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		v = 1;
		assert_int_equal(parse_size(good[i].s, &v), 0);
		assert_true(v == good[i].v);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		assert_int_equal(parse_size(bad[i], &v), -1);
}

static void
test_parse_duration(void **state)
{
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = {
		{ "0", 0 }, { "30", 30 }, { "30s", 30 }, { "2m", 120 },
		{ "3h", 3 * 3600 }, { "1d", 86400 }, { "7d", 7 * 86400 },
		{ "213503982334601d", 213503982334601ULL * 86400 },
	};
	static const char *bad[] = {
		"", "s", "1w", "1y", "1ms", "1 s", "1.5h", "-1s", "1h30m",
		"1S", "1H",
		"213503982334602d",		/* beyond 2^64 seconds */
		"307445734561825861m",
	};
	uint64_t v;

	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		v = 1;
		assert_int_equal(parse_duration(good[i].s, &v), 0);
		assert_true(v == good[i].v);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		assert_int_equal(parse_duration(bad[i], &v), -1);
}

/* ---- mkdir_p ---- */

static void
test_mkdir_p(void **state)
{
	char tmpl[] = "/tmp/rc-unit-util.XXXXXX", path[256];
	struct stat sb;
	char *dir = mkdtemp(tmpl);

	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/a/b/c", dir);
	assert_int_equal(mkdir_p(path, 0700), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	/* again: existing directories are fine */
	assert_int_equal(mkdir_p(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/a/b/c/", dir);
	assert_int_equal(mkdir_p(path, 0700), 0);

	/* a file in the way is an error */
	snprintf(path, sizeof(path), "%s/file", dir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/file/sub", dir);
	assert_int_equal(mkdir_p(path, 0700), -1);

	errno = 0;
	assert_int_equal(mkdir_p("", 0700), -1);
	assert_int_equal(errno, ENAMETOOLONG);

	snprintf(path, sizeof(path), "%s/file", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/a/b/c", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/a/b", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/a", dir);
	rmdir(path);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_round_trip),
		cmocka_unit_test(test_token_known_value),
		cmocka_unit_test(test_token_misshapen),
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_utf8_valid_good),
		cmocka_unit_test(test_utf8_valid_bad),
		cmocka_unit_test(test_utf8_sanitize),
		cmocka_unit_test(test_utf8_sanitize_all_bytes),
		cmocka_unit_test(test_hash_str),
		cmocka_unit_test(test_iso_time),
		cmocka_unit_test(test_clock),
		cmocka_unit_test(test_parse_uint),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_mkdir_p),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
