/*
 * NAME
 *	it_forms - the command forms of the seed families, told apart
 * DESCRIPTION
 *	Each behaviour of worker/forms.c against a real daemon (two or three
 *	linked realms where the form is a realm one):
 *	  - register's two orders: a country in fourth or second place, a
 *	    first word that is no user name, the majority without evidence,
 *	    both places a country refused; register_order fixes the order;
 *	  - tokenId beside tokenid; data beside message in OK and error
 *	    replies and in listings;
 *	  - open groups (no password): anyone logged in posts and reads,
 *	    members get copies; password groups stay members only;
 *	  - the current group of "group send <message>", never a private
 *	    message from a group command, kept with the session;
 *	  - file commands with a path: BAD_FILE saying what to send;
 *	  - addrealm without a session (addrealm_without_session), ackrealm
 *	    with the addresses, and its wrong arities;
 *	  - seed 001's "<token> <src_addr> <src_port>" realm sends, the check
 *	    of username_from, and a realm named like an address refused as
 *	    ambiguous;
 *	  - one group name on two realms: a member here posts (text and file)
 *	    to and reads the group there, a non-member of a password group
 *	    does not; the open group of the peer takes anyone;
 *	  - sendgrouprealm <realm> <message> of a "group <word>" session.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET	"forms-secret"

/* ok_msg - run line, assert OK (and the message if not NULL) */
static cJSON *
ok_msg(struct client *c, const char *message, const char *line)
{
	cJSON *r = client_cmd(c, "%s", line);

	assert_reply_ok(r);
	if (message != NULL)
		assert_reply_message(r, message);
	return r;
}

static void
ok(struct client *c, const char *message, const char *line)
{
	cJSON_Delete(ok_msg(c, message, line));
}

/* err - run line, assert the error code; text, if given, is in message */
static void
err(struct client *c, const char *code, const char *text, const char *line)
{
	cJSON *r = client_cmd(c, "%s", line);

	assert_reply_error(r, code);
	if (text != NULL && strstr(json_string(r, "message"), text) == NULL)
		fail_msg("reply to '%s': no '%s' in %s", line, text,
		    json_string(r, "message"));
	cJSON_Delete(r);
}

static struct daemon *
start_realm(const char *name, const char *extra)
{
	char cfg[512];

	snprintf(cfg, sizeof(cfg), "realm_name = %s\nrealm_secret = %s\n"
	    "realm_backoff_max = 1\nrealm_wait = 2\n%s", name, SECRET,
	    extra ? extra : "");
	return daemon_start(cfg);
}

/* registered - register line, assert OK and the user name created */
static void
registered(struct client *c, const char *line, const char *user)
{
	cJSON *r = ok_msg(c, NULL, line);
	char want[128];

	assert_string_equal(json_string(r, "username"), user);
	snprintf(want, sizeof(want), "Register berhasil: username %s", user);
	assert_reply_message(r, want);
	cJSON_Delete(r);
}

static void
test_register_orders(void **state)
{
	struct daemon *d = *state;
	struct client *c = client_connect(d), *a = client_connect(d);

	registered(c, "register Cristiano-Ronaldo Portugal cr7 pw7", "cr7");
	client_auth(a, "cr7", "pw7");
	err(a, "NO_USER", NULL, "auth Cristiano-Ronaldo Portugal");
	registered(c, "register joni admin joni_perkasa Indonesia", "joni");
	client_auth(a, "joni", "admin");
	registered(c, "register Luka_Modric kroasia luka pw", "luka");
	registered(c, "register Gareth_Bale united_kingdom bale pw", "bale");
	/* a first word that cannot be a user name, no country anywhere */
	registered(c, "register Zlatan! Sverige zlatan pw", "zlatan");
	/* no evidence: the majority order, user first */
	registered(c, "register abc def ghi jkl", "abc");
	client_auth(a, "abc", "def");
	registered(c, "register solo pw", "solo");
	err(c, "BAD_ARGS", "Ambiguous: either user 'chad' from Georgia or user "
	    "'georgia' from Chad", "register chad Chad georgia Georgia");
	err(c, "NO_USER", NULL, "auth georgia Georgia");
	client_close(c);
	client_close(a);
}

