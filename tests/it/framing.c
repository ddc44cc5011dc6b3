/*
 * NAME
 *	it_framing - lines, pipelining and connections
 * DESCRIPTION
 *	Each test gets its own daemon. Covers pipelined requests answered in
 *	order, a flood written while replies come back, lines over max_line
 *	(one TOO_LARGE, the connection stays usable), bare LF, requests split
 *	over many writes, clients that vanish mid-line, a half-close, a client
 *	that does not read its 20 MiB reply (nobody else may wait), pipelined
 *	replies (histories, inbox batches, file downloads) adding up to many
 *	times the output limit, idle connections and many connections at once.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* expect_username - the next reply is an OK whoami for user */
static void expect_username(struct client *c, const char *user)
{
	cJSON *r = client_reply(c);

	assert_reply_ok(r);
	assert_string_equal(json_string(r, "username"), user);
	cJSON_Delete(r);
}

/* inbox_texts_from - all texts from one sender, over all batches */
static int inbox_texts_from(struct client *c, const char *sender,
    char **out, int max)
{
	cJSON *all = client_inbox_all(c, 1000), *e;
	int n = 0;

	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(all, sender)) {
		assert_true(n < max);
		out[n++] = strdup(json_string(e, "msg"));
	}
	cJSON_Delete(all);
	return n;
}

static void test_pipelined_200_in_order(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	size_t cap = 200 * 40, o = 0;
	char *buf = malloc(cap), *got[64];

	for (int i = 0; i < 200; i++) {
		switch (i % 4) {
		case 0: o += snprintf(buf + o, cap - o, "whoami\r\n"); break;
		case 1: o += snprintf(buf + o, cap - o, "bogus%d\r\n", i); break;
		case 2: o += snprintf(buf + o, cap - o,
			    "send henderson p%d\r\n", i); break;
		default: o += snprintf(buf + o, cap - o,
			    "send nobody%d x\r\n", i); break;
		}
	}
	client_write(m, buf, o);
	for (int i = 0; i < 200; i++) {
		cJSON *r = client_reply(m);

		switch (i % 4) {
		case 0:
			assert_reply_ok(r);
			assert_string_equal(json_string(r, "username"), "messi");
			break;
		case 1: assert_reply_error(r, "BAD_COMMAND"); break;
		case 2:
			assert_reply_ok(r);
			assert_reply_message(r, "Message Sent");
			break;
		default: assert_reply_error(r, "NO_USER"); break;
		}
		cJSON_Delete(r);
	}
	client_expect_silence(m, 200);
	/* the sends ran in order too */
	assert_int_equal(inbox_texts_from(h, "messi", got, 64), 50);
	for (int i = 0; i < 50; i++) {
		char want[16];

		snprintf(want, sizeof want, "p%d", 4 * i + 2);
		assert_string_equal(got[i], want);
	}
	free(buf);
}

static void test_pipelined_flood(void **state)
{
	struct client *m = client_login(*state, "messi");
	const int n = 3000;
	char *buf = malloc((size_t)n * 8 + 1);

	/* the client reads replies while it writes: no deadlock either way */
	for (int i = 0; i < n; i++)
		memcpy(buf + (size_t)i * 8, "whoami\r\n", 8);
	client_write(m, buf, (size_t)n * 8);
	for (int i = 0; i < n; i++)
		expect_username(m, "messi");
	client_expect_silence(m, 200);
	free(buf);
}

static int setup_small_lines(void **state)
{
	*state = daemon_start("max_line = 4K\n");
	return 0;
}

