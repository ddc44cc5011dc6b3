/*
 * NAME
 *	unit_ascii - printed JSON made pure ASCII (lib/ascii.c) and the
 *	replies that use it (lib/reply.c)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ascii.h"
#include "lib/buf.h"
#include "lib/link.h"
#include "lib/reply.h"
#include "lib/util.h"

#define CANARY	'#'

/* escaped - s escaped into a fresh string; checks the sizes agree */
static char *
escaped(const char *s, size_t len)
{
	size_t n = ascii_escaped_len(s, len);
	char *out = malloc(n + 2);

	assert_non_null(out);
	out[n] = CANARY;
	out[n + 1] = '\0';
	assert_int_equal(ascii_escape(s, len, out), n);
	assert_int_equal(out[n], CANARY);	/* nothing written past n */
	out[n] = '\0';
	return out;
}

static void
assert_escapes(const char *in, const char *want)
{
	char *got = escaped(in, strlen(in));

	assert_string_equal(got, want);
	free(got);
}

/* all_ascii - no byte of s is 0x80 or above */
static int
all_ascii(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 0;
	return 1;
}

static void
test_ascii_unchanged(void **state)
{
	const char *s = "{\"status\":\"OK\",\"m\":\"a\\\"b\\\\c\\n\\u0001 ~\x7f\"}";

	assert_int_equal(ascii_escaped_len(s, strlen(s)), strlen(s));
	assert_escapes(s, s);
	assert_int_equal(ascii_escaped_len("", 0), 0);
}

/* the first and last code point of each UTF-8 length */
static void
test_sequence_boundaries(void **state)
{
	assert_escapes("\xc2\x80", "\\u0080");
	assert_escapes("\xc3\xa9", "\\u00e9");			/* é */
	assert_escapes("\xdf\xbf", "\\u07ff");
	assert_escapes("\xe0\xa0\x80", "\\u0800");
	assert_escapes("\xe4\xb8\xad\xe6\x96\x87", "\\u4e2d\\u6587");	/* 中文 */
	assert_escapes("\xef\xbf\xbd", "\\ufffd");
	assert_escapes("\xef\xbf\xbf", "\\uffff");
	assert_escapes("\xf0\x90\x80\x80", "\\ud800\\udc00");	/* U+10000 */
	assert_escapes("\xf0\x9f\x98\x80", "\\ud83d\\ude00");	/* 😀 */
	assert_escapes("\xf4\x8f\xbf\xbf", "\\udbff\\udfff");	/* U+10FFFF */
}

/* sizes: 2 and 3 bytes grow to 6, 4 bytes to 12 */
static void
test_escaped_len(void **state)
{
	assert_int_equal(ascii_escaped_len("\xc3\xa9", 2), 6);
	assert_int_equal(ascii_escaped_len("\xe4\xb8\xad", 3), 6);
	assert_int_equal(ascii_escaped_len("\xf0\x9f\x98\x80", 4), 12);
	assert_int_equal(ascii_escaped_len("ab\xc3\xa9" "cd", 6), 10);
	/* a sequence cut by len is malformed: one \ufffd per byte */
	assert_int_equal(ascii_escaped_len("\xe4\xb8\xad", 2), 12);
}

/* text that mixes everything, as Python's json.dumps writes it */
static void
test_mixed_like_json_dumps(void **state)
{
	assert_escapes("{\"m\":\"a\\\"\xc3\xa9\\n\xe4\xb8\xad\xf0\x9f\x98\x80z\"}",
	    "{\"m\":\"a\\\"\\u00e9\\n\\u4e2d\\ud83d\\ude00z\"}");
	/* ASCII runs of every length around the 8-byte step */
	for (size_t n = 0; n < 20; n++) {
		char in[32], want[64];

		memset(in, 'a', n);
		memcpy(in + n, "\xc3\xa9", 3);
		memset(want, 'a', n);
		memcpy(want + n, "\\u00e9", 7);
		assert_escapes(in, want);
	}
}

/*
 * Malformed input should have been replaced before (utf8_sanitize); if
 * some gets here, each bad byte is \ufffd, exactly as escaping the
 * sanitized text would give.
 */
static void
test_malformed(void **state)
{
	static const char *const bad[] = {
		"\xc3", "a\xc3", "\xc3z", "\xc0\x80", "\xed\xa0\x80",
		"\xf5\x80\x80\x80", "\xf4\x90\x80\x80", "\xe4\xb8", "\x80",
		"\xff\xfe", "\xe0\x80\xaf", "\xf0\x9f\x98",
	};

	assert_escapes("\xc3", "\\ufffd");
	assert_escapes("\xc0\x80", "\\ufffd\\ufffd");
	assert_escapes("\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = strlen(bad[i]);
		char *clean = malloc(3 * len + 1);
		char *a, *b;

		clean[utf8_sanitize(bad[i], len, clean)] = '\0';
		a = escaped(bad[i], len);
		b = escaped(clean, strlen(clean));
		assert_string_equal(a, b);
		assert_true(all_ascii(a, strlen(a)));
		free(clean);
		free(a);
		free(b);
	}
}

