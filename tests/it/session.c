/*
 * NAME
 *	it_session - sessions over the wire: auth, register, logout, tokens
 * DESCRIPTION
 *	Each test gets its own daemon (seed users messi, henderson, lineker).
 *	Covers auth and register outcomes (display fields, names, a race of
 *	sixteen connections for one name), logout scope, the token given as
 *	first argument from any connection, unknown tokens, case-insensitive
 *	command names, trailing blanks, info and its aliases, whoami and
 *	sessioncheck, a full session table, and idle session expiry.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A well-formed v4 UUID that no daemon ever handed out. */
#define UNKNOWN_TOKEN "123e4567-e89b-42d3-a456-426614174000"

/* check_whoami - whoami (or an alias) reports this user */
static void check_whoami(struct client *c, const char *cmd,
    const char *user, const char *name, const char *country)
{
	cJSON *r = client_cmd(c, "%s", cmd);

	assert_reply_ok(r);
	assert_string_equal(json_string(r, "username"), user);
	if (name != NULL)
		assert_string_equal(json_string(r, "name"), name);
	if (country != NULL)
		assert_string_equal(json_string(r, "country"), country);
	cJSON_Delete(r);
}

/* expect_error - one command, one error code */
static void expect_error(struct client *c, const char *line, const char *code)
{
	cJSON *r = client_cmd(c, "%s", line);

	assert_reply_error(r, code);
	cJSON_Delete(r);
}

static void test_auth_ok_returns_v4_token(void **state)
{
	struct client *a = client_connect(*state), *b = client_connect(*state);
	char first[64];

	snprintf(first, sizeof first, "%s", client_auth(a, "messi",
	    SEED_PASSWORD));
	assert_true(is_uuid_v4(first));
	/* a second login of the same user is a second, different session */
	assert_string_not_equal(client_auth(b, "messi", SEED_PASSWORD), first);
	check_whoami(a, "whoami", "messi", "Lionel Messi", "Argentina");
	check_whoami(b, "whoami", "messi", "Lionel Messi", "Argentina");
}

static void test_auth_wrong_password(void **state)
{
	struct client *c = client_connect(*state);
	cJSON *r = client_cmd(c, "auth messi wrongpassword");

	assert_reply_error(r, "BAD_PASSWORD");
	assert_reply_message(r, "Password Salah");
	assert_null(cJSON_GetObjectItemCaseSensitive(r, "tokenid"));
	/* a failed auth does not bind the connection */
	expect_error(c, "whoami", "NO_SESSION");
}

static void test_auth_unknown_user(void **state)
{
	struct client *c = client_connect(*state);
	cJSON *r = client_cmd(c, "auth nosuchuser " SEED_PASSWORD);

	assert_reply_error(r, "NO_USER");
	assert_reply_message(r, "User Tidak Ada");
	expect_error(c, "whoami", "NO_SESSION");
}

static void test_auth_arguments_case_sensitive(void **state)
{
	struct client *c = client_connect(*state);

	expect_error(c, "auth MESSI " SEED_PASSWORD, "NO_USER");
	expect_error(c, "auth messi SURABAYA", "BAD_PASSWORD");
	client_auth(c, "messi", SEED_PASSWORD);
}

static void test_auth_missing_arguments(void **state)
{
	struct client *c = client_connect(*state);
	cJSON *r = client_cmd(c, "auth");

	assert_reply_error(r, "BAD_ARGS");
	assert_reply_message(r, "Protocol Tidak Benar");
	expect_error(c, "auth messi", "BAD_ARGS");
}

static void test_register_ok_logs_in(void **state)
{
	struct client *a = client_connect(*state), *b = client_connect(*state);
	cJSON *r = client_cmd(a, "register newbie s3cret New_Bie Indonesia");

	assert_reply_ok(r);
	assert_true(is_uuid_v4(json_string(r, "tokenid")));
	check_whoami(a, "whoami", "newbie", "New Bie", "Indonesia");
	/* the account exists for everybody else too */
	expect_error(b, "auth newbie wrong", "BAD_PASSWORD");
	client_auth(b, "newbie", "s3cret");
	check_whoami(b, "sessioncheck", "newbie", "New Bie", "Indonesia");
}

