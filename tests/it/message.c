/*
 * NAME
 *	it_message - personal messages: send, sendprivate, inbox
 * DESCRIPTION
 *	Each test gets its own daemon. Covers the reply of a send, the exact
 *	inbox shape, ordering and draining, unknown recipients, the message
 *	size limit, the inbox quota (also with ten connections racing), a
 *	full message table, inbox batches with "more", two sessions draining
 *	one inbox at once, a reply that never reaches its client (nothing may
 *	leave the inbox), byte-exact round trips of awkward text, replacement
 *	of invalid UTF-8, NUL bytes, unknown commands, missing arguments and
 *	empty lines.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <poll.h>
#include <unistd.h>

/* send_ok - send a message and assert the "Message Sent" reply */
static void send_ok(struct client *c, const char *cmd, const char *to,
    const char *text)
{
	cJSON *r = client_cmd(c, "%s %s %s", cmd, to, text);

	assert_reply_ok(r);
	assert_reply_message(r, "Message Sent");
	cJSON_Delete(r);
}

/* send_raw_ok - send bytes as the text of a message, assert OK */
static void send_raw_ok(struct client *c, const char *to, const char *text,
    size_t len)
{
	size_t hl = strlen("send ") + strlen(to) + 1;
	char *line = malloc(hl + len + 2);
	cJSON *r;

	snprintf(line, hl + 1, "send %s ", to);
	memcpy(line + hl, text, len);
	memcpy(line + hl + len, "\r\n", 2);
	client_write(c, line, hl + len + 2);
	free(line);
	r = client_reply(c);
	assert_reply_ok(r);
	cJSON_Delete(r);
}

/* texts_of - the msg strings of one sender's entries */
static int texts_of(const cJSON *entries, const char **out, int max)
{
	const cJSON *e;
	int n = 0;

	assert_true(cJSON_IsArray(entries));
	cJSON_ArrayForEach(e, entries) {
		assert_true(n < max);
		out[n++] = json_string(e, "msg");
	}
	return n;
}

/* check_entry_keys - only the keys the protocol names */
static void check_entry_keys(const cJSON *e)
{
	static const char *const allowed[] = {
		"msg_from", "msg_to", "msg", "id", "from", "time", "group",
		"realm",
	};
	const cJSON *k;

	cJSON_ArrayForEach(k, e) {
		bool ok = false;

		for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
			ok |= strcmp(k->string, allowed[i]) == 0;
		if (!ok)
			fail_msg("unexpected key \"%s\" in an inbox entry",
			    k->string);
	}
}

/* check_entry - every field of one inbox entry */
static void check_entry(const cJSON *e, const char *from, const char *from_name,
    const char *to_name, const char *text, long t0, long t1)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
	long t;

	assert_true(cJSON_IsObject(e));
	assert_string_equal(json_string(e, "msg_from"), from_name);
	assert_string_equal(json_string(e, "msg_to"), to_name);
	assert_string_equal(json_string(e, "msg"), text);
	assert_string_equal(json_string(e, "from"), from);
	assert_true(cJSON_IsNumber(id));
	assert_true(id->valuedouble >= 0);
	assert_true(id->valuedouble == (double)(long long)id->valuedouble);
	if (!iso8601_utc(json_string(e, "time"), &t))
		fail_msg("time \"%s\" is not ISO 8601 UTC",
		    json_string(e, "time"));
	assert_in_range(t, t0 - 5, t1 + 5);
	check_entry_keys(e);
}

static void test_send_and_sendprivate_reply(void **state)
{
	struct client *m = client_login(*state, "messi");

	send_ok(m, "send", "henderson", "first");
	send_ok(m, "sendprivate", "henderson", "second");
	send_ok(m, "sendprivate", "lineker", "third");
}

