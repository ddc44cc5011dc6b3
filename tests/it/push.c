/*
 * NAME
 *	it_push - watch: messages pushed to a watching connection
 * DESCRIPTION
 *	Each test gets its own daemon (two workers; two linked realms for
 *	the realm test).  Covers what waits being pushed when watch starts
 *	and what comes later, the shape of a push, a sender on the other
 *	worker, a message from a linked realm, a file, two watchers of one
 *	user (each message to one of them, once), a watcher that stops
 *	reading (the rest stays queued: nothing lost, nothing twice), watch
 *	on a connection that pipelines other requests (replies in order,
 *	pushes whole and between them), watch off, the token form, and a
 *	watch that ends with its session.
 */
#include "harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET	"push-secret"
#define MAXIDS	4096

/* A set of message ids, each counted. */
struct ids {
	long	 id[MAXIDS];
	int	 times[MAXIDS];
	int	 n;
};

/* ids_add - count id once more; the number of times seen */
static int ids_add(struct ids *s, long id)
{
	for (int i = 0; i < s->n; i++)
		if (s->id[i] == id)
			return ++s->times[i];
	assert_true(s->n < MAXIDS);
	s->id[s->n] = id;
	s->times[s->n++] = 1;
	return 1;
}

static long num_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	assert_true(cJSON_IsNumber(v));
	return (long)v->valuedouble;
}

/* sent_id - send, assert OK, the message's id */
static long sent_id(struct client *c, const char *to, const char *text)
{
	cJSON *r = client_cmd(c, "send %s %s", to, text);
	long id;

	assert_reply_ok(r);
	id = num_of(r, "id");
	cJSON_Delete(r);
	return id;
}

/* cmd_ok - a command whose reply must be OK, and nothing more */
__attribute__((format(printf, 2, 3)))
static void cmd_ok(struct client *c, const char *fmt, ...)
{
	char *line;
	va_list ap;
	cJSON *r;

	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		abort();
	va_end(ap);
	r = client_cmd(c, "%s", line);
	free(line);
	assert_reply_ok(r);
	cJSON_Delete(r);
}

/* start_watch - "watch" on c, assert its reply */
static void start_watch(struct client *c, const char *user)
{
	cJSON *r = client_cmd(c, "watch");

	assert_reply_ok(r);
	assert_reply_message(r, "Watching");
	assert_string_equal(json_string(r, "username"), user);
	cJSON_Delete(r);
}

/* watcher - a new connection logged in as user, watching */
static struct client *watcher(struct daemon *d, const char *user)
{
	struct client *c = client_login(d, user);

	start_watch(c, user);
	return c;
}

/* take_pushes - read pushes from c into got until it has had want */
static int take_pushes(struct client *c, struct ids *got, int pushes,
    int want)
{
	while (pushes < want) {
		cJSON *e = client_event(c);

		assert_int_equal(ids_add(got, num_of(e, "id")), 1);
		pushes++;
		cJSON_Delete(e);
	}
	return pushes;
}

/* inbox_ids - drain c's inbox into s (every sender); entries read */
static int inbox_ids(struct client *c, struct ids *s)
{
	int total = 0;

	for (int round = 0; round < 100; round++) {
		cJSON *r = client_cmd(c, "inbox"), *a, *e;
		bool more;

		assert_reply_ok(r);
		cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(r,
		    "messages"))
			cJSON_ArrayForEach(e, a) {
				ids_add(s, num_of(e, "id"));
				total++;
			}
		more = inbox_more(r);
		cJSON_Delete(r);
		if (!more)
			break;
	}
	return total;
}

/* worker_of - the pid of the worker serving c (debug_hooks = yes) */
static long worker_of(struct client *c)
{
	cJSON *r = client_cmd(c, "debuglocksleep 1");
	long pid;

	assert_reply_ok(r);
	pid = num_of(r, "pid");
	cJSON_Delete(r);
	return pid;
}

static int setup_debug(void **state)
{
	it_at(NULL, 0);
	*state = daemon_start("debug_hooks = yes\n");
	return 0;
}

/* ---------------------------------------------------------------- */

