/*
 * NAME
 *	unit_chan - the channel between realmd and its askers (lib/chan.c):
 *	framing, the direction of each type, and the fields it needs
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

#include "lib/chan.h"

/* put_text - append a message whose body is the C string text */
static void
put_text(struct buf *b, enum chan_type type, uint64_t req, const char *text)
{
	assert_int_equal(chan_put(b, type, req, text, strlen(text)), 0);
}

/* assert_refused - text as a message of type, read at end at, is refused */
static void
assert_refused(enum chan_type type, enum chan_end at, const char *text,
    const char *want_why)
{
	struct buf b = { 0 };
	struct chan_msg m;
	const char *why = NULL;

	put_text(&b, type, 1, text);
	assert_int_equal(chan_take(&b, at, &m, &why), -1);
	assert_non_null(why);
	assert_string_equal(why, want_why);
	assert_null(m.json);
	assert_null(m.body);
	buf_free(&b);
}

static void
test_framing(void **state)
{
	struct buf b = { 0 }, part = { 0 };
	struct chan_msg m;
	const char *why;

	(void)state;
	put_text(&b, CHAN_SEND, 7, "{\"realm\":1,\"id\":9,\"wait\":true}");
	put_text(&b, CHAN_PING, 8, "{\"realm\":2}");
	/* a partial message is not taken, and nothing is consumed */
	buf_append(&part, buf_head(&b), sizeof(struct chan_hdr) + 3);
	assert_int_equal(chan_take(&part, CHAN_AT_REALMD, &m, &why), 0);
	assert_int_equal(buf_used(&part), sizeof(struct chan_hdr) + 3);
	buf_free(&part);

	assert_int_equal(chan_take(&b, CHAN_AT_REALMD, &m, &why), 1);
	assert_int_equal(m.h.type, CHAN_SEND);
	assert_int_equal(m.h.req, 7);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(m.json, "wait")));
	assert_int_equal(cJSON_GetObjectItem(m.json, "id")->valuedouble, 9);
	chan_msg_free(&m);
	assert_int_equal(chan_take(&b, CHAN_AT_REALMD, &m, &why), 1);
	assert_int_equal(m.h.type, CHAN_PING);
	assert_int_equal(m.h.req, 8);
	chan_msg_free(&m);
	assert_int_equal(chan_take(&b, CHAN_AT_REALMD, &m, &why), 0);
	assert_int_equal(buf_used(&b), 0);
	buf_free(&b);
}

/* a handoff's body is bytes, not JSON: taken as they are, NUL after */
static void
test_handoff(void **state)
{
	static const char bytes[] = "realmlink {\"v\":2}\n\x16\x03\x01";
	struct buf b = { 0 };
	struct chan_msg m;
	const char *why;

	(void)state;
	assert_int_equal(chan_put(&b, CHAN_HANDOFF, 0, bytes, sizeof(bytes) - 1),
	    0);
	assert_int_equal(chan_take(&b, CHAN_AT_REALMD, &m, &why), 1);
	assert_int_equal(m.h.len, sizeof(bytes) - 1);
	assert_memory_equal(m.body, bytes, sizeof(bytes) - 1);
	assert_int_equal(m.body[m.h.len], '\0');
	assert_null(m.json);
	chan_msg_free(&m);
	/* an empty one too */
	assert_int_equal(chan_put(&b, CHAN_HANDOFF, 0, NULL, 0), 0);
	assert_int_equal(chan_take(&b, CHAN_AT_REALMD, &m, &why), 1);
	assert_int_equal(m.h.len, 0);
	chan_msg_free(&m);
	buf_free(&b);
}