static void
test_register_order_key(void **state)
{
	struct daemon *d = daemon_start("register_order = name-first\n");
	struct daemon *u = daemon_start("register_order = username-first\n");
	struct client *c = client_connect(d), *cu = client_connect(u);

	registered(c, "register abc def ghi jkl", "ghi");
	registered(c, "register joni admin joni_perkasa Indonesia", "joni_perkasa");
	registered(cu, "register Cristiano-Ronaldo Portugal cr7 pw7",
	    "Cristiano-Ronaldo");
	registered(cu, "register chad Chad georgia Georgia", "chad");
	client_close(c);
	client_close(cu);
	daemon_stop(d);
	daemon_stop(u);
}

static void
test_tokenid_and_data(void **state)
{
	struct daemon *d = *state;
	struct client *c = client_connect(d);
	cJSON *r, *m, *dd;

	r = client_cmd(c, "auth messi %s", SEED_PASSWORD);
	assert_reply_ok(r);
	assert_string_equal(json_string(r, "tokenId"), json_string(r, "tokenid"));
	assert_string_equal(json_string(r, "data"), "Login berhasil");
	cJSON_Delete(r);
	r = client_cmd(c, "register newbie pw");
	assert_string_equal(json_string(r, "tokenId"), json_string(r, "tokenid"));
	cJSON_Delete(r);
	r = client_cmd(c, "nosuchcommand");
	assert_reply_error(r, "BAD_COMMAND");
	assert_string_equal(json_string(r, "data"), "Maaf, command tidak benar");
	cJSON_Delete(r);
	r = client_cmd(c, "send nobody hi");
	assert_string_equal(json_string(r, "data"), json_string(r, "message"));
	cJSON_Delete(r);
	ok(c, NULL, "addgroup g1");
	r = ok_msg(c, NULL, "group get");
	m = cJSON_GetObjectItem(r, "message");
	dd = cJSON_GetObjectItem(r, "data");
	assert_non_null(dd);
	assert_true(cJSON_Compare(m, dd, true));
	cJSON_Delete(r);
	client_close(c);
}

static void
test_open_groups(void **state)
{
	struct daemon *d = *state;
	struct client *m = client_login(d, "messi"),
	    *h = client_login(d, "henderson");
	struct client *l = client_login(d, "lineker");
	cJSON *r;

	ok(m, NULL, "addgroup open1");
	ok(m, NULL, "addgroup closed1 pw");
	ok(h, "Message Sent", "sendgroup open1 from a non-member");
	ok(h, NULL, "inboxgroup open1");
	ok(h, NULL, "groupmembers open1");
	err(h, "NOT_MEMBER", NULL, "sendgroup closed1 hi");
	err(h, "NOT_MEMBER", NULL, "inboxgroup closed1");
	err(h, "BAD_PASSWORD", NULL, "joingroup closed1");
	/* joining an open group brings copies */
	ok(l, "Join group berhasil", "joingroup open1");
	r = ok_msg(h, NULL, "sendgroup open1 second");
	assert_int_equal(cJSON_GetObjectItem(r, "recipients")->valueint, 2);
	cJSON_Delete(r);
	r = client_cmd(l, "inbox");
	assert_int_equal(inbox_count(r), 1);
	cJSON_Delete(r);
	r = ok_msg(m, NULL, "inboxgroup open1");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "messages")), 2);
	cJSON_Delete(r);
	client_close(m);
	client_close(h);
	client_close(l);
}

/* last_group_text - the group and text of the newest history entry */
static void
assert_last(struct client *c, const char *group, const char *text)
{
	cJSON *r = client_cmd(c, "inboxgroup %s", group), *list;

	assert_reply_ok(r);
	list = cJSON_GetObjectItem(r, "messages");
	assert_true(cJSON_GetArraySize(list) > 0);
	assert_string_equal(json_string(cJSON_GetArrayItem(list,
	    cJSON_GetArraySize(list) - 1), "msg"), text);
	cJSON_Delete(r);
}

