/*
 * NAME
 *	it_group - groups: create, join, leave, send, history, list, members
 * DESCRIPTION
 *	Each test gets its own daemon with the seed users messi, henderson
 *	and lineker.  Covers every group command and its aliases (including
 *	the "group <word>" forms), passwords, every error code, fan-out to
 *	members and to ad-hoc lists, the history limit, and persistence of
 *	groups and histories across restart and kill -9.
 */
#include "harness.h"

#include <stdio.h>
#include <string.h>

/* ok - run a command and assert an OK reply with the given message */
static void
ok(struct client *c, const char *message, const char *line)
{
	cJSON *r = client_cmd(c, "%s", line);

	assert_reply_ok(r);
	if (message != NULL)
		assert_reply_message(r, message);
	cJSON_Delete(r);
}

/* err - run a command and assert an error with the given code */
static void
err(struct client *c, const char *code, const char *line)
{
	cJSON *r = client_cmd(c, "%s", line);

	assert_reply_error(r, code);
	cJSON_Delete(r);
}

/* history_texts - the msg fields of inboxgroup's reply, oldest first */
static int
history_texts(struct client *c, const char *group, char out[][64], int max)
{
	cJSON *r = client_cmd(c, "inboxgroup %s", group), *e;
	int n = 0;

	assert_reply_ok(r);
	assert_string_equal(json_string(r, "group"), group);
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(r, "messages")) {
		assert_true(n < max);
		snprintf(out[n++], 64, "%s", json_string(e, "msg"));
	}
	cJSON_Delete(r);
	return n;
}

static void
test_create_join_and_errors(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");

	ok(m, "Add group Berhasil", "addgroup jarkom3");
	err(m, "GROUP_EXISTS", "creategroup jarkom3");
	err(h, "GROUP_EXISTS", "group add jarkom3");
	err(m, "ALREADY_MEMBER", "joingroup jarkom3");	/* the creator is in */
	ok(h, "Join group berhasil", "group join jarkom3");
	err(h, "ALREADY_MEMBER", "joingroup jarkom3");
	err(h, "NO_GROUP", "joingroup nosuch");
	err(h, "BAD_NAME", "addgroup bad/name");
	err(h, "BAD_ARGS", "addgroup");
	err(h, "BAD_COMMAND", "group frobnicate x");
	client_close(m);
	client_close(h);
}

static void
test_group_password(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *l = client_login(*state, "lineker");

	ok(m, NULL, "addgroup secret pw1");
	err(l, "BAD_PASSWORD", "joingroup secret");
	err(l, "BAD_PASSWORD", "joingroup secret wrong");
	ok(l, NULL, "joingroup secret pw1");
	client_close(m);
	client_close(l);
}

static void
test_sendgroup_fans_out_to_other_members(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	struct client *l = client_login(*state, "lineker");
	const cJSON *entries, *e;
	cJSON *r;

	ok(m, NULL, "addgroup jarkom3");
	ok(h, NULL, "joingroup jarkom3");
	ok(l, NULL, "joingroup jarkom3");
	r = client_cmd(m, "sendgroup jarkom3 hallo guys welcome");
	assert_reply_ok(r);
	assert_reply_message(r, "Message Sent");
	assert_string_equal(json_string(r, "group"), "jarkom3");
	assert_int_equal(cJSON_GetObjectItem(r, "recipients")->valueint, 2);
	cJSON_Delete(r);
	for (int i = 0; i < 2; i++) {
		struct client *c = i == 0 ? h : l;
		r = client_cmd(c, "inbox");
		assert_int_equal(inbox_count(r), 1);
		entries = inbox_from(r, "messi");
		assert_non_null(entries);
		e = cJSON_GetArrayItem(entries, 0);
		assert_string_equal(json_string(e, "msg"), "hallo guys welcome");
		assert_string_equal(json_string(e, "group"), "jarkom3");
		cJSON_Delete(r);
	}
	/* the sender gets no copy of its own group message */
	r = client_cmd(m, "inbox");
	assert_int_equal(inbox_count(r), 0);
	cJSON_Delete(r);
	client_close(m);
	client_close(h);
	client_close(l);
}