/* random bytes: sizes agree, output ASCII, in place equals out of place */
static void
test_random_in_place(void **state)
{
	static const char *const parts[] = {
		"a", " ", "\\n", "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80",
		"\xc3", "\x80", "\xed\xa0\x80", "0123456789",
	};

	srand(12);
	for (int round = 0; round < 2000; round++) {
		struct buf b = { 0 };
		char in[512], *want;
		size_t len = 0, prefix = (size_t)(rand() % 40), used;

		while (len < 400) {
			const char *p = parts[rand() % 10];
			memcpy(in + len, p, strlen(p));
			len += strlen(p);
		}
		want = escaped(in, len);
		for (size_t i = 0; i < prefix; i++)
			buf_append(&b, "x", 1);
		buf_consume(&b, prefix / 2);	/* a consumed prefix too */
		used = buf_used(&b);
		buf_append(&b, in, len);
		assert_int_equal(ascii_escape_tail(&b, used), 0);
		assert_int_equal(buf_used(&b) - used, strlen(want));
		assert_memory_equal(buf_head(&b) + used, want, strlen(want));
		assert_true(all_ascii(buf_head(&b), buf_used(&b)));
		free(want);
		buf_free(&b);
	}
}

/* json_print_ascii: ASCII out, the same strings back after parsing */
static void
test_print_round_trip(void **state)
{
	static const char *const texts[] = {
		"\xc3\xa9", "\xe4\xb8\xad\xe6\x96\x87", "\xf0\x9f\x98\x80",
		"tab\tbell\x07" "esc\x1b" "del\x7f" "cr\r", "plain",
		"\"quoted\\\"", "\xe2\x82\xac 100",
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		cJSON *o = cJSON_CreateObject(), *back;
		char *text;

		cJSON_AddStringToObject(o, "text", texts[i]);
		text = json_print_ascii(o);
		assert_non_null(text);
		assert_true(all_ascii(text, strlen(text)));
		back = cJSON_Parse(text);
		assert_non_null(back);
		assert_string_equal(cJSON_GetObjectItem(back, "text")->valuestring,
		    texts[i]);
		cJSON_Delete(back);
		cJSON_Delete(o);
		cJSON_free(text);
	}
}

/* reply_of - a reply with key "t" = n copies of unit, finished into b */
static void
reply_of(struct buf *b, const char *unit, size_t n)
{
	size_t ul = strlen(unit);
	char *s = malloc(ul * n + 1);
	cJSON *o = reply_ok("x");

	for (size_t i = 0; i < n; i++)
		memcpy(s + i * ul, unit, ul);
	s[ul * n] = '\0';
	json_add_text(o, "t", s, ul * n);
	assert_int_equal(reply_finish(b, o), 0);
	free(s);
}

/*
 * Replies: small, one that fits the first print but grows past it, one
 * larger than any first guess; each ASCII, framed once, text back.
 */
static void
test_reply_sizes(void **state)
{
	static const struct { const char *unit; size_t n; } cases[] = {
		{ "\xc3\xa9", 1 }, { "\xc3\xa9", 1500 }, { "\xe4\xb8\xad", 1300 },
		{ "\xf0\x9f\x98\x80", 1000 }, { "\xc3\xa9", 100000 },
		{ "a", 5000 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b = { 0 };
		size_t ul = strlen(cases[i].unit), body;
		const char *t;
		cJSON *back;

		buf_append(&b, "prev", 4);
		buf_consume(&b, 2);
		reply_of(&b, cases[i].unit, cases[i].n);
		assert_memory_equal(buf_head(&b), "ev", 2);
		assert_true(all_ascii(buf_head(&b), buf_used(&b)));
		body = buf_used(&b) - 2 - strlen(REPLY_END);
		assert_memory_equal(buf_head(&b) + 2 + body, REPLY_END,
		    strlen(REPLY_END));
		back = cJSON_ParseWithLength(buf_head(&b) + 2, body);
		assert_non_null(back);
		t = cJSON_GetObjectItem(back, "t")->valuestring;
		assert_int_equal(strlen(t), ul * cases[i].n);
		for (size_t k = 0; k < cases[i].n; k++)
			assert_memory_equal(t + k * ul, cases[i].unit, ul);
		cJSON_Delete(back);
		buf_free(&b);
	}
}

/* a reply escaped in the worker's arena is the same as with malloc */
static void
test_reply_in_arena(void **state)
{
	struct buf b = { 0 };
	const char *want = "\"t\":\"\\u00e9\\u00e9\"";

	reply_use_arena();
	reply_of(&b, "\xf0\x9f\x98\x80", 3000);
	reply_of(&b, "\xc3\xa9", 2);
	assert_true(all_ascii(buf_head(&b), buf_used(&b)));
	assert_non_null(memmem(buf_head(&b), buf_used(&b), want, strlen(want)));
	buf_free(&b);
}

/* a link frame with text of every length: one ASCII line, text back */
static void
test_link_frame(void **state)
{
	const char *text = "\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80 \x01\x7f";
	struct buf b = { 0 };
	cJSON *o = cJSON_CreateObject(), *back;

	cJSON_AddStringToObject(o, "t", "msg");
	cJSON_AddStringToObject(o, "text", text);
	assert_int_equal(link_send(&b, o), 0);
	assert_true(all_ascii(buf_head(&b), buf_used(&b)));
	assert_int_equal(buf_head(&b)[buf_used(&b) - 1], '\n');
	assert_null(memchr(buf_head(&b), '\n', buf_used(&b) - 1));
	back = cJSON_ParseWithLength(buf_head(&b), buf_used(&b) - 1);
	assert_non_null(back);
	assert_string_equal(cJSON_GetObjectItem(back, "text")->valuestring, text);
	cJSON_Delete(back);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ascii_unchanged),
		cmocka_unit_test(test_sequence_boundaries),
		cmocka_unit_test(test_escaped_len),
		cmocka_unit_test(test_mixed_like_json_dumps),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_random_in_place),
		cmocka_unit_test(test_print_round_trip),
		cmocka_unit_test(test_reply_sizes),
		cmocka_unit_test(test_link_frame),
		cmocka_unit_test(test_reply_in_arena),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