static void test_inbox_shape(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	long t0 = (long)time(NULL), t1;
	const cJSON *msgs, *list;
	cJSON *r;

	send_ok(m, "send", "henderson", "hello there");
	r = client_cmd(h, "inbox");
	t1 = (long)time(NULL);
	assert_reply_ok(r);
	msgs = cJSON_GetObjectItemCaseSensitive(r, "messages");
	assert_true(cJSON_IsObject(msgs));
	assert_int_equal(cJSON_GetArraySize(msgs), 1);
	list = inbox_from(r, "messi");
	assert_true(cJSON_IsArray(list));
	assert_int_equal(cJSON_GetArraySize(list), 1);
	check_entry(cJSON_GetArrayItem(list, 0), "messi", "Lionel Messi",
	    "Jordan Henderson", "hello there", t0, t1);
	assert_false(inbox_more(r));
	cJSON_Delete(r);
	/* drained: the next inbox is an empty object, not an array */
	r = client_cmd(h, "inbox");
	assert_reply_ok(r);
	msgs = cJSON_GetObjectItemCaseSensitive(r, "messages");
	assert_true(cJSON_IsObject(msgs));
	assert_int_equal(cJSON_GetArraySize(msgs), 0);
}

static void test_inbox_order_and_senders(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *l = client_login(*state, "lineker");
	struct client *h = client_login(*state, "henderson");
	const char *tx[8];
	double ids[5];
	int n = 0;
	const cJSON *e;
	cJSON *r;

	send_ok(m, "send", "henderson", "a1");
	send_ok(l, "sendprivate", "henderson", "b1");
	send_ok(m, "sendprivate", "henderson", "a2");
	send_ok(l, "send", "henderson", "b2");
	send_ok(m, "send", "henderson", "a3");
	r = client_cmd(h, "inbox");
	assert_reply_ok(r);
	assert_int_equal(inbox_count(r), 5);
	assert_int_equal(texts_of(inbox_from(r, "messi"), tx, 8), 3);
	assert_string_equal(tx[0], "a1");
	assert_string_equal(tx[1], "a2");
	assert_string_equal(tx[2], "a3");
	assert_int_equal(texts_of(inbox_from(r, "lineker"), tx, 8), 2);
	assert_string_equal(tx[0], "b1");
	assert_string_equal(tx[1], "b2");
	cJSON_ArrayForEach(e, inbox_from(r, "lineker")) {
		assert_string_equal(json_string(e, "msg_from"), "Gary Lineker");
		ids[n++] = cJSON_GetObjectItemCaseSensitive(e, "id")->valuedouble;
	}
	cJSON_ArrayForEach(e, inbox_from(r, "messi"))
		ids[n++] = cJSON_GetObjectItemCaseSensitive(e, "id")->valuedouble;
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			assert_true(ids[i] != ids[j]);
}

static void test_two_users_separate_connections(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	long t0 = (long)time(NULL);
	cJSON *r;

	send_ok(m, "send", "henderson", "how are you");
	r = client_cmd(h, "inbox");
	assert_reply_ok(r);
	assert_int_equal(inbox_count(r), 1);
	check_entry(cJSON_GetArrayItem(inbox_from(r, "messi"), 0), "messi",
	    "Lionel Messi", "Jordan Henderson", "how are you", t0,
	    (long)time(NULL));
	send_ok(h, "sendprivate", "messi", "fine thanks");
	r = client_cmd(m, "inbox");
	assert_reply_ok(r);
	/* a sender's own messages are not in the sender's inbox */
	assert_int_equal(inbox_count(r), 1);
	check_entry(cJSON_GetArrayItem(inbox_from(r, "henderson"), 0),
	    "henderson", "Jordan Henderson", "Lionel Messi", "fine thanks", t0,
	    (long)time(NULL));
}

static void test_inbox_drains_only_own_queue(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	struct client *l = client_login(*state, "lineker");
	cJSON *r;

	send_ok(m, "send", "henderson", "for henderson");
	send_ok(m, "send", "lineker", "for lineker");
	r = client_cmd(l, "inbox");
	assert_reply_ok(r);
	assert_int_equal(inbox_count(r), 1);
	r = client_cmd(l, "inbox");
	assert_int_equal(inbox_count(r), 0);
	r = client_cmd(h, "inbox");
	assert_int_equal(inbox_count(r), 1);
	assert_string_equal(json_string(cJSON_GetArrayItem(
	    inbox_from(r, "messi"), 0), "msg"), "for henderson");
}

static void test_send_to_unknown_user(void **state)
{
	struct client *m = client_login(*state, "messi");
	cJSON *r = client_cmd(m, "send nobody hello");

	assert_reply_error(r, "NO_USER");
	assert_reply_message(r, "User Tidak Ditemukan");
	r = client_cmd(m, "sendprivate nobody hello");
	assert_reply_error(r, "NO_USER");
	/* recipient names are case-sensitive */
	r = client_cmd(m, "send HENDERSON hello");
	assert_reply_error(r, "NO_USER");
}

