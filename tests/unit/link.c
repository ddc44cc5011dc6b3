/*
 * NAME
 *	unit_link - the realm link frame parser and handshake proofs
 *	(lib/link.c)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/link.h"

/* parse - link_parse of a C string; the frame's json is freed by the caller */
static int
parse(const char *line, struct link_frame *f, const char **why)
{
	*why = NULL;
	return link_parse(line, strlen(line), f, why);
}

/* assert_refused - the line is not a frame, for the reason want_why */
static void
assert_refused(const char *line, const char *want_why)
{
	struct link_frame f;
	const char *why;

	assert_int_equal(parse(line, &f, &why), -1);
	assert_non_null(why);
	assert_string_equal(why, want_why);
	assert_null(f.json);
}

static void
test_message_frames(void **state)
{
	struct link_frame f;
	const char *why;

	(void)state;
	assert_int_equal(parse("{\"t\":\"msg\",\"id\":41,\"seq\":1,\"kind\":\"private\","
	    "\"from\":\"messi\",\"from_name\":\"Lionel Messi\",\"to\":\"henderson\","
	    "\"time\":1796000000,\"text\":\"hello\"}", &f, &why), 0);
	assert_int_equal(f.type, LT_MSG);
	assert_int_equal(f.id, 41);
	assert_string_equal(link_str(f.json, "text"), "hello");
	link_frame_free(&f);

	assert_int_equal(parse("{\"t\":\"msg\",\"id\":44,\"seq\":1,\"kind\":\"group\","
	    "\"from\":\"messi\",\"from_name\":\"M\",\"to\":\"football\",\"time\":1,"
	    "\"file\":{\"name\":\"a.txt\",\"size\":5,\"content\":\"aGVsbG8=\"}}",
	    &f, &why), 0);
	assert_int_equal(f.type, LT_MSG);
	assert_int_equal(f.id, 44);
	link_frame_free(&f);

	assert_int_equal(parse("{\"t\":\"verdict\",\"id\":45,\"ok\":false,"
	    "\"code\":\"NO_USER\",\"message\":\"User Tidak Ditemukan\"}", &f,
	    &why), 0);
	assert_int_equal(f.type, LT_VERDICT);
	assert_int_equal(f.id, 45);
	assert_false(f.ok);
	link_frame_free(&f);
}

static void
test_round_trip_frames(void **state)
{
	struct link_frame f;
	const char *why;

	(void)state;
	assert_int_equal(parse("{\"t\":\"ping\",\"q\":3}", &f, &why), 0);
	assert_int_equal(f.type, LT_PING);
	assert_int_equal(f.q, 3);
	link_frame_free(&f);
	assert_int_equal(parse("{\"t\":\"ping\",\"q\":4} \r", &f, &why), 0);
	assert_int_equal(f.q, 4);
	link_frame_free(&f);
	assert_int_equal(parse("{\"t\":\"reply\",\"q\":3,\"ok\":true}", &f, &why), 0);
	assert_int_equal(f.type, LT_REPLY);
	assert_true(f.ok);
	link_frame_free(&f);
	assert_int_equal(parse("{\"t\":\"join\",\"q\":4,\"from\":\"messi\","
	    "\"from_name\":\"M\",\"group\":\"g\"}", &f, &why), 0);
	assert_int_equal(f.type, LT_JOIN);
	link_frame_free(&f);
}