static void
test_group_send_current(void **state)
{
	struct daemon *d = *state;
	struct client *m = client_login(d, "messi"),
	    *h = client_login(d, "henderson");
	struct client *m2;
	const char *tok;
	char line[128];
	cJSON *r;

	err(m, "NO_GROUP", "no current group", "group send hello");
	err(m, "BAD_ARGS", NULL, "sendgroup justoneword");
	ok(m, NULL, "group add g1 pw");
	ok(m, "Message Sent", "group send hello all");
	assert_last(m, "g1", "hello all");
	/* a user name first: text for the group, no private message */
	ok(m, NULL, "group send henderson hi all");
	assert_last(m, "g1", "henderson hi all");
	r = client_cmd(h, "inbox");
	assert_int_equal(inbox_count(r), 0);
	cJSON_Delete(r);
	ok(m, NULL, "group send word");
	assert_last(m, "g1", "word");
	/* a group the sender may post to is the target, and now current */
	ok(h, NULL, "addgroup g2");
	ok(m, NULL, "group send g2 to g2");
	assert_last(m, "g2", "to g2");
	ok(m, NULL, "group send again");
	assert_last(m, "g2", "again");
	/* joining makes it current; so does a join of a group one is in */
	err(m, "ALREADY_MEMBER", NULL, "group join g1 pw");
	ok(m, NULL, "group send back in g1");
	assert_last(m, "g1", "back in g1");
	/* the current group belongs to the session: another connection */
	tok = client_auth(m, "messi", SEED_PASSWORD);
	m2 = client_connect(d);
	snprintf(line, sizeof(line), "group send %s via token", tok);
	err(m2, "NO_GROUP", NULL, line);		/* a new session: none */
	ok(m, NULL, "group add g3");
	ok(m2, NULL, line);
	assert_last(m, "g3", "via token");
	client_close(m);
	client_close(m2);
	client_close(h);
}

static void
test_file_paths(void **state)
{
	struct daemon *d = *state;
	struct client *m = client_login(d, "messi");

	ok(m, NULL, "addgroup kelas");
	err(m, "BAD_FILE", "'~/tugas/f.bin' is a file on your machine and the "
	    "server cannot read it: send sendprivatefile henderson <file name> "
	    "<the file's content in base64>", "sendprivatefile henderson "
	    "~/tugas/f.bin");
	err(m, "BAD_FILE", "send sendgroupfile kelas <file name>",
	    "sendgroupfile kelas /tmp/ab.txt");
	err(m, "BAD_FILE", "send sendfilerealm r henderson <file name>",
	    "sendfilerealm r henderson file.txt");
	err(m, "BAD_FILE", "send sendgroupfilerealm r kelas <file name>",
	    "sendgroupfilerealm r kelas file.txt");
	err(m, "BAD_ARGS", NULL, "sendfile henderson");
	client_close(m);
}

static void
test_addrealm_without_session(void **state)
{
	struct daemon *no = start_realm("alpha", "addrealm_without_session = no\n");
	struct daemon *b = start_realm("beta", NULL);
	struct client *anon = client_connect(no), *bn = client_connect(b);
	struct client *am = client_login(no, "messi");
	char line[128];

	snprintf(line, sizeof(line), "addrealm beta 127.0.0.1 %d 127.0.0.1 1",
	    daemon_port(b));
	err(anon, "NO_SESSION", "log in to add a realm", line);
	err(anon, "NO_SESSION", NULL,
	    "addrealm 00000000-0000-4000-8000-000000000000 beta 127.0.0.1 1");
	/* the default: from the loopback without a session */
	snprintf(line, sizeof(line), "addrealm alpha 127.0.0.1 %d 127.0.0.1 1",
	    daemon_port(no));
	ok(bn, "Connect realm berhasil", line);
	ok(am, "Connect realm berhasil", "ackrealm beta");
	snprintf(line, sizeof(line), "ackrealm beta 127.0.0.1 %d 127.0.0.1 1",
	    daemon_port(b));
	ok(am, "Connect realm berhasil", line);
	err(am, "BAD_ARGS", NULL, "ackrealm beta 127.0.0.1");
	err(am, "BAD_ARGS", NULL, "ackrealm beta 127.0.0.1 1 127.0.0.1");
	err(am, "NO_REALM", NULL, "ackrealm nosuch");
	err(am, "REALM_UNREACHABLE", NULL, "ackrealm gamma 127.0.0.1 1 1.2.3.4 5");
	client_close(anon);
	client_close(bn);
	client_close(am);
	daemon_stop(no);
	daemon_stop(b);
}