static void test_line_over_max_line(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	size_t n = 10000, o = 0;
	char *buf = malloc(3 * n + 100);
	cJSON *r;

	o += sprintf(buf, "send henderson ");
	memset(buf + o, 'x', n);
	o += n;
	o += sprintf(buf + o, "\r\nwhoami\r\n");
	memset(buf + o, 'y', n);
	o += n;
	buf[o++] = '\n';
	memset(buf + o, 'z', n);
	o += n;
	o += sprintf(buf + o, "\r\nwhoami\r\n");
	client_write(m, buf, o);
	r = client_reply(m);
	assert_reply_error(r, "TOO_LARGE");
	expect_username(m, "messi");
	assert_reply_error(client_reply(m), "TOO_LARGE");
	assert_reply_error(client_reply(m), "TOO_LARGE");
	expect_username(m, "messi");
	client_expect_silence(m, 300);
	r = client_cmd(h, "inbox");
	assert_int_equal(inbox_count(r), 0);
	free(buf);
}

static void test_huge_line_in_pieces(void **state)
{
	struct client *m = client_login(*state, "messi");
	size_t chunk = 65536;
	char *buf = malloc(chunk);

	memset(buf, 'y', chunk);
	client_send(m, "send henderson ");
	for (int i = 0; i < 16; i++)
		client_write(m, buf, chunk);
	client_send(m, "\r\nwhoami\r\n");
	assert_reply_error(client_reply(m), "TOO_LARGE");
	expect_username(m, "messi");
	client_expect_silence(m, 300);
	free(buf);
}

static void test_line_under_max_line_works(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	char text[3001], *got[2];

	memset(text, 'k', 3000);
	text[3000] = '\0';
	assert_reply_ok(client_cmd(m, "send henderson %s", text));
	assert_int_equal(inbox_texts_from(h, "messi", got, 2), 1);
	assert_string_equal(got[0], text);
}

static void test_bare_lf(void **state)
{
	struct client *c = client_connect(*state);

	client_send(c, "auth messi surabaya\n");
	assert_reply_ok(client_reply(c));
	client_send(c, "whoami\n");
	expect_username(c, "messi");
	client_send(c, "whoami\r\nwhoami\nwhoami\r\n\nwhoami\n");
	for (int i = 0; i < 4; i++)
		expect_username(c, "messi");
	client_expect_silence(c, 200);
}

static void test_split_writes_with_pauses(void **state)
{
	static const char *const pieces[] = {
		"au", "th me", "ssi sura", "baya\r", "\n",
	};
	struct client *c = client_connect(*state);
	struct client *h = client_login(*state, "henderson");
	char *got[2];

	for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
		client_send(c, "%s", pieces[i]);
		if (i + 1 < sizeof pieces / sizeof pieces[0])
			client_expect_silence(c, 150);
	}
	assert_reply_ok(client_reply(c));
	client_expect_silence(c, 150);
	/* a UTF-8 character cut between two writes */
	client_send(c, "send henderson caf\xc3");
	sleep_ms(150);
	client_send(c, "\xa9 ok\r\n");
	assert_reply_ok(client_reply(c));
	/* one byte per write */
	for (const char *p = "whoami\r\n"; *p; p++) {
		client_write(c, p, 1);
		sleep_ms(20);
	}
	expect_username(c, "messi");
	assert_int_equal(inbox_texts_from(h, "messi", got, 2), 1);
	assert_string_equal(got[0], "caf\xc3\xa9 ok");
}

/* cmp_pid - qsort order of pids */
static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