static void
test_malformed_frames(void **state)
{
	(void)state;
	assert_refused("", "not a JSON object");
	assert_refused("[1,2]", "not a JSON object");
	assert_refused("{\"t\":\"msg\"", "not a JSON object");
	assert_refused("{\"t\":\"ping\",\"q\":1} junk", "not a JSON object");
	assert_refused("{\"t\":\"ping\",\"q\":1}{\"t\":\"ping\",\"q\":2}",
	    "not a JSON object");
	assert_refused("{\"id\":1}", "frame without type");
	assert_refused("{\"t\":7}", "frame without type");
	assert_refused("{\"t\":\"launch\"}", "unknown frame type");
	assert_refused("{\"t\":\"msg\",\"id\":1,\"seq\":1,\"kind\":\"private\",\"from\":\"a\","
	    "\"from_name\":\"A\",\"time\":1,\"text\":\"x\"}", "frame lacks a field");
	assert_refused("{\"t\":\"msg\",\"id\":0,\"seq\":1,\"kind\":\"private\",\"from\":\"a\","
	    "\"from_name\":\"A\",\"to\":\"b\",\"time\":1,\"text\":\"x\"}",
	    "message without id");
	/* a link's sequence numbers are 1 .. 2^32-1 */
	assert_refused("{\"t\":\"msg\",\"id\":1,\"kind\":\"private\",\"from\":\"a\","
	    "\"from_name\":\"A\",\"to\":\"b\",\"time\":1,\"text\":\"x\"}",
	    "message without seq");
	assert_refused("{\"t\":\"msg\",\"id\":1,\"seq\":0,\"kind\":\"private\",\"from\":\"a\","
	    "\"from_name\":\"A\",\"to\":\"b\",\"time\":1,\"text\":\"x\"}",
	    "message without seq");
	assert_refused("{\"t\":\"msg\",\"id\":1,\"seq\":4294967296,\"kind\":\"private\","
	    "\"from\":\"a\",\"from_name\":\"A\",\"to\":\"b\",\"time\":1,\"text\":\"x\"}",
	    "message without seq");
	assert_refused("{\"t\":\"msg\",\"id\":-3,\"kind\":\"private\",\"from\":\"a\","
	    "\"from_name\":\"A\",\"to\":\"b\",\"time\":1,\"text\":\"x\"}",
	    "message without id");
	assert_refused("{\"t\":\"msg\",\"id\":1.5,\"kind\":\"private\",\"from\":\"a\","
	    "\"from_name\":\"A\",\"to\":\"b\",\"time\":1,\"text\":\"x\"}",
	    "message without id");
	assert_refused("{\"t\":\"msg\",\"id\":1,\"seq\":1,\"kind\":\"broadcast\",\"from\":\"a\","
	    "\"from_name\":\"A\",\"to\":\"b\",\"time\":1,\"text\":\"x\"}",
	    "unknown message kind");
	assert_refused("{\"t\":\"msg\",\"id\":1,\"seq\":1,\"kind\":\"private\",\"from\":\"a\","
	    "\"from_name\":\"A\",\"to\":\"b\",\"time\":1}",
	    "a message has either text or a file");
	assert_refused("{\"t\":\"msg\",\"id\":1,\"seq\":1,\"kind\":\"private\",\"from\":\"a\","
	    "\"from_name\":\"A\",\"to\":\"b\",\"time\":1,\"text\":\"x\","
	    "\"file\":{\"name\":\"n\",\"size\":1,\"content\":\"eA==\"}}",
	    "a message has either text or a file");
	assert_refused("{\"t\":\"msg\",\"id\":1,\"seq\":1,\"kind\":\"private\",\"from\":\"a\","
	    "\"from_name\":\"A\",\"to\":\"b\",\"time\":1,\"file\":{\"name\":\"n\"}}",
	    "bad file in message");
	assert_refused("{\"t\":\"verdict\",\"id\":1}", "bad verdict");
	assert_refused("{\"t\":\"verdict\",\"id\":1,\"ok\":\"yes\"}", "bad verdict");
	assert_refused("{\"t\":\"ping\"}", "request without q");
	assert_refused("{\"t\":\"reply\",\"q\":1}", "bad reply");
}

static void
test_hello(void **state)
{
	const char *ok = "realmlink {\"v\":2,\"realm\":\"alpha\","
	    "\"nonce\":\"00112233445566778899aabbccddeeff\",\"inst\":\"0123456789abcdef\"}";
	const char *v2 = "realmlink {\"v\":1,\"realm\":\"alpha\",\"nonce\":\"00\","
	    "\"inst\":\"01\"}";
	const char *why;
	cJSON *h;

	(void)state;
	assert_int_equal(link_hello_parse(ok, strlen(ok), &h, &why), 0);
	assert_string_equal(link_str(h, "realm"), "alpha");
	cJSON_Delete(h);
	assert_int_equal(link_hello_parse(v2, strlen(v2), &h, &why), -1);
	assert_string_equal(why, "unsupported link version");
	assert_null(h);
	assert_int_equal(link_hello_parse("auth a b", 8, &h, &why), -1);
	assert_string_equal(why, "not a realm handshake");
	assert_int_equal(link_hello_parse("realmlink {}", 12, &h, &why), -1);
	assert_string_equal(why, "bad realm handshake");
	assert_int_equal(link_hello_parse("realmlinkx {}", 13, &h, &why), -1);
	assert_string_equal(why, "not a realm handshake");
	{
		char *junk;

		assert_true(asprintf(&junk, "%s trailing", ok) > 0);
		assert_int_equal(link_hello_parse(junk, strlen(junk), &h, &why),
		    -1);
		assert_string_equal(why, "bad realm handshake");
		assert_null(h);
		free(junk);
	}
}