static void test_text_spacing_kept_inside(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	cJSON *r;

	client_send(m, "send   henderson   hello   spaced  world \t \r\n");
	assert_reply_ok(client_reply(m));
	r = client_cmd(h, "inbox");
	assert_string_equal(json_string(cJSON_GetArrayItem(
	    inbox_from(r, "messi"), 0), "msg"), "hello   spaced  world");
}

static int setup_small_messages(void **state)
{
	*state = daemon_start("max_message = 1024\n");
	return 0;
}

static void test_message_too_large(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	char text[1100];
	cJSON *r;

	memset(text, 'a', sizeof text);
	send_raw_ok(m, "henderson", text, 1024);
	text[1025] = '\0';
	r = client_cmd(m, "send henderson %s", text);
	assert_reply_error(r, "TOO_LARGE");
	r = client_cmd(m, "whoami");
	assert_reply_ok(r);
	r = client_cmd(h, "inbox");
	assert_int_equal(inbox_count(r), 1);
	assert_int_equal(strlen(json_string(cJSON_GetArrayItem(
	    inbox_from(r, "messi"), 0), "msg")), 1024);
}

static void test_large_message_round_trip(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	size_t len = 60000;
	char *text = malloc(len + 1);
	cJSON *r;

	for (size_t i = 0; i < len; i++)
		text[i] = (char)('a' + i % 26);
	text[len] = '\0';
	send_raw_ok(m, "henderson", text, len);
	r = client_cmd(h, "inbox");
	assert_reply_ok(r);
	assert_string_equal(json_string(cJSON_GetArrayItem(
	    inbox_from(r, "messi"), 0), "msg"), text);
	free(text);
}

static int setup_quota(void **state)
{
	*state = daemon_start("inbox_quota = 3\n");
	return 0;
}

/*
 * send_settled - the reply to a send, once the messages read just before
 * have left the table: the reader's worker removes them only after it has
 * written the inbox reply in full, a moment after the reader has it
 * (docs/DESIGN.md, "Inbox delivery").
 */
static cJSON *send_settled(struct client *c, const char *line)
{
	cJSON *r = client_cmd(c, "%s", line);

	for (int i = 0; i < 100 && strcmp(json_string(r, "status"), "OK") != 0;
	    i++) {
		cJSON_Delete(r);
		sleep_ms(20);
		r = client_cmd(c, "%s", line);
	}
	return r;
}

static void test_inbox_quota(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	cJSON *r;

	send_ok(m, "send", "henderson", "q1");
	send_ok(m, "send", "henderson", "q2");
	send_ok(m, "sendprivate", "henderson", "q3");
	r = client_cmd(m, "send henderson q4");
	assert_reply_error(r, "QUOTA");
	r = client_cmd(m, "sendprivate henderson q4");
	assert_reply_error(r, "QUOTA");
	/* another inbox is not affected */
	send_ok(m, "send", "lineker", "l1");
	r = client_cmd(h, "inbox");
	assert_reply_ok(r);
	assert_int_equal(inbox_count(r), 3);
	assert_reply_ok(send_settled(m, "send henderson q5"));
	r = client_cmd(h, "inbox");
	assert_int_equal(inbox_count(r), 1);
	assert_string_equal(json_string(cJSON_GetArrayItem(
	    inbox_from(r, "messi"), 0), "msg"), "q5");
}

static int setup_small_store(void **state)
{
	*state = daemon_start("max_messages = 16\n");
	return 0;
}

static void test_message_table_full(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	char line[64];
	int n;
	cJSON *r;

	for (int round = 0; round < 2; round++) {
		for (n = 0; n < 17; n++) {
			snprintf(line, sizeof line, "send henderson r%d-%d",
			    round, n);
			r = n == 0 ? send_settled(m, line) : client_cmd(m, "%s",
			    line);
			if (strcmp(json_string(r, "status"), "OK") != 0)
				break;
			cJSON_Delete(r);
		}
		if (n == 17)
			fail_msg("17 messages stored in a 16-message table");
		assert_in_range(n, 8, 16);
		assert_string_equal(json_string(r, "status"), "ERROR");
		r = client_cmd(m, "send lineker other inbox");
		assert_string_equal(json_string(r, "status"), "ERROR");
		assert_reply_ok(client_cmd(m, "whoami"));
		/* draining frees the slots for the next round */
		assert_int_equal(inbox_count(client_cmd(h, "inbox")), n);
	}
	r = send_settled(m, "send lineker room again");
	assert_reply_ok(r);
	assert_reply_message(r, "Message Sent");
	cJSON_Delete(r);
}

