/*
 * NAME
 *	unit_reply - JSON replies and text escaping (lib/reply.c, lib/buf.c)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/reply.h"
#include "lib/util.h"

#define FFFD	"\xef\xbf\xbd"

/*
 * parse_reply - check that out holds exactly one reply: valid UTF-8 JSON
 * ending in CRLF CRLF, with no other CR or LF; return the parsed object.
 */
static cJSON *
parse_reply(const struct buf *out)
{
	size_t n = buf_used(out), body;
	const char *p = buf_head(out);
	char *copy;
	cJSON *o;

	assert_true(n > strlen(REPLY_END));
	body = n - strlen(REPLY_END);
	assert_memory_equal(p + body, REPLY_END, strlen(REPLY_END));
	assert_null(memchr(p, '\r', body));
	assert_null(memchr(p, '\n', body));
	assert_null(memchr(p, '\0', n));
	assert_true(utf8_valid(p, n));
	copy = malloc(body + 1);
	assert_non_null(copy);
	memcpy(copy, p, body);
	copy[body] = '\0';
	o = cJSON_Parse(copy);
	free(copy);
	assert_non_null(o);
	assert_true(cJSON_IsObject(o));
	return o;
}

/* field - a string member of o */
static const char *
field(const cJSON *o, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

	assert_non_null(it);
	assert_true(cJSON_IsString(it));
	return it->valuestring;
}

static void
test_reply_ok(void **state)
{
	struct buf out = { 0 };
	cJSON *o;

	assert_int_equal(reply_finish(&out, reply_ok("Login berhasil")), 0);
	o = parse_reply(&out);
	assert_string_equal(field(o, "status"), "OK");
	assert_string_equal(field(o, "message"), "Login berhasil");
	assert_null(cJSON_GetObjectItemCaseSensitive(o, "code"));
	cJSON_Delete(o);
	/* the first member is status */
	assert_memory_equal(buf_head(&out), "{\"status\":\"OK\"", 14);
	buf_free(&out);

	/* without a message, and with extra members */
	cJSON *r = reply_ok(NULL);
	cJSON_AddNumberToObject(r, "id", 42);
	assert_int_equal(reply_finish(&out, r), 0);
	o = parse_reply(&out);
	assert_string_equal(field(o, "status"), "OK");
	assert_null(cJSON_GetObjectItemCaseSensitive(o, "message"));
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(o, "id")->valueint, 42);
	cJSON_Delete(o);
	buf_free(&out);
}

static void
test_replies_append(void **state)
{
	struct buf out = { 0 };
	const char *second;

	assert_int_equal(reply_finish(&out, reply_ok("one")), 0);
	size_t first = buf_used(&out);
	assert_int_equal(reply_error(&out, E_NO_USER, NULL), 0);
	second = buf_head(&out) + first;
	assert_non_null(strstr(second, "\"code\":\"NO_USER\""));
	/* two replies, each framed */
	assert_memory_equal(buf_head(&out) + first - 4, REPLY_END, 4);
	assert_memory_equal(buf_head(&out) + buf_used(&out) - 4, REPLY_END, 4);
	buf_consume(&out, first);
	cJSON *o = parse_reply(&out);
	assert_string_equal(field(o, "status"), "ERROR");
	cJSON_Delete(o);
	buf_free(&out);
}

static void
test_reply_error_every_code(void **state)
{
	for (int c = 0; c < E_COUNT; c++) {
		struct buf out = { 0 };
		cJSON *o;

		assert_non_null(code_name((enum rc_code)c));
		assert_non_null(code_text((enum rc_code)c));
		assert_true(strlen(code_name((enum rc_code)c)) > 0);
		assert_true(strlen(code_text((enum rc_code)c)) > 0);
		for (int d = 0; d < c; d++)
			assert_string_not_equal(code_name((enum rc_code)c),
			    code_name((enum rc_code)d));

		/* NULL message: the code's own text */
		assert_int_equal(reply_error(&out, (enum rc_code)c, NULL), 0);
		o = parse_reply(&out);
		assert_string_equal(field(o, "status"), "ERROR");
		assert_string_equal(field(o, "code"), code_name((enum rc_code)c));
		assert_string_equal(field(o, "message"),
		    code_text((enum rc_code)c));
		cJSON_Delete(o);
		buf_free(&out);
	}
	assert_string_equal(code_name(E_BAD_PASSWORD), "BAD_PASSWORD");
	assert_string_equal(code_text(E_BAD_PASSWORD), "Password Salah");
	assert_string_equal(code_name(E_INTERNAL), "INTERNAL");
}