static void test_disconnect_mid_line(void **state)
{
	struct client *h = client_login(*state, "henderson"), *c;
	struct client *l = client_login(*state, "lineker");
	pid_t before[8], after[8];
	int nb = daemon_workers(*state, before, 8), na;
	const cJSON *e;
	cJSON *r;

	/* a client that aborts mid-line: the fragment is no request */
	for (int i = 0; i < 10; i++) {
		c = client_login(*state, "messi");
		client_send(c, "send henderson partial mess");
		client_close_reset(c);
	}
	/*
	 * A FIN after a fragment looks like a half-close; the daemon may
	 * answer the fragment as a last line, but must not mangle it.
	 */
	for (int i = 0; i < 10; i++) {
		c = client_login(*state, "messi");
		client_send(c, "send lineker partial mess");
		client_close(c);
	}
	/* a client gone before its replies are written */
	for (int i = 0; i < 10; i++) {
		c = client_connect(*state);
		client_send(c, "whoami\r\ninfo\r\nwhoami\r\n");
		client_close_reset(c);
	}
	r = client_cmd(h, "whoami");
	assert_reply_ok(r);
	r = client_cmd(h, "inbox");
	assert_reply_ok(r);
	if (inbox_count(r) != 0)
		fail_msg("a line cut off by a connection reset was run: %d "
		    "message(s) delivered", inbox_count(r));
	r = client_cmd(l, "inbox");
	assert_reply_ok(r);
	cJSON_ArrayForEach(e, inbox_from(r, "messi"))
		assert_string_equal(json_string(e, "msg"), "partial mess");
	c = client_login(*state, "messi");
	assert_reply_ok(client_cmd(c, "send henderson whole line"));
	r = client_cmd(h, "inbox");
	assert_int_equal(inbox_count(r), 1);
	/* and no worker died of it */
	na = daemon_workers(*state, after, 8);
	assert_int_equal(na, nb);
	qsort(before, nb, sizeof before[0], cmp_pid);
	qsort(after, na, sizeof after[0], cmp_pid);
	for (int i = 0; i < na; i++)
		assert_int_equal(after[i], before[i]);
}

static void test_half_close_answers_complete_lines(void **state)
{
	struct client *c = client_connect(*state), *h;
	cJSON *r;

	/*
	 * Complete lines before the end of input are answered.  A last line
	 * without its line end is no request: its sender may have died while
	 * writing it, so it is not run.
	 */
	client_send(c, "auth messi surabaya\r\nwhoami\r\nsend henderson cut off");
	assert_int_equal(shutdown(client_fd(c), SHUT_WR), 0);
	r = client_reply(c);
	assert_reply_ok(r);
	cJSON_Delete(r);
	expect_username(c, "messi");
	client_expect_eof(c, 3000);
	client_close(c);
	h = client_login(*state, "henderson");
	r = client_cmd(h, "inbox");
	assert_int_equal(inbox_count(r), 0);
	cJSON_Delete(r);
	client_close(h);
}

static int setup_big_messages(void **state)
{
	*state = daemon_start("max_message = 1M\nmessage_store = 64M\n"
	    "inbox_batch = 1000\n");
	return 0;
}

/* max_latency_s - worst round trip allowed: IT_MAX_LATENCY_MS, or 1 s */
static double max_latency_s(void)
{
	const char *v = getenv("IT_MAX_LATENCY_MS");

	return v != NULL && atof(v) > 0 ? atof(v) / 1000 : 1.0;
}

static void test_slow_reader_blocks_nobody(void **state)
{
	enum { N = 6 };
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson"), *o[N];
	size_t len = 512 * 1024;
	char *text = malloc(len + 32);
	cJSON *r;

	memcpy(text, "send henderson ", 15);
	memset(text + 15, 'w', len);
	memcpy(text + 15 + len, "\r\n", 2);
	for (int i = 0; i < 40; i++) {
		client_write(m, text, 15 + len + 2);
		assert_reply_ok(client_reply(m));
	}
	for (int i = 0; i < N; i++)
		o[i] = client_login(*state, "lineker");
	/* henderson asks for 20 MiB and does not read it yet */
	client_send(h, "inbox\r\n");
	sleep_ms(300);
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < N; i++) {
			double t0 = now_s();

			assert_reply_ok(client_cmd(o[i], "whoami"));
			if (now_s() - t0 > max_latency_s())
				fail_msg("a whoami took %.1f s while another "
				    "client was not reading", now_s() - t0);
		}
	r = client_reply(h);
	assert_reply_ok(r);
	assert_int_equal(inbox_count(r), 40);
	free(text);
}

/* write_lines - n copies of line (with its CRLF) in one write */
static void write_lines(struct client *c, const char *line, int n)
{
	size_t len = strlen(line), o = 0;
	char *buf = malloc(len * (size_t)n + 1);

	for (int i = 0; i < n; i++, o += len)
		memcpy(buf + o, line, len);
	client_write(c, buf, o);
	free(buf);
}