/* every message an asker sends today passes; a result reaches the asker */
static void
test_senders_pass(void **state)
{
	static const struct { enum chan_type type; const char *text; } ok[] = {
		{ CHAN_SEND, "{\"realm\":3,\"id\":12,\"wait\":false}" },
		{ CHAN_ADDREALM, "{\"id\":\"b\",\"host\":\"127.0.0.1\","
		    "\"port\":7000}" },
		{ CHAN_PING, "{\"realm\":1}" },
		{ CHAN_JOIN, "{\"from\":\"a\",\"from_name\":\"A\",\"group\":\"g\","
		    "\"password\":\"\",\"realm\":1}" },
		{ CHAN_HISTORY, "{\"from\":\"a\",\"from_name\":\"A\","
		    "\"group\":\"g\",\"member\":\"yes\",\"realm\":1}" },
	};
	struct buf b = { 0 };
	struct chan_msg m;
	const char *why;
	cJSON *o;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		put_text(&b, ok[i].type, i + 1, ok[i].text);
		assert_int_equal(chan_take(&b, CHAN_AT_REALMD, &m, &why), 1);
		assert_int_equal(m.h.type, ok[i].type);
		assert_int_equal(m.h.req, i + 1);
		chan_msg_free(&m);
	}
	/* chan_put_json: a result, with the fields of a reply beside ok */
	o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "ok", false);
	cJSON_AddNumberToObject(o, "code", 5);	/* a peer's: any JSON */
	assert_int_equal(chan_put_json(&b, CHAN_RESULT, 42, o), 0);
	assert_int_equal(chan_take(&b, CHAN_AT_ASKER, &m, &why), 1);
	assert_int_equal(m.h.req, 42);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(m.json, "ok")));
	chan_msg_free(&m);
	buf_free(&b);
}

/* a message meant for the other end breaks the channel */
static void
test_direction(void **state)
{
	(void)state;
	assert_refused(CHAN_RESULT, CHAN_AT_REALMD, "{\"ok\":true}",
	    "a message meant for the other end");
	assert_refused(CHAN_SEND, CHAN_AT_ASKER,
	    "{\"realm\":1,\"id\":1,\"wait\":true}",
	    "a message meant for the other end");
	assert_refused(CHAN_HANDOFF, CHAN_AT_ASKER, "x",
	    "a message meant for the other end");
}

/* the table: each type's fields, with their JSON types */
static void
test_fields(void **state)
{
	static const char *lacks = "a message without a field its type needs";

	(void)state;
	assert_refused(CHAN_SEND, CHAN_AT_REALMD, "{\"realm\":1,\"id\":1}",
	    lacks);
	assert_refused(CHAN_SEND, CHAN_AT_REALMD,
	    "{\"realm\":1,\"id\":1,\"wait\":1}", lacks);
	assert_refused(CHAN_SEND, CHAN_AT_REALMD,
	    "{\"realm\":\"1\",\"id\":1,\"wait\":true}", lacks);
	assert_refused(CHAN_SEND, CHAN_AT_REALMD,
	    "{\"realm\":1.5,\"id\":1,\"wait\":true}", lacks);
	assert_refused(CHAN_SEND, CHAN_AT_REALMD,
	    "{\"realm\":-1,\"id\":1,\"wait\":true}", lacks);
	assert_refused(CHAN_ADDREALM, CHAN_AT_REALMD,
	    "{\"id\":\"b\",\"host\":\"h\",\"port\":\"7000\"}", lacks);
	assert_refused(CHAN_ADDREALM, CHAN_AT_REALMD,
	    "{\"id\":\"b\",\"port\":7000}", lacks);
	assert_refused(CHAN_PING, CHAN_AT_REALMD, "{}", lacks);
	assert_refused(CHAN_JOIN, CHAN_AT_REALMD, "{\"realm\":1,\"from\":\"a\","
	    "\"from_name\":\"A\",\"group\":\"g\"}", lacks);
	assert_refused(CHAN_HISTORY, CHAN_AT_REALMD, "{\"realm\":1,"
	    "\"from\":\"a\",\"from_name\":null,\"group\":\"g\"}", lacks);
	assert_refused(CHAN_RESULT, CHAN_AT_ASKER, "{\"code\":\"X\"}", lacks);
	assert_refused(CHAN_RESULT, CHAN_AT_ASKER, "{\"ok\":\"yes\"}", lacks);
	/* a body must be one JSON object */
	assert_refused(CHAN_RESULT, CHAN_AT_ASKER, "[true]",
	    "a body that is not a JSON object");
	assert_refused(CHAN_PING, CHAN_AT_REALMD, "{\"realm\":1",
	    "a body that is not a JSON object");
	assert_refused(CHAN_PING, CHAN_AT_REALMD, "",
	    "a body that is not a JSON object");
}