static void
test_sendgroup_errors(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *l = client_login(*state, "lineker");

	ok(m, NULL, "addgroup jarkom3 pw3");	/* a password group: members only */
	err(l, "NOT_MEMBER", "sendgroup jarkom3 hi");
	err(l, "NOT_MEMBER", "sendgroup group:jarkom3 hi");
	err(l, "NO_GROUP", "sendgroup nosuch hi");
	err(l, "NO_GROUP", "sendgroup group:nosuch hi");
	err(l, "BAD_ARGS", "sendgroup jarkom3");
	err(l, "NOT_MEMBER", "inboxgroup jarkom3");
	err(l, "NO_GROUP", "inboxgroup nosuch");
	err(l, "NOT_MEMBER", "groupmembers jarkom3");
	err(l, "NOT_MEMBER", "leavegroup jarkom3");
	err(l, "NO_GROUP", "leavegroup nosuch");
	client_close(m);
	client_close(l);
}

static void
test_sendgroup_adhoc_list(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	struct client *l = client_login(*state, "lineker");
	cJSON *r, *unknown;

	r = client_cmd(m, "sendgroup henderson,ghost,lineker,henderson to you two");
	assert_reply_ok(r);
	assert_int_equal(cJSON_GetObjectItem(r, "recipients")->valueint, 2);
	unknown = cJSON_GetObjectItem(r, "unknown");
	assert_int_equal(cJSON_GetArraySize(unknown), 1);
	assert_string_equal(cJSON_GetArrayItem(unknown, 0)->valuestring, "ghost");
	cJSON_Delete(r);
	for (int i = 0; i < 2; i++) {
		r = client_cmd(i == 0 ? h : l, "inbox");
		assert_int_equal(inbox_count(r), 1);
		assert_string_equal(json_string(cJSON_GetArrayItem(
		    inbox_from(r, "messi"), 0), "msg"), "to you two");
		assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(
		    inbox_from(r, "messi"), 0), "group"));
		cJSON_Delete(r);
	}
	/* nobody known: an error, and nothing stored */
	err(m, "NO_USER", "sendgroup ghost1,ghost2 hello");
	r = client_cmd(h, "inbox");
	assert_int_equal(inbox_count(r), 0);
	cJSON_Delete(r);
	client_close(m);
	client_close(h);
	client_close(l);
}

static int
setup_history_3(void **state)
{
	*state = daemon_start("group_history = 3\n");
	return 0;
}

static void
test_history_latest_n_oldest_first(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	char texts[8][64];
	int n;

	ok(m, NULL, "addgroup g1");
	ok(h, NULL, "joingroup g1");
	for (int i = 1; i <= 5; i++) {
		cJSON *r = client_cmd(i % 2 ? m : h, "sendgroup g1 message %d", i);
		assert_reply_ok(r);
		cJSON_Delete(r);
	}
	n = history_texts(h, "g1", texts, 8);
	assert_int_equal(n, 3);
	assert_string_equal(texts[0], "message 3");
	assert_string_equal(texts[1], "message 4");
	assert_string_equal(texts[2], "message 5");
	/* reading the history drains nothing; "group inbox" is the same */
	assert_int_equal(history_texts(m, "g1", texts, 8), 3);
	{
		cJSON *r = client_cmd(m, "group inbox g1");
		assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r,
		    "messages")), 3);
		cJSON_Delete(r);
	}
	client_close(m);
	client_close(h);
}