static void
test_reply_error_message(void **state)
{
	struct buf out = { 0 };
	cJSON *o;

	assert_int_equal(reply_error(&out, E_QUOTA, "Inbox \"full\" \\ now"), 0);
	o = parse_reply(&out);
	assert_string_equal(field(o, "code"), "QUOTA");
	assert_string_equal(field(o, "message"), "Inbox \"full\" \\ now");
	cJSON_Delete(o);
	buf_free(&out);

	/* a message with malformed UTF-8 is repaired */
	assert_int_equal(reply_error(&out, E_BAD_ARGS, "bad \xff byte"), 0);
	o = parse_reply(&out);
	assert_string_equal(field(o, "message"), "bad " FFFD " byte");
	cJSON_Delete(o);
	buf_free(&out);
}

static void
test_reply_errorf(void **state)
{
	struct buf out = { 0 };
	char big[2000], want[600];
	cJSON *o;

	assert_int_equal(reply_errorf(&out, E_TOO_LARGE,
	    "Message longer than %llu bytes", 65536ULL), 0);
	o = parse_reply(&out);
	assert_string_equal(field(o, "status"), "ERROR");
	assert_string_equal(field(o, "code"), "TOO_LARGE");
	assert_string_equal(field(o, "message"), "Message longer than 65536 bytes");
	cJSON_Delete(o);
	buf_free(&out);

	assert_int_equal(reply_errorf(&out, E_QUOTA, "Inbox of %.*s is full",
	    5, "messi and more"), 0);
	o = parse_reply(&out);
	assert_string_equal(field(o, "message"), "Inbox of messi is full");
	cJSON_Delete(o);
	buf_free(&out);

	/* a long message is cut to 511 bytes */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(reply_errorf(&out, E_BAD_ARGS, "%s", big), 0);
	o = parse_reply(&out);
	memset(want, 'a', 511);
	want[511] = '\0';
	assert_string_equal(field(o, "message"), want);
	cJSON_Delete(o);
	buf_free(&out);

	/*
	 * The cut can fall inside a multi-byte character: 2 + 254 * 2 = 510
	 * bytes, then the first byte of the 255th "é" alone at the end.  The
	 * reply must still be valid UTF-8.
	 */
	big[0] = 'x';
	big[1] = 'y';
	for (int i = 0; i < 600; i++)
		memcpy(big + 2 + 2 * i, "\xc3\xa9", 2);
	big[2 + 2 * 600] = '\0';
	assert_int_equal(reply_errorf(&out, E_BAD_ARGS, "%s", big), 0);
	o = parse_reply(&out);
	const char *m = field(o, "message");
	assert_int_equal(strlen(m), 2 + 254 * 2 + 3);
	assert_memory_equal(m, big, 2 + 254 * 2);
	assert_memory_equal(m + 2 + 254 * 2, FFFD, 3);
	cJSON_Delete(o);
	buf_free(&out);
}

static void
test_reply_finish_null(void **state)
{
	struct buf out = { 0 };
	cJSON *o;

	/* a reply that could not be built still answers, with INTERNAL */
	assert_int_equal(reply_finish(&out, NULL), -1);
	o = parse_reply(&out);
	assert_string_equal(field(o, "status"), "ERROR");
	assert_string_equal(field(o, "code"), "INTERNAL");
	assert_string_equal(field(o, "message"), "out of memory");
	cJSON_Delete(o);
	buf_free(&out);
}

/* text_round_trip - json_add_text of s, printed, parsed back */
static char *
text_round_trip(const char *s, size_t len)
{
	cJSON *o = cJSON_CreateObject(), *back, *it;
	struct buf out = { 0 };
	char *text;

	assert_non_null(json_add_text(o, "t", s, len));
	assert_int_equal(reply_finish(&out, o), 0);
	back = parse_reply(&out);
	it = cJSON_GetObjectItemCaseSensitive(back, "t");
	assert_true(cJSON_IsString(it));
	text = strdup(it->valuestring);
	assert_non_null(text);
	cJSON_Delete(back);
	buf_free(&out);
	return text;
}