/* linked - alpha and beta, linked from alpha */
static void
linked(struct daemon **a, struct daemon **b, struct client **am)
{
	char line[128];

	*a = start_realm("alpha", NULL);
	*b = start_realm("beta", NULL);
	*am = client_login(*a, "messi");
	snprintf(line, sizeof(line), "addrealm beta 127.0.0.1 %d",
	    daemon_port(*b));
	ok(*am, "Connect realm berhasil", line);
}

static void
test_src_address_forms(void **state)
{
	struct daemon *a, *b, *g = start_realm("gamma", NULL);
	struct client *am, *bh, *x;
	const char *tok;
	char line[256];
	cJSON *r;

	linked(&a, &b, &am);
	tok = client_auth(am, "messi", SEED_PASSWORD);
	x = client_connect(a);
	bh = client_login(b, "henderson");
	snprintf(line, sizeof(line), "sendrealm %s 10.0.0.5 40000 beta messi "
	    "henderson  two  spaces", tok);
	ok(x, "Message Sent", line);
	r = client_cmd(bh, "inboxrealm alpha");
	assert_string_equal(json_string(cJSON_GetArrayItem(cJSON_GetObjectItem(r,
	    "messages"), 0), "msg"), "two  spaces");
	cJSON_Delete(r);
	snprintf(line, sizeof(line), "sendrealm %s ::1 40000 beta lineker "
	    "henderson hi", tok);
	err(x, "BAD_ARGS", "username_from 'lineker' is not the user of this "
	    "session (messi)", line);
	snprintf(line, sizeof(line), "sendgrouprealm %s localhost 40000 beta "
	    "henderson,lineker hi both", tok);
	ok(x, "Message Sent", line);
	/* a link named like an address, and a link in third place */
	snprintf(line, sizeof(line), "addrealm 127.0.0.1 127.0.0.1 %d",
	    daemon_port(g));
	ok(am, NULL, line);
	snprintf(line, sizeof(line), "sendrealm %s 127.0.0.1 4000 beta messi "
	    "henderson hi", tok);
	err(x, "BAD_ARGS", "Ambiguous: '127.0.0.1' is a realm", line);
	/* no realm in third place: the link named like an address */
	snprintf(line, sizeof(line), "sendrealm %s 127.0.0.1 henderson hi", tok);
	ok(x, "Message Sent", line);
	client_close(am);
	client_close(bh);
	client_close(x);
	daemon_stop(a);
	daemon_stop(b);
	daemon_stop(g);
}