static int setup_quota_50(void **state)
{
	*state = daemon_start("inbox_quota = 50\n");
	return 0;
}

static void test_quota_exact_under_concurrency(void **state)
{
	enum { N = 10, EACH = 10 };
	struct client *c[N], *h;
	int ok = 0, quota = 0;

	for (int i = 0; i < N; i++)
		c[i] = client_login(*state, i % 2 ? "messi" : "lineker");
	/* all connections pipeline their sends at once */
	for (int i = 0; i < N; i++) {
		char buf[EACH * 32];
		size_t o = 0;

		for (int k = 0; k < EACH; k++)
			o += snprintf(buf + o, sizeof buf - o,
			    "send henderson c%d-%d\r\n", i, k);
		client_write(c[i], buf, o);
	}
	for (int i = 0; i < N; i++)
		for (int k = 0; k < EACH; k++) {
			cJSON *r = client_reply(c[i]);

			if (strcmp(json_string(r, "status"), "OK") == 0)
				ok++;
			else {
				assert_reply_error(r, "QUOTA");
				quota++;
			}
			cJSON_Delete(r);
		}
	assert_int_equal(ok, 50);
	assert_int_equal(quota, N * EACH - 50);
	h = client_login(*state, "henderson");
	assert_int_equal(inbox_count(client_cmd(h, "inbox")), 50);
}

static int setup_batch(void **state)
{
	*state = daemon_start("inbox_batch = 5\n");
	return 0;
}

/* drain_batch - one inbox: n messages from messi, "more" as expected */
static void drain_batch(struct client *h, int n, bool more, int *next)
{
	const char *tx[16];
	char want[16];
	cJSON *r = client_cmd(h, "inbox");

	assert_reply_ok(r);
	assert_int_equal(inbox_count(r), n);
	if (more != inbox_more(r))
		fail_msg("inbox of %d: \"more\" should be %s", n,
		    more ? "true" : "absent or false");
	if (n == 0)
		return;
	assert_int_equal(texts_of(inbox_from(r, "messi"), tx, 16), n);
	for (int i = 0; i < n; i++) {
		snprintf(want, sizeof want, "m%d", (*next)++);
		assert_string_equal(tx[i], want);
	}
}

static void test_inbox_batch_and_more(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	char text[16];
	int next = 0;

	for (int i = 0; i < 12; i++) {
		snprintf(text, sizeof text, "m%d", i);
		send_ok(m, "send", "henderson", text);
	}
	drain_batch(h, 5, true, &next);
	drain_batch(h, 5, true, &next);
	drain_batch(h, 2, false, &next);
	drain_batch(h, 0, false, &next);
	/* exactly a batch waiting: no "more" */
	for (int i = 12; i < 17; i++) {
		snprintf(text, sizeof text, "m%d", i);
		send_ok(m, "send", "henderson", text);
	}
	drain_batch(h, 5, false, &next);
	drain_batch(h, 0, false, &next);
}

/* count_texts - add up how often each text occurs in inbox entries */
static void count_texts(const cJSON *messages, const char *const *texts,
    int *counts, int ntexts)
{
	const cJSON *sender, *e;

	cJSON_ArrayForEach(sender, messages)
		cJSON_ArrayForEach(e, sender)
			for (int i = 0; i < ntexts; i++)
				if (strcmp(json_string(e, "msg"), texts[i]) == 0)
					counts[i]++;
}