static void test_register_without_optional_fields(void **state)
{
	struct client *c = client_connect(*state);
	cJSON *r = client_cmd(c, "register solo pw1");

	assert_reply_ok(r);
	assert_true(is_uuid_v4(json_string(r, "tokenid")));
	check_whoami(c, "whoami", "solo", NULL, NULL);
}

static void test_register_taken(void **state)
{
	struct client *c = client_connect(*state);
	cJSON *r = client_cmd(c, "register messi otherpw");

	assert_reply_error(r, "USER_EXISTS");
	assert_reply_message(r, "User Sudah Ada");
	assert_reply_ok(client_cmd(c, "register twice pw1"));
	expect_error(c, "register twice pw2", "USER_EXISTS");
	/* the failed registers changed no password */
	client_auth(c, "messi", SEED_PASSWORD);
	client_auth(c, "twice", "pw1");
	expect_error(c, "auth twice pw2", "BAD_PASSWORD");
}

static void test_register_bad_names(void **state)
{
	static const char *const bad[] = {
		"bad!name", "a/b", "with:colon", "a,b", "semi;colon",
		"quote\"d", "back\\slash", "caf\xc3\xa9", "dollar$",
		"abcdefghijabcdefghijabcdefghijabc",	/* 33 characters */
	};
	struct client *c = client_connect(*state);

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cJSON *r = client_cmd(c, "register %s pw", bad[i]);

		assert_reply_error(r, "BAD_NAME");
		cJSON_Delete(r);
		r = client_cmd(c, "auth %s pw", bad[i]);
		assert_string_equal(
		    cJSON_GetObjectItemCaseSensitive(r, "status")->valuestring,
		    "ERROR");
		cJSON_Delete(r);
	}
	/* the edges of the allowed set */
	assert_reply_ok(client_cmd(c,
	    "register abcdefghij_ABCDEFGHIJ.01234567-9 pw"));	/* 32 */
	assert_reply_ok(client_cmd(c, "register x pw"));
	assert_reply_ok(client_cmd(c, "register A.b-c_9 pw"));
}

/* only_fffd - s is one or more U+FFFD and nothing else */
static bool only_fffd(const char *s, size_t len)
{
	if (len == 0 || len % 3 != 0)
		return false;
	for (size_t i = 0; i < len; i += 3)
		if (memcmp(s + i, "\xef\xbf\xbd", 3) != 0)
			return false;
	return true;
}

static void test_register_display_fields(void **state)
{
	struct client *c = client_connect(*state);
	const char *name;
	cJSON *r;

	assert_reply_ok(client_cmd(c, "register u1 pw Jos\xc3\xa9_Mar\xc3\xad" "a "
	    "Espa\xc3\xb1" "a"));
	check_whoami(c, "whoami", "u1", "Jos\xc3\xa9 Mar\xc3\xad" "a",
	    "Espa\xc3\xb1" "a");
	assert_reply_ok(client_cmd(c, "register u2 pw Na\"me\\x Cou\"ntry"));
	check_whoami(c, "whoami", "u2", "Na\"me\\x", "Cou\"ntry");
	/* invalid UTF-8 comes back replaced, in every reply that shows it */
	assert_reply_ok(client_cmd(c, "register u3 pw Bad\xff\xfeName Cc"));
	r = client_cmd(c, "whoami");
	assert_reply_ok(r);
	name = json_string(r, "name");
	assert_true(strncmp(name, "Bad", 3) == 0);
	assert_string_equal(name + strlen(name) - 4, "Name");
	assert_true(only_fffd(name + 3, strlen(name) - 7));
	assert_reply_ok(client_cmd(c, "info"));
	assert_reply_ok(client_cmd(c, "send henderson from u3"));
	client_auth(c, "henderson", SEED_PASSWORD);
	r = client_cmd(c, "inbox");
	assert_reply_ok(r);
	assert_string_equal(json_string(cJSON_GetArrayItem(inbox_from(r, "u3"),
	    0), "msg_from"), name);
}

