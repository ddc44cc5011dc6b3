/*
 * NAME
 *	unit_filedata - base64 file content and client file names
 *	(lib/filedata.c)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lib/filedata.h"
#include "lib/util.h"

/* decode - b64_decode of a C string into out; its result */
static ssize_t
decode(const char *in, unsigned char *out)
{
	return b64_decode(in, strlen(in), out);
}

static void
test_b64_known(void **state)
{
	static const struct {
		const char *b64, *bytes;
	} cases[] = {
		{ "", "" },
		{ "Zg==", "f" }, { "Zg", "f" },
		{ "Zm8=", "fo" }, { "Zm8", "fo" },
		{ "Zm9v", "foo" },
		{ "Zm9vYg==", "foob" }, { "Zm9vYg", "foob" },
		{ "Zm9vYmE=", "fooba" }, { "Zm9vYmE", "fooba" },
		{ "Zm9vYmFy", "foobar" },
		{ "aGVsbG8gd29ybGQ=", "hello world" },
	};
	unsigned char out[64];

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		ssize_t n = decode(cases[i].b64, out);
		if (n != (ssize_t)strlen(cases[i].bytes))
			fail_msg("\"%s\": %zd bytes", cases[i].b64, n);
		assert_memory_equal(out, cases[i].bytes, (size_t)n);
	}
	/* bytes with the high bit and the '+' and '/' digits */
	assert_int_equal(decode("+/8A", out), 3);
	assert_memory_equal(out, "\xfb\xff\x00", 3);
}

static void
test_b64_rejects(void **state)
{
	static const char *bad[] = {
		"Z",			/* one character cannot be a byte */
		"Zm9vY",		/* nor 4n + 1 */
		"Zm9v\n",		/* no line breaks */
		"Zm 9v",		/* nor blanks */
		"Zm9v-_",		/* the URL-safe alphabet is not ours */
		"Zg=",			/* padding that does not complete a block */
		"Zm9=v",		/* '=' only at the end */
		"Zg===",		/* at most two */
		"=",
		"==",
		"Zm9v\x80",
		"b'Zm9v'",		/* the wrapper must be unwrapped first */
	};
	unsigned char out[64];

	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		if (decode(bad[i], out) != -1)
			fail_msg("\"%s\" decoded", bad[i]);
}

static void
test_b64_round_trip(void **state)
{
	unsigned char in[300], back[300 + 3];
	char text[404 + 1];

	srand(42);
	for (size_t len = 0; len <= sizeof(in); len++) {
		for (size_t i = 0; i < len; i++)
			in[i] = (unsigned char)rand();
		size_t n = b64_encode(in, len, text);
		assert_int_equal(n, b64_encoded_len(len));
		assert_int_equal(strlen(text), n);
		assert_true(b64_decoded_max(n) <= sizeof(back));
		assert_int_equal(b64_decode(text, n, back), (ssize_t)len);
		assert_memory_equal(back, in, len);
		/* and without its padding */
		while (n > 0 && text[n - 1] == '=')
			n--;
		assert_int_equal(b64_decode(text, n, back), (ssize_t)len);
		assert_memory_equal(back, in, len);
	}
}

static void
test_b64_unwrap(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "b'Zm9v'", "Zm9v" },
		{ "b\"Zm9v\"", "Zm9v" },
		{ "b''", "" },
		{ "Zm9v", "Zm9v" },
		{ "b'Zm9v\"", "b'Zm9v\"" },	/* quotes must match */
		{ "b'Zm9v", "b'Zm9v" },
		{ "B'Zm9v'", "B'Zm9v'" },
		{ "'Zm9v'", "'Zm9v'" },
		{ "b'", "b'" },
		{ "", "" },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const char *p = cases[i].in;
		size_t len = strlen(p);

		b64_unwrap(&p, &len);
		assert_int_equal(len, strlen(cases[i].out));
		assert_memory_equal(p, cases[i].out, len);
		assert_true(p >= cases[i].in &&
		    p + len <= cases[i].in + strlen(cases[i].in));
	}
}

/* clean - file_name_clean of a C string, into a 256-byte name */
static const char *
clean(const char *in, char *out)
{
	size_t n = file_name_clean(in, strlen(in), out, 256);

	assert_int_equal(strlen(out), n);
	assert_true(n > 0 && n < 256);
	assert_true(utf8_valid(out, n));
	assert_null(strchr(out, '/'));
	assert_null(strchr(out, '\\'));
	assert_true(out[0] != '.');
	for (size_t i = 0; i < n; i++)
		assert_true((unsigned char)out[i] >= 0x20 && out[i] != 0x7f);
	return out;
}

static void
test_file_name_clean(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "report.pdf", "report.pdf" },
		{ "my report (final).pdf", "my report (final).pdf" },
		{ "/etc/passwd", "passwd" },
		{ "../../../etc/shadow", "shadow" },
		{ "C:\\Users\\x\\evil.exe", "evil.exe" },
		{ "dir/sub\\mixed/name.txt", "name.txt" },
		{ ".hidden", "hidden" },
		{ "...dots", "dots" },
		{ " . leading", "leading" },
		{ "trailing.", "trailing." },
		{ "a\tb\nc\x01" "d\x7f", "a_b_c_d_" },
		{ "caf\xc3\xa9.txt", "caf\xc3\xa9.txt" },
		{ "bad\xff.txt", "bad\xef\xbf\xbd.txt" },
		{ "", "file" },
		{ "/", "file" },
		{ "dir/", "file" },
		{ "..", "file" },
		{ ". .", "file" },
		{ "\\", "file" },
	};
	char out[256];

	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		assert_string_equal(clean(cases[i].in, out), cases[i].out);
}

static void
test_file_name_clean_long(void **state)
{
	char in[1000], out[256];
	size_t n;

	/* at most outlen - 1 bytes */
	memset(in, 'x', sizeof(in) - 1);
	in[sizeof(in) - 1] = '\0';
	n = strlen(clean(in, out));
	assert_int_equal(n, 255);

	/* a cut never leaves half a character */
	for (size_t i = 0; i + 2 <= sizeof(in) - 1; i += 2)
		memcpy(in + i, "\xc3\xa9", 2);
	n = strlen(clean(in, out));
	assert_true(n >= 253 && n <= 255);
	assert_int_equal(n % 2, 0);

	/* a small buffer */
	char tiny[8];
	n = file_name_clean("abcdefghijk", 11, tiny, sizeof(tiny));
	assert_int_equal(n, 7);
	assert_string_equal(tiny, "abcdefg");
	n = file_name_clean("ab\xe2\x82\xac\xe2\x82\xac", 8, tiny, sizeof(tiny));
	assert_string_equal(tiny, "ab\xe2\x82\xac");	/* not half a euro */
	assert_int_equal(n, 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64_known),
		cmocka_unit_test(test_b64_rejects),
		cmocka_unit_test(test_b64_round_trip),
		cmocka_unit_test(test_b64_unwrap),
		cmocka_unit_test(test_file_name_clean),
		cmocka_unit_test(test_file_name_clean_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