static void test_inbox_batch_counts_all_senders(void **state)
{
	static const char *const texts[] = { "m-even", "m-odd", "l-even",
	    "l-odd" };
	struct client *m = client_login(*state, "messi");
	struct client *l = client_login(*state, "lineker");
	struct client *h = client_login(*state, "henderson");
	int counts[4] = { 0 };
	cJSON *r, *rest;

	for (int i = 0; i < 4; i++) {
		send_ok(m, "send", "henderson", texts[i % 2]);
		send_ok(l, "send", "henderson", texts[2 + i % 2]);
	}
	r = client_cmd(h, "inbox");
	assert_reply_ok(r);
	assert_int_equal(inbox_count(r), 5);
	assert_true(inbox_more(r));
	count_texts(cJSON_GetObjectItemCaseSensitive(r, "messages"), texts,
	    counts, 4);
	rest = client_inbox_all(h, 10);
	count_texts(rest, texts, counts, 4);
	/* every message exactly once over the batches */
	for (int i = 0; i < 4; i++)
		assert_int_equal(counts[i], 2);
}

/* collect_ids - add an inbox reply's ids to seen[]; count them */
static int collect_ids(const cJSON *r, int *seen, int max)
{
	const cJSON *sender, *e;
	int n = 0, k;

	cJSON_ArrayForEach(sender, cJSON_GetObjectItemCaseSensitive(r,
	    "messages"))
		cJSON_ArrayForEach(e, sender) {
			k = -1;
			sscanf(json_string(e, "msg"), "d%d", &k);
			assert_in_range(k, 0, max - 1);
			seen[k]++;
			n++;
		}
	return n;
}

static void test_concurrent_drain_delivers_once(void **state)
{
	enum { N = 200 };
	struct client *m = client_login(*state, "messi");
	struct client *h1 = client_login(*state, "henderson");
	struct client *h2 = client_login(*state, "henderson");
	char *buf = malloc(N * 32);
	int seen[N] = { 0 }, total = 0;
	size_t o = 0;
	bool more1 = true, more2 = true;

	for (int i = 0; i < N; i++)
		o += snprintf(buf + o, N * 32 - o, "send henderson d%d\r\n", i);
	client_write(m, buf, o);
	for (int i = 0; i < N; i++)
		assert_reply_ok(client_reply(m));
	/* two sessions of one user drain in parallel, batch by batch */
	for (int round = 0; (more1 || more2) && round < 100; round++) {
		cJSON *r1, *r2;

		client_send(h1, "inbox\r\n");
		client_send(h2, "inbox\r\n");
		r1 = client_reply(h1);
		r2 = client_reply(h2);
		assert_reply_ok(r1);
		assert_reply_ok(r2);
		total += collect_ids(r1, seen, N) + collect_ids(r2, seen, N);
		more1 = inbox_more(r1) || inbox_count(r1) > 0;
		more2 = inbox_more(r2) || inbox_count(r2) > 0;
		cJSON_Delete(r1);
		cJSON_Delete(r2);
	}
	assert_int_equal(total, N);
	for (int i = 0; i < N; i++)
		if (seen[i] != 1)
			fail_msg("message d%d delivered %d times", i, seen[i]);
	free(buf);
}

static int setup_big_messages(void **state)
{
	*state = daemon_start("max_message = 1M\nmessage_store = 64M\n"
	    "inbox_batch = 1000\n");
	return 0;
}

/* send_big - n messages of len bytes each, tagged by their first bytes */
static void send_big(struct client *c, const char *to, int n, size_t len)
{
	char *text = malloc(len + 1);

	memset(text, 'b', len);
	for (int i = 0; i < n; i++) {
		snprintf(text, 16, "big%03d:", i);
		text[7] = ':';
		send_raw_ok(c, to, text, len);
	}
	free(text);
}

static void test_inbox_kept_if_reply_undelivered(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	struct pollfd pfd = { client_fd(h), POLLIN, 0 };
	char some[65536];
	cJSON *all;
	const cJSON *e;
	int n = 0;

	/* a 20 MiB reply cannot fit into the kernel's socket buffers */
	send_big(m, "henderson", 40, 512 * 1024);
	client_send(h, "inbox\r\n");
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_true(read(client_fd(h), some, sizeof some) > 0);
	client_close_reset(h);
	sleep_ms(300);
	h = client_login(*state, "henderson");
	all = client_inbox_all(h, 100);
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(all, "messi")) {
		char want[16];

		snprintf(want, sizeof want, "big%03d:", n++);
		assert_int_equal(strncmp(json_string(e, "msg"), want, 7), 0);
		assert_int_equal(strlen(json_string(e, "msg")), 512 * 1024);
	}
	if (n != 40)
		fail_msg("%d of 40 messages left the inbox although their "
		    "reply never reached the client", 40 - n);
}