static void test_register_race(void **state)
{
	enum { N = 16 };
	struct client *c[N];

	for (int i = 0; i < N; i++)
		c[i] = client_connect(*state);
	for (int round = 0; round < 4; round++) {
		int winner = -1;

		/* every connection asks at once; exactly one may win */
		for (int i = 0; i < N; i++)
			client_send(c[i], "register racer%d pw%d\r\n", round, i);
		for (int i = 0; i < N; i++) {
			cJSON *r = client_reply(c[i]);

			if (strcmp(json_string(r, "status"), "OK") == 0) {
				if (winner != -1)
					fail_msg("racer%d registered twice "
					    "(connections %d and %d)", round,
					    winner, i);
				winner = i;
			} else
				assert_reply_error(r, "USER_EXISTS");
			cJSON_Delete(r);
		}
		assert_true(winner != -1);
		/* the winner's password is the one stored */
		assert_reply_ok(client_cmd(c[0], "auth racer%d pw%d", round,
		    winner));
		assert_reply_error(client_cmd(c[0], "auth racer%d pw%d", round,
		    (winner + 1) % N), "BAD_PASSWORD");
	}
}

static void test_register_uuid_shaped_name(void **state)
{
	static const char *const shaped[] = {
		UNKNOWN_TOKEN,
		"00000000-0000-0000-0000-000000000000",
		"0f8fad5b-d9cb-469f-a165-70867728950e",
	};
	struct client *c = client_connect(*state);

	for (size_t i = 0; i < sizeof shaped / sizeof shaped[0]; i++) {
		cJSON *r = client_cmd(c, "register %s pw", shaped[i]);

		assert_reply_error(r, "BAD_NAME");
		cJSON_Delete(r);
	}
	expect_error(c, "whoami", "NO_SESSION");
}

static void test_logout_then_no_session(void **state)
{
	struct client *c = client_connect(*state), *o = client_connect(*state);
	char tok[64];
	cJSON *r;

	snprintf(tok, sizeof tok, "%s", client_auth(c, "messi",
	    SEED_PASSWORD));
	assert_reply_ok(client_cmd(c, "logout"));
	r = client_cmd(c, "whoami");
	assert_reply_error(r, "NO_SESSION");
	assert_reply_message(r, "Session Tidak Ditemukan");
	expect_error(c, "inbox", "NO_SESSION");
	expect_error(c, "send henderson after logout", "NO_SESSION");
	expect_error(c, "logout", "NO_SESSION");
	r = client_cmd(o, "whoami %s", tok);
	assert_reply_error(r, "NO_SESSION");
	r = client_cmd(o, "send %s henderson after logout", tok);
	assert_reply_error(r, "NO_SESSION");
	/* the connection can log in again, to a new session */
	assert_string_not_equal(client_auth(c, "messi", SEED_PASSWORD), tok);
	check_whoami(c, "whoami", "messi", NULL, NULL);
}

static void test_logout_ends_only_that_session(void **state)
{
	struct client *a = client_connect(*state), *b = client_connect(*state);
	struct client *h = client_connect(*state), *o = client_connect(*state);
	char tb[64];

	client_auth(a, "messi", SEED_PASSWORD);
	snprintf(tb, sizeof tb, "%s", client_auth(b, "messi", SEED_PASSWORD));
	client_auth(h, "henderson", SEED_PASSWORD);
	assert_reply_ok(client_cmd(a, "logout"));
	expect_error(a, "whoami", "NO_SESSION");
	check_whoami(b, "whoami", "messi", NULL, NULL);
	check_whoami(h, "whoami", "henderson", NULL, NULL);
	assert_reply_ok(client_cmd(o, "whoami %s", tb));
}

static void test_logout_with_token_argument(void **state)
{
	struct client *a = client_connect(*state), *o = client_connect(*state);
	char ta[64];

	snprintf(ta, sizeof ta, "%s", client_auth(a, "messi", SEED_PASSWORD));
	assert_reply_ok(client_cmd(o, "logout %s", ta));
	expect_error(a, "whoami", "NO_SESSION");
	expect_error(o, "whoami", "NO_SESSION");
}