static void
test_text_escapes(void **state)
{
	static const char *texts[] = {
		"plain",
		"",
		"with \"quotes\" and 'apostrophes'",
		"back\\slash \\\\ \\\" \\n \\u0000",
		"line\nfeed\r\ncrlf\ttab",
		"\x01\x02\x03\x07\x08\x0b\x0c\x0e\x1b\x1f\x7f",
		"</script><!-- & -->",
		"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf",
		"\xef\xbf\xbd already a replacement",
		"{\"status\":\"OK\"}\r\n\r\n",
	};

	for (size_t i = 0; i < ARRAY_LEN(texts); i++) {
		char *t = text_round_trip(texts[i], strlen(texts[i]));
		assert_string_equal(t, texts[i]);
		free(t);
	}
}

static void
test_text_only_len_bytes(void **state)
{
	char *t = text_round_trip("hello world", 5);

	assert_string_equal(t, "hello");
	free(t);
}

static void
test_text_invalid_utf8(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "\xff", FFFD },
		{ "a\x80z", "a" FFFD "z" },
		{ "\xc0\xaf", FFFD FFFD },
		{ "\xed\xa0\x80", FFFD FFFD FFFD },
		{ "\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD },
		{ "end \xe2\x82", "end " FFFD FFFD },
		{ "\"\xff\\", "\"" FFFD "\\" },
		{ "ok \xc3\xa9 bad \xc3", "ok \xc3\xa9 bad " FFFD },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char *t = text_round_trip(cases[i].in, strlen(cases[i].in));
		assert_string_equal(t, cases[i].out);
		free(t);
	}
}

static void
test_text_lengths(void **state)
{
	/*
	 * Around the 256-byte stack buffer: valid text needs len + 1 bytes,
	 * text to repair needs 3 * len + 1.  Every length must come back.
	 */
	static const size_t lens[] = {
		1, 84, 85, 86, 254, 255, 256, 257, 1000, 70000, 1 << 20,
	};

	for (size_t k = 0; k < ARRAY_LEN(lens); k++) {
		size_t n = lens[k];
		char *in = malloc(n), *want = malloc(3 * n + 1), *t;

		assert_non_null(in);
		assert_non_null(want);
		for (size_t i = 0; i < n; i++)
			in[i] = (char)('a' + i % 26);
		t = text_round_trip(in, n);
		assert_int_equal(strlen(t), n);
		assert_memory_equal(t, in, n);
		free(t);

		/* every 7th byte malformed */
		size_t w = 0;
		for (size_t i = 0; i < n; i++) {
			if (i % 7 == 3) {
				in[i] = (char)0xfe;
				memcpy(want + w, FFFD, 3);
				w += 3;
			} else
				want[w++] = in[i];
		}
		t = text_round_trip(in, n);
		assert_int_equal(strlen(t), w);
		assert_memory_equal(t, want, w);
		free(t);

		/* all malformed: the worst case, three times the length */
		memset(in, 0x80, n);
		t = text_round_trip(in, n);
		assert_int_equal(strlen(t), 3 * n);
		for (size_t i = 0; i < n; i++)
			assert_memory_equal(t + 3 * i, FFFD, 3);
		free(t);
		free(in);
		free(want);
	}
}

static void
test_text_all_bytes(void **state)
{
	/*
	 * Every byte value but NUL, controls and DEL included, next to
	 * neighbours that make some sequences valid and most not: what comes
	 * back is the input with exactly its malformed bytes replaced.
	 */
	char in[255 * 3], want[3 * sizeof(in)];
	size_t n;
	char *t;

	for (int i = 0; i < 255; i++) {
		in[3 * i] = (char)(i + 1);
		in[3 * i + 1] = (char)(0x80 + i % 64);
		in[3 * i + 2] = (char)(255 - i);
	}
	n = utf8_sanitize(in, sizeof(in), want);
	t = text_round_trip(in, sizeof(in));
	assert_int_equal(strlen(t), n);
	assert_memory_equal(t, want, n);
	/* the controls came through as themselves */
	assert_int_equal(t[0], 0x01);
	assert_non_null(memchr(t, '\n', n));
	assert_non_null(memchr(t, 0x1f, n));
	assert_non_null(memchr(t, 0x7f, n));
	free(t);
}