/* fill_group - messi posts n texts of len bytes each to a new group g */
static struct client *fill_group(void **state, int n, size_t len)
{
	struct client *m = client_login(*state, "messi");
	char *line = malloc(len + 32);
	int o = snprintf(line, 32, "sendgroup g ");

	assert_reply_ok(client_cmd(m, "addgroup g"));
	memset(line + o, 'g', len);
	memcpy(line + o + len, "\r\n", 3);
	write_lines(m, line, n);
	for (int i = 0; i < n; i++)
		assert_reply_ok(client_reply(m));
	free(line);
	return m;
}

/* expect_history - the next reply is an inboxgroup of n messages */
static size_t expect_history(struct client *c, int n)
{
	size_t len;
	char *raw = client_reply_raw(c, &len);
	cJSON *r = cJSON_Parse(raw);

	assert_reply_ok(r);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r,
	    "messages")), n);
	cJSON_Delete(r);
	free(raw);
	return len;
}

/*
 * Replies of pipelined lines add up to many times the output limit: the
 * lines left waiting behind it are answered once it drains, though the
 * client sends nothing more.
 */
static void test_pipelined_replies_past_output_limit(void **state)
{
	enum { N = 40 };
	struct client *m = fill_group(state, 100, 3000), *h;
	size_t total = 0;

	write_lines(m, "inboxgroup g\r\n", N);
	client_send(m, "whoami\r\n");
	for (int i = 0; i < N; i++)
		total += expect_history(m, 100);
	expect_username(m, "messi");
	assert_true(total > 4 * (1 << 20));
	client_expect_silence(m, 200);
	/* the same with the input half-closed after the last line */
	h = client_login(*state, "henderson");
	assert_reply_ok(client_cmd(h, "joingroup g"));
	write_lines(h, "inboxgroup g\r\n", N);
	client_send(h, "whoami\r\n");
	assert_int_equal(shutdown(client_fd(h), SHUT_WR), 0);
	for (int i = 0; i < N; i++)
		expect_history(h, 100);
	expect_username(h, "henderson");
	client_expect_eof(h, 3000);
}

static int setup_small_batches(void **state)
{
	*state = daemon_start("inbox_batch = 20\n");
	return 0;
}

/*
 * A pipelined inbox drain past the output limit: every reply comes, and
 * every message in exactly one of them, in the order sent.
 */
static void test_pipelined_inbox_drain(void **state)
{
	enum { MSGS = 300, LINES = 20, LEN = 8000 };
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	char *line = malloc(LEN + 64);
	int seen = 0;
	cJSON *r, *e;

	for (int i = 0; i < MSGS; i++) {
		int o = snprintf(line, 64, "send henderson %d ", i);

		memset(line + o, 'i', LEN);
		memcpy(line + o + LEN, "\r\n", 2);
		client_write(m, line, (size_t)o + LEN + 2);
		if (i % 50 == 49)
			for (int k = 0; k < 50; k++)
				assert_reply_ok(client_reply(m));
	}
	write_lines(h, "inbox\r\n", LINES);
	client_send(h, "whoami\r\n");
	for (int i = 0; i < LINES; i++) {
		r = client_reply(h);
		assert_reply_ok(r);
		assert_int_equal(inbox_count(r), seen < MSGS ? 20 : 0);
		cJSON_ArrayForEach(e, inbox_from(r, "messi")) {
			int k = -1;

			sscanf(json_string(e, "msg"), "%d ", &k);
			assert_int_equal(k, seen);
			seen++;
		}
		cJSON_Delete(r);
	}
	expect_username(h, "henderson");
	assert_int_equal(seen, MSGS);
	r = client_cmd(h, "inbox");
	assert_int_equal(inbox_count(r), 0);
	cJSON_Delete(r);
	free(line);
}