/* Text that must come back from inbox exactly as sent. */
static const char *const nasty[] = {
	"\"quoted\" and 'single' and \"\"",
	"back\\slash \\\\ \\n is not a newline \\u0041 \\\"",
	"tab\there\tand\t\tthere",
	"ctl \x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x1b\x1f "
	    "del \x7f end",
	"carriage\rreturn inside",
	"{\"json\":[1,2,{\"a\":null}]} </script> <b>&amp;",
	"h\xc3\xa9llo w\xc3\xb6rld \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac"
	    "\xe8\xaa\x9e \xf0\x9f\x8e\x89",
	"\xef\xbf\xbd is a real replacement char; \xe2\x80\xa8 and "
	    "\xe2\x80\xa9 separators",
	"%s %d %n %% %x printf",
	"ends with a backslash \\",
	"\\",
	"\"",
	"x",
};

static void test_nasty_text_round_trip(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	size_t n = sizeof nasty / sizeof nasty[0];
	const char *tx[32];
	cJSON *r;

	for (size_t i = 0; i < n; i++)
		send_raw_ok(m, "henderson", nasty[i], strlen(nasty[i]));
	r = client_cmd(h, "inbox");
	assert_reply_ok(r);
	assert_int_equal(texts_of(inbox_from(r, "messi"), tx, 32), (int)n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(tx[i], nasty[i]) != 0)
			fail_msg("text %zu did not round-trip byte-exact", i);
}

/* only_replacements - s is one or more U+FFFD and nothing else */
static bool only_replacements(const char *s, size_t len)
{
	if (len == 0 || len % 3 != 0)
		return false;
	for (size_t i = 0; i < len; i += 3)
		if (memcmp(s + i, "\xef\xbf\xbd", 3) != 0)
			return false;
	return true;
}

static void test_invalid_utf8_replaced(void **state)
{
	static const struct {
		const char *in, *pre, *post;
	} cases[] = {
		{ "abc\xff\xfe" "def", "abc", "def" },
		{ "truncated \xc3", "truncated ", "" },
		{ "overlong \xc0\xaf!", "overlong ", "!" },
		{ "surrogate \xed\xa0\x80!", "surrogate ", "!" },
		{ "too big \xf4\x90\x80\x80!", "too big ", "!" },
		{ "lone continuation \x80\xbf!", "lone continuation ", "!" },
		{ "\xc3\xa9\xff\xc3\xa9", "\xc3\xa9", "\xc3\xa9" },
		{ "cut four-byte \xf0\x9f\x8e x", "cut four-byte ", " x" },
	};
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	size_t n = sizeof cases / sizeof cases[0];
	const char *tx[16];
	cJSON *r;

	for (size_t i = 0; i < n; i++)
		send_raw_ok(m, "henderson", cases[i].in, strlen(cases[i].in));
	r = client_cmd(h, "inbox");
	assert_reply_ok(r);
	assert_int_equal(texts_of(inbox_from(r, "messi"), tx, 16), (int)n);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(tx[i]), pl = strlen(cases[i].pre);
		size_t sl = strlen(cases[i].post);

		if (len < pl + sl || memcmp(tx[i], cases[i].pre, pl) != 0 ||
		    memcmp(tx[i] + len - sl, cases[i].post, sl) != 0 ||
		    !only_replacements(tx[i] + pl, len - pl - sl))
			fail_msg("case %zu: invalid bytes not replaced by "
			    "U+FFFD alone (got %zu bytes)", i, len);
	}
}

static void test_invalid_utf8_anywhere_gives_valid_reply(void **state)
{
	struct client *c = client_connect(*state);
	cJSON *r;

	/* client_reply() checks every reply is valid UTF-8 and JSON */
	client_send(c, "\xff\xfe\r\n");
	r = client_reply(c);
	assert_reply_error(r, "BAD_COMMAND");
	client_send(c, "au\xc3th messi surabaya\r\n");
	assert_reply_error(client_reply(c), "BAD_COMMAND");
	client_send(c, "auth \xc3\x28 pw\r\n");
	r = client_reply(c);
	assert_string_equal(json_string(r, "status"), "ERROR");
	client_auth(c, "messi", SEED_PASSWORD);
	client_send(c, "send hender\xff\xfeson hello\r\n");
	r = client_reply(c);
	assert_string_equal(json_string(r, "status"), "ERROR");
	client_send(c, "register \xe6\x97\xa5\xff pw\r\n");
	r = client_reply(c);
	assert_reply_error(r, "BAD_NAME");
}