/* What waits is pushed at watch, what comes later as it is stored. */
static void test_watch_pushes_waiting_then_new(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	long first = sent_id(m, "henderson", "waiting one");
	long second = sent_id(m, "henderson", "waiting two");
	cJSON *e, *r;
	long third, when;

	start_watch(h, "henderson");
	e = client_event(h);
	assert_string_equal(cJSON_GetArrayItem(e, 0)->string, "event");
	assert_int_equal(num_of(e, "id"), first);
	assert_string_equal(json_string(e, "msg"), "waiting one");
	assert_string_equal(json_string(e, "from"), "messi");
	assert_string_equal(json_string(e, "msg_from"), "Lionel Messi");
	assert_string_equal(json_string(e, "msg_to"), "Jordan Henderson");
	assert_true(iso8601_utc(json_string(e, "time"), &when));
	cJSON_Delete(e);
	e = client_event(h);
	assert_int_equal(num_of(e, "id"), second);
	cJSON_Delete(e);

	third = sent_id(m, "henderson", "later   with  spaces");
	e = client_event(h);
	assert_int_equal(num_of(e, "id"), third);
	assert_string_equal(json_string(e, "msg"), "later   with  spaces");
	cJSON_Delete(e);

	/* pushed means gone from the queue; the connection still answers */
	r = client_cmd(h, "inbox");
	assert_reply_ok(r);
	assert_int_equal(inbox_count(r), 0);
	cJSON_Delete(r);
	client_expect_silence(h, 200);
	client_close(m);
	client_close(h);
}

/* A sender on the other worker wakes the watcher's worker. */
static void test_push_across_workers(void **state)
{
	struct client *h = client_login(*state, "henderson"), *m = NULL;
	long hw = worker_of(h);
	struct ids got = { .n = 0 };

	for (int i = 0; i < 40 && m == NULL; i++) {
		struct client *c = client_login(*state, "messi");

		if (worker_of(c) != hw)
			m = c;
		else
			client_close(c);
	}
	if (m == NULL)
		fail_msg("no connection landed on the other worker in 40");
	start_watch(h, "henderson");
	for (int i = 0; i < 50; i++) {
		char text[32];
		long id;
		cJSON *e;

		snprintf(text, sizeof(text), "across %d", i);
		id = sent_id(m, "henderson", text);
		e = client_event(h);
		assert_int_equal(num_of(e, "id"), id);
		assert_string_equal(json_string(e, "msg"), text);
		assert_int_equal(ids_add(&got, id), 1);
		cJSON_Delete(e);
	}
	client_close(m);
	client_close(h);
}

/* A group copy and a file come as pushes; the file with its body. */
static void test_push_group_and_file(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	const char body[] = "push me\x01\xff bytes";
	char *enc = b64((const unsigned char *)body, sizeof(body) - 1);
	unsigned char back[64];
	cJSON *e;

	cmd_ok(m, "addgroup crew");
	cmd_ok(h, "joingroup crew");
	start_watch(h, "henderson");

	cmd_ok(m, "sendgroup crew hello crew");
	e = client_event(h);
	assert_string_equal(json_string(e, "msg"), "hello crew");
	assert_string_equal(json_string(e, "group"), "crew");
	cJSON_Delete(e);

	cmd_ok(m, "sendfile henderson notes.bin b'%s'", enc);
	e = client_event(h);
	assert_string_equal(json_string(e, "file_name"), "notes.bin");
	assert_int_equal(num_of(e, "file_size"), sizeof(body) - 1);
	assert_int_equal(unb64(json_string(e, "file_content"), back),
	    sizeof(body) - 1);
	assert_memory_equal(back, body, sizeof(body) - 1);
	cJSON_Delete(e);
	free(enc);
	client_close(m);
	client_close(h);
}

/* wait_up - within 10 s an ackrealm round trip over link id works */
static void wait_up(struct client *c, const char *id)
{
	double end = now_s() + 10.0;

	for (;;) {
		cJSON *r = client_cmd(c, "ackrealm %s", id);
		bool ok = strcmp(json_string(r, "status"), "OK") == 0;

		cJSON_Delete(r);
		if (ok)
			return;
		if (now_s() > end)
			fail_msg("link %s not up within 10 s", id);
		sleep_ms(50);
	}
}

/* A message that arrives over a link is pushed, with "realm". */
static void test_push_from_realm(void **state)
{
	struct daemon *d[2];
	struct client *am, *bh;
	cJSON *r, *e;
	const char *name[2] = { "alpha", "beta" };

	(void)state;
	for (int i = 0; i < 2; i++) {
		d[i] = realm_start(name[i], SECRET, NULL);
		realm_wait_serving(d[i], name[i]);
	}
	am = client_login(d[0], "messi");
	bh = client_login(d[1], "henderson");
	cmd_ok(am, "addrealm beta 127.0.0.1 %d", daemon_port(d[1]));
	wait_up(am, "beta");
	wait_up(bh, "alpha");
	start_watch(bh, "henderson");

	cmd_ok(am, "sendrealm beta henderson over the link");
	e = client_event(bh);
	assert_string_equal(json_string(e, "msg"), "over the link");
	assert_string_equal(json_string(e, "realm"), "alpha");
	assert_string_equal(json_string(e, "from"), "messi");
	cJSON_Delete(e);
	r = client_cmd(bh, "inboxrealm alpha");
	assert_reply_ok(r);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r,
	    "messages")), 0);
	cJSON_Delete(r);
	client_close(am);
	client_close(bh);
	for (int i = 0; i < 2; i++) {
		daemon_stop(d[i]);
		daemon_destroy(d[i]);
	}
}