/* a bad type or length breaks the channel before the body is waited for */
static void
test_bad_header(void **state)
{
	struct chan_hdr bad = { .type = 99, .len = 1 }, zero = { 0 };
	struct buf b = { 0 };
	struct chan_msg m;
	const char *why;

	(void)state;
	buf_append(&b, &bad, sizeof(bad));
	assert_int_equal(chan_take(&b, CHAN_AT_REALMD, &m, &why), -1);
	assert_int_equal(errno, EPROTO);
	buf_free(&b);
	bad.type = CHAN_TYPES;
	buf_append(&b, &bad, sizeof(bad));
	assert_int_equal(chan_take(&b, CHAN_AT_REALMD, &m, &why), -1);
	buf_free(&b);
	bad.type = CHAN_SEND;
	bad.len = CHAN_MAX + 1;
	buf_append(&b, &bad, sizeof(bad));
	assert_int_equal(chan_take(&b, CHAN_AT_REALMD, &m, &why), -1);
	buf_free(&b);
	/* type 0 is no message */
	buf_append(&b, &zero, sizeof(zero));
	assert_int_equal(chan_take(&b, CHAN_AT_ASKER, &m, &why), -1);
	assert_null(m.body);
	buf_free(&b);
	/* and nothing that large is put */
	assert_int_equal(chan_put(&b, CHAN_SEND, 1, "x", (size_t)CHAN_MAX + 1),
	    -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(buf_used(&b), 0);
	buf_free(&b);
}

/* the accessors read what the table promised */
static void
test_accessors(void **state)
{
	struct buf b = { 0 };
	struct chan_msg m;
	const char *why;

	(void)state;
	put_text(&b, CHAN_ADDREALM, 1, "{\"id\":\"b\",\"host\":\"h\","
	    "\"port\":7000}");
	assert_int_equal(chan_take(&b, CHAN_AT_REALMD, &m, &why), 1);
	assert_string_equal(chan_str(m.json, "id"), "b");
	assert_string_equal(chan_str(m.json, "host"), "h");
	assert_int_equal(chan_uint(m.json, "port"), 7000);
	/* what the type does not promise may be missing */
	assert_null(chan_str(m.json, "peer"));
	assert_int_equal(chan_uint(m.json, "realm"), 0);
	assert_false(chan_bool(m.json, "wait"));
	chan_msg_free(&m);
	put_text(&b, CHAN_SEND, 2, "{\"realm\":4,\"id\":9007199254740992,"
	    "\"wait\":true}");
	assert_int_equal(chan_take(&b, CHAN_AT_REALMD, &m, &why), 1);
	assert_int_equal(chan_uint(m.json, "realm"), 4);
	assert_int_equal(chan_uint(m.json, "id"), 9007199254740992ull);
	assert_true(chan_bool(m.json, "wait"));
	chan_msg_free(&m);
	buf_free(&b);
}

static void
test_socket_path(void **state)
{
	struct config cf;
	char path[64];

	(void)state;
	memset(&cf, 0, sizeof(cf));
	snprintf(cf.state_dir, sizeof(cf.state_dir), "/var/lib/rc");
	assert_int_equal(chan_socket_path(&cf, path, sizeof(path)), 0);
	assert_string_equal(path, "/var/lib/rc/realmd.sock");
	assert_int_equal(chan_socket_path(&cf, path, 10), -1);
	/* too long for a socket's address: said so, nothing opened */
	memset(cf.state_dir, 'd', sizeof(cf.state_dir) - 1);
	cf.state_dir[sizeof(cf.state_dir) - 1] = '\0';
	errno = 0;
	assert_int_equal(chan_connect(&cf), -1);
	assert_int_equal(errno, ENAMETOOLONG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_handoff),
		cmocka_unit_test(test_senders_pass),
		cmocka_unit_test(test_direction),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_bad_header),
		cmocka_unit_test(test_accessors),
		cmocka_unit_test(test_socket_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