static void test_nul_in_message_is_bad_args(void **state)
{
	static const char line[] = "send henderson ab\0cd\r\n";
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	cJSON *r;

	client_write(m, line, sizeof line - 1);
	assert_reply_error(client_reply(m), "BAD_ARGS");
	r = client_cmd(m, "whoami");
	assert_reply_ok(r);
	r = client_cmd(h, "inbox");
	assert_int_equal(inbox_count(r), 0);
}

static void test_unknown_command(void **state)
{
	struct client *c = client_connect(*state);
	cJSON *r = client_cmd(c, "frobnicate");

	assert_reply_error(r, "BAD_COMMAND");
	assert_reply_message(r, "Maaf, command tidak benar");
	assert_reply_error(client_cmd(c, "sendd henderson hi"), "BAD_COMMAND");
	client_auth(c, "messi", SEED_PASSWORD);
	assert_reply_error(client_cmd(c, "frobnicate a b c"), "BAD_COMMAND");
	assert_reply_error(client_cmd(c, "inboxx"), "BAD_COMMAND");
	assert_reply_ok(client_cmd(c, "whoami"));
}

static void test_missing_arguments(void **state)
{
	static const char *const lines[] = {
		"send", "send henderson", "send henderson    ", "sendprivate",
		"sendprivate henderson", "register", "register onlyname",
	};
	struct client *m = client_login(*state, "messi");
	char tok[64];
	cJSON *r;

	snprintf(tok, sizeof tok, "%s", client_auth(m, "messi",
	    SEED_PASSWORD));
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		r = client_cmd(m, "%s", lines[i]);
		assert_reply_error(r, "BAD_ARGS");
		assert_reply_message(r, "Protocol Tidak Benar");
		cJSON_Delete(r);
	}
	assert_reply_error(client_cmd(m, "send %s", tok), "BAD_ARGS");
	assert_reply_error(client_cmd(m, "send %s henderson", tok), "BAD_ARGS");
	assert_reply_ok(client_cmd(m, "whoami"));
}

static void test_empty_lines_get_no_reply(void **state)
{
	struct client *m = client_login(*state, "messi");
	cJSON *r;

	client_send(m, "\r\n\n\r\n");
	client_expect_silence(m, 300);
	client_send(m, "\r\n\nwhoami\r\n\r\n\n");
	r = client_reply(m);
	assert_reply_ok(r);
	assert_string_equal(json_string(r, "username"), "messi");
	client_expect_silence(m, 300);
}

#define T(f) cmocka_unit_test_setup_teardown(f, it_setup, it_teardown)
#define TS(f, s) cmocka_unit_test_setup_teardown(f, s, it_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_send_and_sendprivate_reply),
		T(test_inbox_shape),
		T(test_inbox_order_and_senders),
		T(test_two_users_separate_connections),
		T(test_inbox_drains_only_own_queue),
		T(test_send_to_unknown_user),
		T(test_text_spacing_kept_inside),
		TS(test_message_too_large, setup_small_messages),
		T(test_large_message_round_trip),
		TS(test_inbox_quota, setup_quota),
		TS(test_message_table_full, setup_small_store),
		TS(test_quota_exact_under_concurrency, setup_quota_50),
		TS(test_concurrent_drain_delivers_once, setup_batch),
		TS(test_inbox_kept_if_reply_undelivered, setup_big_messages),
		TS(test_inbox_batch_and_more, setup_batch),
		TS(test_inbox_batch_counts_all_senders, setup_batch),
		T(test_nasty_text_round_trip),
		T(test_invalid_utf8_replaced),
		T(test_invalid_utf8_anywhere_gives_valid_reply),
		T(test_nul_in_message_is_bad_args),
		T(test_unknown_command),
		T(test_missing_arguments),
		T(test_empty_lines_get_no_reply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