/* Two watchers of one user: every message reaches one of them, once. */
static void test_two_watchers_each_once(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *w[2] = { watcher(*state, "henderson"),
	    watcher(*state, "henderson") };
	struct ids sent = { .n = 0 }, got = { .n = 0 };
	int per[2] = { 0, 0 }, total = 0;
	cJSON *r;

	for (int i = 0; i < 200; i++) {
		char line[64];

		snprintf(line, sizeof(line), "send henderson twice %d\r\n", i);
		client_write(m, line, strlen(line));
	}
	for (int i = 0; i < 200; i++) {
		r = client_reply(m);
		assert_reply_ok(r);
		ids_add(&sent, num_of(r, "id"));
		cJSON_Delete(r);
	}
	for (double end = now_s() + 20.0; total < 200; ) {
		for (int k = 0; k < 2; k++) {
			cJSON *o;

			if (client_try_object(w[k], 50, &o) != 0)
				continue;
			assert_int_equal(ids_add(&got, num_of(o, "id")), 1);
			per[k]++;
			total++;
			cJSON_Delete(o);
		}
		if (now_s() > end)
			fail_msg("%d of 200 pushed within 20 s", total);
	}
	assert_int_equal(got.n, 200);
	for (int i = 0; i < sent.n; i++)
		assert_int_equal(ids_add(&got, sent.id[i]), 2);
	for (int k = 0; k < 2; k++)
		client_expect_silence(w[k], 200);
	print_message("# pushes per watcher: %d and %d\n", per[0], per[1]);
	client_close(m);
	client_close(w[0]);
	client_close(w[1]);
}

/*
 * A watcher that stops reading: its sends pile up in its socket and one
 * batch waits in the server; the rest stays queued for inbox.  Then it
 * reads everything: each message arrived once, by push or by inbox.
 */
static void test_watcher_stops_reading(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *w = watcher(*state, "henderson");
	struct client *h = client_login(*state, "henderson");
	struct ids sent = { .n = 0 }, got = { .n = 0 };
	int pushed = 0, drained, n = 1000;
	char *text = malloc(16001);
	cJSON *o;

	memset(text, 'x', 16000);
	text[16000] = '\0';
	for (int i = 0; i < n; i++) {
		snprintf(text, 16, "big%05d", i);
		text[8] = 'x';
		ids_add(&sent, sent_id(m, "henderson", text));
	}
	sleep_ms(300);
	drained = inbox_ids(h, &got);
	print_message("# queued for inbox while the watcher did not read: "
	    "%d of %d\n", drained, n);
	assert_true(drained > 0);
	assert_true(drained < n);
	while (client_try_object(w, 1000, &o) == 0) {
		assert_string_equal(json_string(o, "event"), "message");
		assert_int_equal(ids_add(&got, num_of(o, "id")), 1);
		pushed++;
		cJSON_Delete(o);
	}
	drained += inbox_ids(h, &got);
	print_message("# then pushed %d, inbox %d\n", pushed, drained);
	assert_int_equal(pushed + drained, n);
	assert_int_equal(got.n, n);
	for (int i = 0; i < n; i++)
		assert_int_equal(ids_add(&got, sent.id[i]), 2);
	free(text);
	client_close(m);
	client_close(w);
	client_close(h);
}

/*
 * read_until_replies - read objects from c until want replies came:
 * replies go to reply[], pushes are counted into s
 */
static int read_until_replies(struct client *c, cJSON **reply, int want,
    struct ids *s)
{
	int got = 0, pushes = 0;

	while (got < want) {
		cJSON *o = client_object(c);

		if (cJSON_GetObjectItemCaseSensitive(o, "status") != NULL) {
			reply[got++] = o;
			continue;
		}
		assert_string_equal(json_string(o, "event"), "message");
		assert_int_equal(ids_add(s, num_of(o, "id")), 1);
		pushes++;
		cJSON_Delete(o);
	}
	return pushes;
}

/* add_entries - the ids of an inbox reply into s, each new; how many */
static int add_entries(const cJSON *r, struct ids *s)
{
	const cJSON *a, *e;
	int n = 0;

	assert_reply_ok(r);
	cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(r, "messages"))
		cJSON_ArrayForEach(e, a) {
			assert_int_equal(ids_add(s, num_of(e, "id")), 1);
			n++;
		}
	return n;
}