static void test_token_first_argument_other_connection(void **state)
{
	struct client *a = client_connect(*state), *b = client_connect(*state);
	struct client *h, *d;
	char tok[64];
	const cJSON *list;
	cJSON *r;

	snprintf(tok, sizeof tok, "%s", client_auth(a, "messi", SEED_PASSWORD));
	r = client_cmd(b, "whoami %s", tok);
	assert_reply_ok(r);
	assert_string_equal(json_string(r, "username"), "messi");
	r = client_cmd(b, "send %s henderson hello from b", tok);
	assert_reply_ok(r);
	assert_reply_message(r, "Message Sent");
	r = client_cmd(b, "inbox %s", tok);
	assert_reply_ok(r);
	assert_int_equal(inbox_count(r), 0);
	/* b itself stays unbound */
	expect_error(b, "whoami", "NO_SESSION");
	h = client_connect(*state);
	client_auth(h, "henderson", SEED_PASSWORD);
	r = client_cmd(h, "inbox");
	assert_reply_ok(r);
	list = inbox_from(r, "messi");
	assert_non_null(list);
	assert_int_equal(cJSON_GetArraySize(list), 1);
	assert_string_equal(json_string(cJSON_GetArrayItem(list, 0), "msg"),
	    "hello from b");
	/* the session outlives the connection that made it */
	client_close(a);
	d = client_connect(*state);
	r = client_cmd(d, "whoami %s", tok);
	assert_reply_ok(r);
	assert_string_equal(json_string(r, "username"), "messi");
}

static void test_token_argument_wins_over_bound_session(void **state)
{
	struct client *a = client_connect(*state), *b = client_connect(*state);
	struct client *l = client_connect(*state);
	char ta[64];
	cJSON *r;

	snprintf(ta, sizeof ta, "%s", client_auth(a, "messi", SEED_PASSWORD));
	client_auth(b, "henderson", SEED_PASSWORD);
	r = client_cmd(b, "whoami %s", ta);
	assert_reply_ok(r);
	assert_string_equal(json_string(r, "username"), "messi");
	assert_reply_ok(client_cmd(b, "send %s lineker via token", ta));
	client_auth(l, "lineker", SEED_PASSWORD);
	r = client_cmd(l, "inbox");
	assert_reply_ok(r);
	assert_non_null(inbox_from(r, "messi"));
	assert_null(inbox_from(r, "henderson"));
	check_whoami(b, "whoami", "henderson", NULL, NULL);
}

static void test_unknown_token(void **state)
{
	struct client *c = client_connect(*state), *h;
	cJSON *r;

	expect_error(c, "whoami " UNKNOWN_TOKEN, "NO_SESSION");
	expect_error(c, "inbox " UNKNOWN_TOKEN, "NO_SESSION");
	expect_error(c, "logout " UNKNOWN_TOKEN, "NO_SESSION");
	/* bound or not, an unknown token is never a recipient name */
	client_auth(c, "messi", SEED_PASSWORD);
	expect_error(c, "send " UNKNOWN_TOKEN " henderson hi", "NO_SESSION");
	expect_error(c, "inbox " UNKNOWN_TOKEN, "NO_SESSION");
	h = client_connect(*state);
	client_auth(h, "henderson", SEED_PASSWORD);
	r = client_cmd(h, "inbox");
	assert_reply_ok(r);
	assert_int_equal(inbox_count(r), 0);
	check_whoami(c, "whoami", "messi", NULL, NULL);
}

static void test_no_session_without_auth(void **state)
{
	struct client *c = client_connect(*state);

	expect_error(c, "whoami", "NO_SESSION");
	expect_error(c, "sessioncheck", "NO_SESSION");
	expect_error(c, "inbox", "NO_SESSION");
	expect_error(c, "send henderson hello", "NO_SESSION");
	expect_error(c, "sendprivate henderson hello", "NO_SESSION");
	expect_error(c, "logout", "NO_SESSION");
}