static void
test_proofs(void **state)
{
	char p1[PROOF_HEX + 1], p2[PROOF_HEX + 1];
	const char *na = "00112233445566778899aabbccddeeff";
	const char *nb = "ffeeddccbbaa99887766554433221100";

	(void)state;
	link_proof("s3cret", "accept", na, nb, "alpha", "beta", "cb", p1);
	assert_int_equal(strlen(p1), PROOF_HEX);
	link_proof("s3cret", "accept", na, nb, "alpha", "beta", "cb", p2);
	assert_string_equal(p1, p2);
	assert_true(link_proof_ok("s3cret", "accept", na, nb, "alpha", "beta", "cb", p1));
	/* another secret, another direction, swapped nonces or names: refused */
	assert_false(link_proof_ok("s3creT", "accept", na, nb, "alpha", "beta", "cb", p1));
	assert_false(link_proof_ok("s3cret", "dial", na, nb, "alpha", "beta", "cb", p1));
	assert_false(link_proof_ok("s3cret", "accept", nb, na, "alpha", "beta", "cb", p1));
	assert_false(link_proof_ok("s3cret", "accept", na, nb, "beta", "alpha", "cb", p1));
	/* a proof made on another TLS channel: refused */
	assert_false(link_proof_ok("s3cret", "accept", na, nb, "alpha", "beta", "cB", p1));
	assert_false(link_proof_ok("s3cret", "accept", na, nb, "alpha", "beta", "cb", ""));
	p1[10] ^= 1;
	assert_false(link_proof_ok("s3cret", "accept", na, nb, "alpha", "beta", "cb", p1));
}

static void
test_known_hmac(void **state)
{
	/* HMAC-SHA-256("key", "l\na\nb\nc\nd\ne\n"), from openssl dgst -hmac */
	char p[PROOF_HEX + 1];

	(void)state;
	link_proof("key", "l", "a", "b", "c", "d", "e", p);
	assert_string_equal(p,
	    "417ae23d492e5efccab79c93a16a16794da44c3b12b235b7e5451b1f86aaa248");
}

/* refusals and forms the tests above do not reach */
static void
test_edges(void **state)
{
	const char *tab = "realmlink\t{\"v\":2,\"realm\":\"a\",\"nonce\":\"n\","
	    "\"inst\":\"i\"}";
	struct buf b = { 0 };
	struct link_frame f;
	const char *why;
	cJSON *o;

	(void)state;
	assert_refused("{\"t\":\"challenge\",\"realm\":\"a\",\"nonce\":\"n\","
	    "\"inst\":\"i\",\"proof\":\"p\"}", "challenge without version");
	assert_refused("{\"t\":\"msg\",\"id\":1,\"seq\":1,\"kind\":\"private\",\"from\":\"a\","
	    "\"from_name\":\"A\",\"to\":\"b\",\"text\":\"x\"}",
	    "message without time");
	assert_refused("{\"t\":\"msg\",\"id\":1,\"seq\":1,\"kind\":\"private\",\"from\":\"a\","
	    "\"from_name\":\"A\",\"to\":\"b\",\"time\":1,\"file\":\"n\"}",
	    "bad file in message");
	assert_refused("{\"t\":\"history\",\"from\":\"a\",\"group\":\"g\"}",
	    "request without q");

	assert_int_equal(link_hello_parse(tab, strlen(tab), &o, &why), 0);
	cJSON_Delete(o);
	assert_int_equal(link_hello_parse("realmlink", 9, &o, &why), -1);
	assert_string_equal(why, "not a realm handshake");
	assert_null(o);

	/* a frame goes out as one line of JSON */
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "t", "ping");
	cJSON_AddNumberToObject(o, "q", 5);
	assert_int_equal(link_send(&b, o), 0);
	assert_int_equal(buf_head(&b)[buf_used(&b) - 1], '\n');
	assert_int_equal(link_parse(buf_head(&b), buf_used(&b) - 1, &f, &why), 0);
	assert_int_equal(f.type, LT_PING);
	assert_int_equal(f.q, 5);
	link_frame_free(&f);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message_frames),
		cmocka_unit_test(test_round_trip_frames),
		cmocka_unit_test(test_malformed_frames),
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_proofs),
		cmocka_unit_test(test_known_hmac),
		cmocka_unit_test(test_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