static void
test_list_members_and_leave(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	cJSON *r, *g;
	int seen = 0;

	ok(m, NULL, "addgroup alpha");
	ok(m, NULL, "addgroup beta pw");
	ok(h, NULL, "joingroup alpha");
	for (int form = 0; form < 3; form++) {
		static const char *cmds[] = { "listgroups", "getgroups", "group get" };
		r = client_cmd(h, "%s", cmds[form]);
		assert_reply_ok(r);
		seen = 0;
		cJSON_ArrayForEach(g, cJSON_GetObjectItem(r, "groups")) {
			const char *name = json_string(g, "name");
			int members = cJSON_GetObjectItem(g, "members")->valueint;
			bool pw = cJSON_IsTrue(cJSON_GetObjectItem(g, "password"));
			if (strcmp(name, "alpha") == 0) {
				assert_int_equal(members, 2);
				assert_false(pw);
				seen |= 1;
			} else if (strcmp(name, "beta") == 0) {
				assert_int_equal(members, 1);
				assert_true(pw);
				seen |= 2;
			}
		}
		assert_int_equal(seen, 3);
		cJSON_Delete(r);
	}
	r = client_cmd(h, "group members alpha");
	assert_reply_ok(r);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "members")), 2);
	cJSON_Delete(r);
	ok(h, "Leave group berhasil", "group leave alpha");
	ok(h, "Message Sent", "sendgroup alpha hi");	/* alpha is open */
	r = client_cmd(m, "groupmembers alpha");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "members")), 1);
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "members"),
	    0)->valuestring, "messi");
	cJSON_Delete(r);
	client_close(m);
	client_close(h);
}

static void
test_token_first_argument(void **state)
{
	struct client *m = client_connect(*state);
	struct client *other = client_connect(*state);
	char tok[64];

	snprintf(tok, sizeof(tok), "%s", client_auth(m, "messi", SEED_PASSWORD));
	err(other, "NO_SESSION", "addgroup tg");
	{
		cJSON *r = client_cmd(other, "addgroup %s tg2", tok);
		assert_reply_ok(r);
		cJSON_Delete(r);
		r = client_cmd(other, "group add %s tg3", tok);
		assert_reply_ok(r);
		cJSON_Delete(r);
		r = client_cmd(other, "sendgroup %s tg2 via token", tok);
		assert_reply_ok(r);
		cJSON_Delete(r);
	}
	client_close(m);
	client_close(other);
}

/* persistence: groups, members and histories survive restart and kill -9 */
static void
test_groups_survive_restart_and_kill9(void **state)
{
	struct daemon *d = *state;
	char texts[4][64];

	for (int round = 0; round < 2; round++) {
		struct client *m = client_login(*state, "messi");
		struct client *h = client_login(*state, "henderson");
		char name[16];
		cJSON *r;

		snprintf(name, sizeof(name), "keep%d", round);
		r = client_cmd(m, "addgroup %s pw", name);
		assert_reply_ok(r);
		cJSON_Delete(r);
		r = client_cmd(h, "joingroup %s pw", name);
		assert_reply_ok(r);
		cJSON_Delete(r);
		r = client_cmd(m, "sendgroup %s survives %d", name, round);
		assert_reply_ok(r);
		cJSON_Delete(r);
		client_close(m);
		client_close(h);
		if (round == 0)
			daemon_restart(d);
		else {
			daemon_kill9_tree(d);
			daemon_restart(d);
		}
		h = client_login(*state, "henderson");
		assert_int_equal(history_texts(h, name, texts, 4), 1);
		r = client_cmd(h, "inbox");
		assert_int_equal(inbox_count(r), 1);
		cJSON_Delete(r);
		r = client_cmd(h, "groupmembers %s", name);
		assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "members")), 2);
		cJSON_Delete(r);
		client_close(h);
	}
}

#define T(f) cmocka_unit_test_setup_teardown(f, it_setup, it_teardown)
#define TS(f, s) cmocka_unit_test_setup_teardown(f, s, it_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_create_join_and_errors),
		T(test_group_password),
		T(test_sendgroup_fans_out_to_other_members),
		T(test_sendgroup_errors),
		T(test_sendgroup_adhoc_list),
		TS(test_history_latest_n_oldest_first, setup_history_3),
		T(test_list_members_and_leave),
		T(test_token_first_argument),
		T(test_groups_survive_restart_and_kill9),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