/* Watch on a connection that pipelines: replies in order, pushes whole. */
static void test_watch_pipelined(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	struct ids got = { .n = 0 };
	cJSON *reply[64];
	char lines[4096];
	int pushes, o = 0;

	for (int i = 0; i < 5; i++)
		sent_id(m, "henderson", "before");
	client_send(h, "whoami\r\nwatch\r\nwhoami\r\nsend messi x\r\n"
	    "inbox\r\nwhoami\r\n");
	pushes = read_until_replies(h, reply, 6, &got);
	assert_string_equal(json_string(reply[0], "username"), "henderson");
	assert_reply_message(reply[1], "Watching");
	assert_string_equal(json_string(reply[2], "username"), "henderson");
	assert_reply_message(reply[3], "Message Sent");
	/* the inbox may drain what watch has not pushed yet: once, either way */
	pushes += add_entries(reply[4], &got);
	assert_string_equal(json_string(reply[5], "username"), "henderson");
	for (int i = 0; i < 6; i++)
		cJSON_Delete(reply[i]);
	pushes = take_pushes(h, &got, pushes, 5);

	/* messages arrive while the watcher pipelines 40 requests */
	for (int i = 0; i < 40; i++)
		o += snprintf(lines + o, sizeof(lines) - (size_t)o,
		    i % 2 ? "whoami\r\n" : "listgroups\r\n");
	client_write(h, lines, (size_t)o / 2);	/* both halves end a line */
	for (int i = 0; i < 10; i++)
		sent_id(m, "henderson", "during");
	client_write(h, lines + o / 2, (size_t)(o - o / 2));
	pushes += read_until_replies(h, reply, 40, &got);
	for (int i = 0; i < 40; i++) {
		if (i % 2)
			assert_string_equal(json_string(reply[i], "username"),
			    "henderson");
		else
			assert_non_null(cJSON_GetObjectItemCaseSensitive(
			    reply[i], "groups"));
		cJSON_Delete(reply[i]);
	}
	pushes = take_pushes(h, &got, pushes, 15);
	assert_int_equal(got.n, 15);
	client_expect_silence(h, 200);
	client_close(m);
	client_close(h);
}

/* watch off: nothing more is pushed; messages wait for inbox again. */
static void test_watch_off(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	cJSON *r;
	long id;

	r = client_cmd(h, "watch off");
	assert_reply_message(r, "Not watching");
	cJSON_Delete(r);
	start_watch(h, "henderson");
	r = client_cmd(h, "watch sometimes");
	assert_reply_error(r, "BAD_ARGS");
	cJSON_Delete(r);
	r = client_cmd(h, "watch off");
	assert_reply_ok(r);
	assert_reply_message(r, "Watch stopped");
	cJSON_Delete(r);
	id = sent_id(m, "henderson", "not pushed");
	client_expect_silence(h, 300);
	r = client_cmd(h, "inbox");
	assert_int_equal(inbox_count(r), 1);
	assert_int_equal(num_of(cJSON_GetArrayItem(inbox_from(r, "messi"), 0),
	    "id"), id);
	cJSON_Delete(r);
	client_close(m);
	client_close(h);
}

/* watch <token> from a connection without a session; it ends with it. */
static void test_watch_token_and_session_end(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	struct client *w = client_connect(*state);
	char tok[64];
	cJSON *r, *e;

	r = client_cmd(w, "watch");
	assert_reply_error(r, "NO_SESSION");
	cJSON_Delete(r);
	snprintf(tok, sizeof(tok), "%s", client_auth(h, "henderson",
	    SEED_PASSWORD));
	r = client_cmd(w, "watch %s", tok);
	assert_reply_ok(r);
	assert_string_equal(json_string(r, "username"), "henderson");
	cJSON_Delete(r);
	sent_id(m, "henderson", "by token");
	e = client_event(w);
	assert_string_equal(json_string(e, "msg"), "by token");
	cJSON_Delete(e);

	cmd_ok(h, "logout");
	sent_id(m, "henderson", "after logout");
	client_expect_silence(w, 300);
	client_auth(h, "henderson", SEED_PASSWORD);
	r = client_cmd(h, "inbox");
	assert_int_equal(inbox_count(r), 1);
	cJSON_Delete(r);
	client_close(m);
	client_close(h);
	client_close(w);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, it_setup, it_teardown)
	const struct CMUnitTest tests[] = {
		T(test_watch_pushes_waiting_then_new),
		cmocka_unit_test_setup_teardown(test_push_across_workers,
		    setup_debug, it_teardown),
		T(test_push_group_and_file),
		cmocka_unit_test(test_push_from_realm),
		T(test_two_watchers_each_once),
		T(test_watcher_stops_reading),
		T(test_watch_pipelined),
		T(test_watch_off),
		T(test_watch_token_and_session_end),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