static void
test_one_group_on_two_realms(void **state)
{
	struct daemon *a, *b;
	struct client *am, *al, *bh, *bl;
	cJSON *r;

	linked(&a, &b, &am);
	al = client_login(a, "lineker");
	bh = client_login(b, "henderson");
	bl = client_login(b, "lineker");
	ok(am, NULL, "addgroup tim pw1");
	ok(bh, NULL, "addgroup tim pw2");
	ok(bl, NULL, "joingroup tim pw2");
	ok(bh, NULL, "addgroup terbuka");
	r = ok_msg(am, NULL, "sendgrouprealm beta tim halo tim");
	assert_int_equal(cJSON_GetObjectItem(r, "recipients")->valueint, 2);
	cJSON_Delete(r);
	r = ok_msg(am, NULL, "sendgroupfilerealm beta group:tim a.bin "
	    "AP8AAQ==");
	cJSON_Delete(r);
	r = ok_msg(bh, NULL, "inboxgroup tim");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "messages")), 2);
	cJSON_Delete(r);
	r = ok_msg(bl, NULL, "inboxrealm alpha");
	assert_string_equal(json_string(cJSON_GetArrayItem(cJSON_GetObjectItem(r,
	    "messages"), 1), "file_content"), "AP8AAQ==");
	cJSON_Delete(r);
	r = ok_msg(am, NULL, "inboxgrouprealm beta tim");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "messages")), 2);
	cJSON_Delete(r);
	/* lineker of alpha is in no group tim here */
	err(al, "NOT_MEMBER", NULL, "sendgrouprealm beta tim not me");
	err(al, "NOT_MEMBER", NULL, "inboxgrouprealm beta tim");
	/* the open group of beta takes anyone */
	ok(al, "Message Sent", "sendgrouprealm beta group:terbuka hi open");
	r = ok_msg(al, NULL, "inboxgrouprealm beta terbuka");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "messages")), 1);
	cJSON_Delete(r);
	client_close(am);
	client_close(al);
	client_close(bh);
	client_close(bl);
	daemon_stop(a);
	daemon_stop(b);
}

static void
test_sendgrouprealm_current(void **state)
{
	struct daemon *a, *b;
	struct client *am, *al, *bh;
	cJSON *r;

	linked(&a, &b, &am);
	al = client_login(a, "lineker");
	bh = client_login(b, "henderson");
	ok(bh, NULL, "addgroup persija x");
	err(am, "NO_GROUP", "no current group", "sendgrouprealm beta hello");
	ok(am, NULL, "group add persija y");
	ok(am, "Message Sent", "sendgrouprealm beta one");
	ok(am, "Message Sent", "sendgrouprealm beta gol gol gol");
	ok(am, "Message Sent", "sendgrouprealm beta persija named");
	ok(am, "Message Sent", "sendgrouprealm beta group:persija forced");
	err(am, "BAD_ARGS", "Ambiguous", "sendgrouprealm beta lineker hi");
	/* a word that names nothing here is the start of the text */
	ok(am, "Message Sent", "sendgrouprealm beta unknownword text");
	r = ok_msg(bh, NULL, "inboxgroup persija");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "messages")), 5);
	assert_string_equal(json_string(cJSON_GetArrayItem(cJSON_GetObjectItem(r,
	    "messages"), 4), "msg"), "unknownword text");
	assert_string_equal(json_string(cJSON_GetArrayItem(cJSON_GetObjectItem(r,
	    "messages"), 1), "msg"), "gol gol gol");
	assert_string_equal(json_string(cJSON_GetArrayItem(cJSON_GetObjectItem(r,
	    "messages"), 2), "msg"), "named");
	cJSON_Delete(r);
	/* a session that never used "group <word>": the word is the target */
	ok(al, NULL, "addgroup lokal");
	err(al, "NO_GROUP", NULL, "sendgrouprealm beta gol gol");
	client_close(am);
	client_close(al);
	client_close(bh);
	daemon_stop(a);
	daemon_stop(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_register_orders, it_setup,
		    it_teardown),
		cmocka_unit_test(test_register_order_key),
		cmocka_unit_test_setup_teardown(test_tokenid_and_data, it_setup,
		    it_teardown),
		cmocka_unit_test_setup_teardown(test_open_groups, it_setup,
		    it_teardown),
		cmocka_unit_test_setup_teardown(test_group_send_current,
		    it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(test_file_paths, it_setup,
		    it_teardown),
		cmocka_unit_test(test_addrealm_without_session),
		cmocka_unit_test(test_src_address_forms),
		cmocka_unit_test(test_one_group_on_two_realms),
		cmocka_unit_test(test_sendgrouprealm_current),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