static void
test_text_escape_heavy(void **state)
{
	/*
	 * Control bytes print six times their length (\u0001): more than
	 * the room reply_finish() reckons from the tree, so this reply takes
	 * its last way, cJSON's own allocation.
	 */
	static const size_t lens[] = { 1000, 10000, 100000 };

	for (size_t k = 0; k < ARRAY_LEN(lens); k++) {
		size_t n = lens[k];
		char *in = malloc(n), *t;

		assert_non_null(in);
		memset(in, 0x01, n);
		t = text_round_trip(in, n);
		assert_int_equal(strlen(t), n);
		assert_memory_equal(t, in, n);
		free(t);
		free(in);
	}
}

static void
test_code_parse(void **state)
{
	for (int c = 0; c < E_COUNT; c++)
		assert_int_equal(code_parse(code_name((enum rc_code)c)), c);
	assert_int_equal(code_parse("NOPE"), E_COUNT);
	assert_int_equal(code_parse(""), E_COUNT);
	assert_int_equal(code_parse(NULL), E_COUNT);
}

/* ---- buf ---- */

static void
test_buf(void **state)
{
	struct buf b = { 0 };
	char chunk[1000];

	assert_int_equal(buf_used(&b), 0);
	assert_int_equal(buf_append(&b, "", 0), 0);
	assert_null(b.data);			/* nothing appended, nothing held */
	assert_int_equal(buf_append(&b, "hello ", 6), 0);
	assert_int_equal(buf_append(&b, "world", 5), 0);
	assert_int_equal(buf_used(&b), 11);
	assert_memory_equal(buf_head(&b), "hello world", 11);

	buf_consume(&b, 6);
	assert_int_equal(buf_used(&b), 5);
	assert_memory_equal(buf_head(&b), "world", 5);

	/* appends past the capacity keep the live bytes */
	for (int i = 0; i < 50; i++) {
		memset(chunk, 'a' + i % 26, sizeof(chunk));
		assert_int_equal(buf_append(&b, chunk, sizeof(chunk)), 0);
	}
	assert_int_equal(buf_used(&b), 5 + 50 * 1000);
	assert_memory_equal(buf_head(&b), "world", 5);
	for (int i = 0; i < 50; i++)
		assert_int_equal(buf_head(&b)[5 + i * 1000 + 999], 'a' + i % 26);
	assert_true(b.cap >= b.len);

	/* consuming everything empties it */
	buf_consume(&b, buf_used(&b));
	assert_int_equal(buf_used(&b), 0);
	assert_int_equal(b.off, 0);

	/* a consumed prefix is reclaimed rather than grown into */
	size_t cap = b.cap;
	memset(chunk, 'z', sizeof(chunk));
	while (b.len + sizeof(chunk) <= cap)
		assert_int_equal(buf_append(&b, chunk, sizeof(chunk)), 0);
	buf_consume(&b, b.len - 10);
	assert_int_equal(buf_append(&b, chunk, sizeof(chunk)), 0);
	assert_int_equal(b.cap, cap);
	assert_int_equal(b.off, 0);
	assert_int_equal(buf_used(&b), 10 + sizeof(chunk));

	buf_reset(&b);
	assert_int_equal(buf_used(&b), 0);
	assert_int_equal(b.cap, cap);		/* allocation kept */
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.cap, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_ok),
		cmocka_unit_test(test_replies_append),
		cmocka_unit_test(test_reply_error_every_code),
		cmocka_unit_test(test_reply_error_message),
		cmocka_unit_test(test_reply_errorf),
		cmocka_unit_test(test_reply_finish_null),
		cmocka_unit_test(test_text_escapes),
		cmocka_unit_test(test_text_only_len_bytes),
		cmocka_unit_test(test_text_invalid_utf8),
		cmocka_unit_test(test_text_lengths),
		cmocka_unit_test(test_text_all_bytes),
		cmocka_unit_test(test_text_escape_heavy),
		cmocka_unit_test(test_code_parse),
		cmocka_unit_test(test_buf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