static void test_command_names_case_insensitive(void **state)
{
	struct client *c = client_connect(*state), *h = client_connect(*state);
	cJSON *r;

	r = client_cmd(c, "AUTH messi " SEED_PASSWORD);
	assert_reply_ok(r);
	check_whoami(c, "WhoAmI", "messi", NULL, NULL);
	check_whoami(c, "SESSIONCHECK", "messi", NULL, NULL);
	assert_reply_ok(client_cmd(c, "SeNd henderson one"));
	assert_reply_ok(client_cmd(c, "SENDPRIVATE henderson two"));
	r = client_cmd(c, "INFO");
	assert_reply_ok(r);
	assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(r, "users")));
	assert_reply_ok(client_cmd(c, "Login_Info"));
	assert_reply_ok(client_cmd(c, "LOGININFO"));
	client_auth(h, "henderson", SEED_PASSWORD);
	r = client_cmd(h, "InBoX");
	assert_reply_ok(r);
	assert_int_equal(inbox_count(r), 2);
	assert_reply_ok(client_cmd(c, "LOGOUT"));
	expect_error(c, "whoami", "NO_SESSION");
	assert_reply_ok(client_cmd(c, "Register MixedCase pw"));
	check_whoami(c, "whoami", "MixedCase", NULL, NULL);
}

static void test_trailing_spaces_and_tabs(void **state)
{
	struct client *c = client_connect(*state);
	cJSON *r;

	/* the password is "surabaya", not "surabaya " */
	client_send(c, "auth messi surabaya \r\n");
	assert_reply_ok(client_reply(c));
	client_send(c, "auth messi surabaya\t \t\r\n");
	assert_reply_ok(client_reply(c));
	client_send(c, "auth   messi     surabaya  \r\n");
	assert_reply_ok(client_reply(c));
	client_send(c, "whoami \t \r\n");
	r = client_reply(c);
	assert_reply_ok(r);
	assert_string_equal(json_string(r, "username"), "messi");
	client_send(c, "auth messi surabaya\t\n");
	assert_reply_ok(client_reply(c));
}

/* find_user - the entry of a user in an info reply, or NULL */
static const cJSON *find_user(const cJSON *r, const char *user)
{
	const cJSON *e, *users = cJSON_GetObjectItemCaseSensitive(r, "users");

	assert_true(cJSON_IsArray(users));
	cJSON_ArrayForEach(e, users) {
		const cJSON *u = cJSON_GetObjectItemCaseSensitive(e, "username");

		assert_true(cJSON_IsString(u));
		if (strcmp(u->valuestring, user) == 0)
			return e;
	}
	return NULL;
}

/* check_info_entry - one users[] entry has every field, right values */
static void check_info_entry(const cJSON *e, const char *name,
    const char *country)
{
	const cJSON *since;

	assert_non_null(e);
	assert_string_equal(json_string(e, "name"), name);
	assert_string_equal(json_string(e, "country"), country);
	assert_string_equal(json_string(e, "realm"), IT_REALM);
	since = cJSON_GetObjectItemCaseSensitive(e, "since");
	assert_true((cJSON_IsString(since) && since->valuestring[0] != '\0')
	    || cJSON_IsNumber(since));
}

static void test_info_and_aliases(void **state)
{
	static const char *const cmds[] = { "info", "login_info", "logininfo" };
	struct client *m = client_connect(*state), *h = client_connect(*state);
	cJSON *r;

	client_auth(m, "messi", SEED_PASSWORD);
	client_auth(h, "henderson", SEED_PASSWORD);
	for (size_t i = 0; i < 3; i++) {
		r = client_cmd(m, "%s", cmds[i]);
		assert_reply_ok(r);
		check_info_entry(find_user(r, "messi"), "Lionel Messi",
		    "Argentina");
		check_info_entry(find_user(r, "henderson"), "Jordan Henderson",
		    "England");
		assert_null(find_user(r, "lineker"));
		cJSON_Delete(r);
	}
	assert_reply_ok(client_cmd(h, "logout"));
	r = client_cmd(m, "info");
	assert_reply_ok(r);
	assert_non_null(find_user(r, "messi"));
	assert_null(find_user(r, "henderson"));
}

