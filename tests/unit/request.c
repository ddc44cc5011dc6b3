/*
 * NAME
 *	unit_request - splitting request lines into words (lib/request.c)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "lib/request.h"

/* split - request_split of a C string */
static void
split(const char *line, struct request_line *rl)
{
	memset(rl, 0x5a, sizeof(*rl));
	request_split(line, strlen(line), rl);
}

/* assert_word - word i of rl is exactly text */
static void
assert_word(const struct request_line *rl, int i, const char *text)
{
	assert_true(i < rl->nwords);
	assert_int_equal(rl->w[i].len, strlen(text));
	assert_memory_equal(rl->w[i].p, text, rl->w[i].len);
}

/* rest - request_rest as a C string in out */
static const char *
rest(const struct request_line *rl, int from, char *out, size_t size)
{
	const char *p;
	size_t n = request_rest(rl, from, &p);

	assert_true(n < size);
	assert_true(p >= rl->line && p + n <= rl->line + rl->len);
	memcpy(out, p, n);
	out[n] = '\0';
	return out;
}

static void
test_single_spaces(void **state)
{
	struct request_line rl;

	split("auth messi surabaya", &rl);
	assert_int_equal(rl.nwords, 3);
	assert_false(rl.more);
	assert_word(&rl, 0, "auth");
	assert_word(&rl, 1, "messi");
	assert_word(&rl, 2, "surabaya");
	assert_int_equal(rl.len, strlen("auth messi surabaya"));
}

static void
test_blank_runs(void **state)
{
	struct request_line rl;
	const char *line = "  \tsend \t\t henderson\t  hello   there";

	split(line, &rl);
	assert_int_equal(rl.nwords, 4);
	assert_false(rl.more);
	assert_word(&rl, 0, "send");
	assert_word(&rl, 1, "henderson");
	assert_word(&rl, 2, "hello");
	assert_word(&rl, 3, "there");
	/* words point into the line itself */
	assert_ptr_equal(rl.w[0].p, line + 3);
	assert_ptr_equal(rl.line, line);
}

static void
test_trailing_blanks_and_cr(void **state)
{
	static const char *lines[] = {
		"inbox tok", "inbox tok ", "inbox tok\t", "inbox tok\r",
		"inbox tok \r", "inbox tok\r\r", "inbox tok \t \r \t\r",
		"inbox\ttok\r",
	};
	struct request_line rl;

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		split(lines[i], &rl);
		assert_int_equal(rl.nwords, 2);
		assert_word(&rl, 0, "inbox");
		assert_word(&rl, 1, "tok");
		assert_int_equal(rl.len, strlen("inbox tok"));
	}
	/* a CR inside the line is an ordinary byte */
	split("a\rb c", &rl);
	assert_int_equal(rl.nwords, 2);
	assert_word(&rl, 0, "a\rb");
	assert_word(&rl, 1, "c");
	/* only the given length counts: a CR past it is not seen */
	memset(&rl, 0, sizeof(rl));
	request_split("ab\r", 2, &rl);
	assert_int_equal(rl.len, 2);
	assert_word(&rl, 0, "ab");
}

static void
test_empty_and_blank_lines(void **state)
{
	static const char *lines[] = {
		"", " ", "\t", "\r", " \t \r", "\r\r\r", "      \t\t\t      ",
	};
	struct request_line rl;

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		split(lines[i], &rl);
		assert_int_equal(rl.nwords, 0);
		assert_false(rl.more);
		assert_int_equal(rl.len, 0);
	}
	memset(&rl, 0x5a, sizeof(rl));
	request_split(NULL, 0, &rl);
	assert_int_equal(rl.nwords, 0);
	assert_false(rl.more);
}