/* Pipelined downloads of a large file, each reply the whole body. */
static void test_pipelined_downloads(void **state)
{
	enum { N = 10 };
	struct client *m = client_login(*state, "messi");
	size_t size = 600 * 1024;
	unsigned char *data = malloc(size);
	char *enc, *cmd, id[32];
	uint32_t x = 4242;
	cJSON *r;

	for (size_t i = 0; i < size; i++) {
		x = x * 1103515245 + 12345;
		data[i] = (unsigned char)(x >> 16);
	}
	enc = b64(data, size);
	assert_reply_ok(client_cmd(m, "addgroup g"));
	r = client_cmd(m, "sendgroupfile g big.bin %s", enc);
	assert_reply_ok(r);
	cJSON_Delete(r);
	r = client_cmd(m, "inboxgroup g");
	snprintf(id, sizeof id, "%s", json_string(cJSON_GetArrayItem(
	    cJSON_GetObjectItem(r, "messages"), 0), "file_id"));
	cJSON_Delete(r);
	assert_true(asprintf(&cmd, "downloadfile %s\r\n", id) > 0);
	write_lines(m, cmd, N);
	client_send(m, "whoami\r\n");
	for (int i = 0; i < N; i++) {
		r = client_reply(m);
		assert_reply_ok(r);
		assert_string_equal(json_string(r, "message"), enc);
		cJSON_Delete(r);
	}
	expect_username(m, "messi");
	free(cmd);
	free(enc);
	free(data);
}

static int setup_idle(void **state)
{
	*state = daemon_start("idle_timeout = 1s\n");
	return 0;
}

static void test_idle_connection_closed(void **state)
{
	struct client *idle = client_connect(*state);
	struct client *busy = client_login(*state, "messi");

	for (int i = 0; i < 6; i++) {
		sleep_ms(400);
		assert_reply_ok(client_cmd(busy, "whoami"));
	}
	client_expect_eof(idle, 3000);
	assert_reply_ok(client_cmd(busy, "whoami"));
}

static void test_many_connections(void **state)
{
	enum { N = 100 };
	struct client *c[N];
	struct client *h = client_login(*state, "henderson");
	char text[16];
	int seen[N] = { 0 }, total = 0;
	cJSON *all, *e;

	for (int i = 0; i < N; i++)
		c[i] = client_login(*state, i % 2 ? "messi" : "lineker");
	for (int i = 0; i < N; i++)
		client_send(c[i], "send henderson c%d\r\n", i);
	for (int i = 0; i < N; i++)
		assert_reply_ok(client_reply(c[i]));
	all = client_inbox_all(h, 1000);
	for (int s = 0; s < 2; s++)
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(all,
		    s ? "messi" : "lineker")) {
			int k = -1;

			sscanf(json_string(e, "msg"), "c%d", &k);
			assert_in_range(k, 0, N - 1);
			assert_int_equal(k % 2, s);
			seen[k]++;
			total++;
		}
	assert_int_equal(total, N);
	for (int i = 0; i < N; i++) {
		snprintf(text, sizeof text, "c%d", i);
		if (seen[i] != 1)
			fail_msg("message %s seen %d times", text, seen[i]);
	}
}

#define T(f) cmocka_unit_test_setup_teardown(f, it_setup, it_teardown)
#define TS(f, s) cmocka_unit_test_setup_teardown(f, s, it_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_pipelined_200_in_order),
		T(test_pipelined_flood),
		TS(test_line_over_max_line, setup_small_lines),
		TS(test_huge_line_in_pieces, setup_small_lines),
		TS(test_line_under_max_line_works, setup_small_lines),
		T(test_bare_lf),
		T(test_split_writes_with_pauses),
		T(test_disconnect_mid_line),
		T(test_half_close_answers_complete_lines),
		TS(test_slow_reader_blocks_nobody, setup_big_messages),
		T(test_pipelined_replies_past_output_limit),
		TS(test_pipelined_inbox_drain, setup_small_batches),
		T(test_pipelined_downloads),
		TS(test_idle_connection_closed, setup_idle),
		T(test_many_connections),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