static void test_whoami_and_sessioncheck(void **state)
{
	struct client *c = client_connect(*state);

	client_auth(c, "lineker", SEED_PASSWORD);
	check_whoami(c, "whoami", "lineker", "Gary Lineker", "England");
	check_whoami(c, "sessioncheck", "lineker", "Gary Lineker", "England");
	client_auth(c, "messi", SEED_PASSWORD);
	check_whoami(c, "whoami", "messi", "Lionel Messi", "Argentina");
}

static int setup_short_sessions(void **state)
{
	*state = daemon_start("session_timeout = 2s\n");
	return 0;
}

static void test_session_expires_when_idle(void **state)
{
	struct client *c = client_connect(*state), *o = client_connect(*state);
	char tok[64];

	snprintf(tok, sizeof tok, "%s", client_auth(c, "messi", SEED_PASSWORD));
	/* use keeps it alive past the timeout */
	for (int i = 0; i < 4; i++) {
		sleep_ms(800);
		check_whoami(c, "whoami", "messi", NULL, NULL);
	}
	sleep_ms(3500);
	expect_error(o, "whoami " UNKNOWN_TOKEN, "NO_SESSION");
	{
		cJSON *r = client_cmd(o, "whoami %s", tok);

		assert_reply_error(r, "NO_SESSION");
	}
	expect_error(c, "whoami", "NO_SESSION");
	/* an expired session is not listed as live */
	client_auth(o, "henderson", SEED_PASSWORD);
	{
		cJSON *r = client_cmd(o, "info");

		assert_reply_ok(r);
		assert_null(find_user(r, "messi"));
		assert_non_null(find_user(r, "henderson"));
	}
	client_auth(c, "messi", SEED_PASSWORD);
}

static int setup_few_sessions(void **state)
{
	*state = daemon_start("max_sessions = 16\n");
	return 0;
}

static void test_session_table_full(void **state)
{
	struct client *c = client_connect(*state);
	char tok[16][64];
	int n = 0;
	cJSON *r;

	/* fill the table, whatever the exact count the daemon allows */
	for (;;) {
		r = client_cmd(c, "auth messi " SEED_PASSWORD);
		if (strcmp(json_string(r, "status"), "OK") != 0)
			break;
		assert_true(n < 16);
		snprintf(tok[n++], sizeof tok[0], "%s", json_string(r,
		    "tokenid"));
		cJSON_Delete(r);
	}
	assert_in_range(n, 14, 16);
	assert_string_equal(json_string(r, "status"), "ERROR");
	/* full is not broken: the sessions work, a logout frees a slot */
	assert_reply_ok(client_cmd(c, "whoami %s", tok[0]));
	assert_reply_ok(client_cmd(c, "logout %s", tok[0]));
	assert_reply_ok(client_cmd(c, "auth henderson " SEED_PASSWORD));
	check_whoami(c, "whoami", "henderson", NULL, NULL);
	assert_reply_ok(client_cmd(c, "whoami %s", tok[n - 1]));
}

#define T(f) cmocka_unit_test_setup_teardown(f, it_setup, it_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_auth_ok_returns_v4_token),
		T(test_auth_wrong_password),
		T(test_auth_unknown_user),
		T(test_auth_arguments_case_sensitive),
		T(test_auth_missing_arguments),
		T(test_register_ok_logs_in),
		T(test_register_without_optional_fields),
		T(test_register_taken),
		T(test_register_bad_names),
		T(test_register_display_fields),
		T(test_register_race),
		T(test_register_uuid_shaped_name),
		T(test_logout_then_no_session),
		T(test_logout_ends_only_that_session),
		T(test_logout_with_token_argument),
		T(test_token_first_argument_other_connection),
		T(test_token_argument_wins_over_bound_session),
		T(test_unknown_token),
		T(test_no_session_without_auth),
		T(test_command_names_case_insensitive),
		T(test_trailing_spaces_and_tabs),
		T(test_info_and_aliases),
		T(test_whoami_and_sessioncheck),
		cmocka_unit_test_setup_teardown(test_session_table_full,
		    setup_few_sessions, it_teardown),
		cmocka_unit_test_setup_teardown(test_session_expires_when_idle,
		    setup_short_sessions, it_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