static void
test_rest_keeps_inner_blanks(void **state)
{
	struct request_line rl;
	char buf[256];

	split("send  henderson   hello   world\t with\ttabs  \r", &rl);
	assert_int_equal(rl.nwords, 6);
	assert_string_equal(rest(&rl, 2, buf, sizeof(buf)),
	    "hello   world\t with\ttabs");
	assert_string_equal(rest(&rl, 1, buf, sizeof(buf)),
	    "henderson   hello   world\t with\ttabs");
	assert_string_equal(rest(&rl, 0, buf, sizeof(buf)),
	    "send  henderson   hello   world\t with\ttabs");
	assert_string_equal(rest(&rl, 5, buf, sizeof(buf)), "tabs");
	/* past the last word: empty, at the end of the line */
	const char *p;
	assert_int_equal(request_rest(&rl, 6, &p), 0);
	assert_ptr_equal(p, rl.line + rl.len);
	assert_int_equal(request_rest(&rl, 100, &p), 0);
	assert_ptr_equal(p, rl.line + rl.len);
}

static void
test_rest_beyond_recorded_words(void **state)
{
	struct request_line rl;
	char line[512], buf[512];
	size_t n = 0;

	/* 20 words: the last recorded word's rest runs to the end */
	for (int i = 0; i < 20; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%sw%d",
		    i ? "  " : "", i);
	split(line, &rl);
	assert_int_equal(rl.nwords, REQ_WORDS);
	assert_true(rl.more);
	assert_string_equal(rest(&rl, REQ_WORDS - 1, buf, sizeof(buf)),
	    "w15  w16  w17  w18  w19");
}

static void
test_word_limit(void **state)
{
	struct request_line rl;
	char line[512];
	size_t n = 0;

	for (int i = 0; i < REQ_WORDS; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "w%d ", i);
	split(line, &rl);
	assert_int_equal(rl.nwords, REQ_WORDS);
	assert_false(rl.more);			/* exactly REQ_WORDS */
	assert_word(&rl, REQ_WORDS - 1, "w15");

	snprintf(line + n, sizeof(line) - n, "extra");
	split(line, &rl);
	assert_int_equal(rl.nwords, REQ_WORDS);
	assert_true(rl.more);			/* one more */
	for (int i = 0; i < REQ_WORDS; i++) {
		char w[16];
		snprintf(w, sizeof(w), "w%d", i);
		assert_word(&rl, i, w);
	}
	/* trailing blanks after the last recorded word are not "more" */
	line[n] = '\0';
	strcat(line, " \t \r");
	split(line, &rl);
	assert_int_equal(rl.nwords, REQ_WORDS);
	assert_false(rl.more);
}

static void
test_word_is(void **state)
{
	struct request_line rl;

	split("AUTH Auth auth aUtH authx aut", &rl);
	assert_int_equal(rl.nwords, 6);
	for (int i = 0; i < 4; i++)
		assert_true(word_is(&rl.w[i], "auth"));
	assert_false(word_is(&rl.w[4], "auth"));
	assert_false(word_is(&rl.w[5], "auth"));
	assert_false(word_is(&rl.w[0], "register"));
	assert_false(word_is(&rl.w[0], ""));

	/* only ASCII letters fold; digits and punctuation must match */
	split("Login_Info SESSION2 send-x", &rl);
	assert_true(word_is(&rl.w[0], "login_info"));
	assert_true(word_is(&rl.w[1], "session2"));
	assert_false(word_is(&rl.w[1], "session3"));
	assert_true(word_is(&rl.w[2], "send-x"));
	assert_false(word_is(&rl.w[2], "send_x"));
	/* a word is matched over its length, never a prefix of the name */
	struct word w = { "inboxes", 5 };
	assert_true(word_is(&w, "inbox"));
	assert_false(word_is(&w, "inboxes"));
}

static void
test_long_word(void **state)
{
	static char line[70000];
	struct request_line rl;

	memset(line, 'x', sizeof(line) - 1);
	line[0] = 's';
	line[1] = ' ';
	split(line, &rl);
	assert_int_equal(rl.nwords, 2);
	assert_int_equal(rl.w[1].len, sizeof(line) - 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_spaces),
		cmocka_unit_test(test_blank_runs),
		cmocka_unit_test(test_trailing_blanks_and_cr),
		cmocka_unit_test(test_empty_and_blank_lines),
		cmocka_unit_test(test_rest_keeps_inner_blanks),
		cmocka_unit_test(test_rest_beyond_recorded_words),
		cmocka_unit_test(test_word_limit),
		cmocka_unit_test(test_word_is),
		cmocka_unit_test(test_long_word),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
