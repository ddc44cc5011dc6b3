/*
 * NAME
 *	it_file - files: sendfile, sendgroupfile, downloadfile, the spool
 * DESCRIPTION
 *	Covers base64 with and without the b'...' wrapper, a 10 MiB file
 *	byte-exact, a group file to several members stored once in the
 *	spool, file-name sanitising (path traversal, control bytes, leading
 *	dots), bad base64, the size limit, downloadfile access, removal of
 *	the body once nobody can receive it, and persistence of spooled files
 *	across restart and kill -9.  Fetching after the inbox drained a file
 *	(downloadfile, downloadgroupfile, both forms, 1 MiB+ byte-exact), for
 *	recipients and members only, and file_keep: expiry, across a restart,
 *	0 (no keeping), and kept files making room for new ones.
 */
#include "harness.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* send_file - send a whole request line built around base64 content */
static cJSON *
send_file(struct client *c, const char *cmd, const char *to, const char *name,
    const char *content)
{
	size_t len = strlen(cmd) + strlen(to) + strlen(name) + strlen(content) + 8;
	char *line = malloc(len);
	cJSON *r;

	snprintf(line, len, "%s %s %s %s\r\n", cmd, to, name, content);
	client_write(c, line, strlen(line));
	free(line);
	r = client_reply(c);
	return r;
}

/* first_entry - the first inbox entry from sender (reply kept in *r) */
static const cJSON *
first_entry(struct client *c, const char *sender, cJSON **r)
{
	*r = client_cmd(c, "inbox");
	assert_reply_ok(*r);
	assert_non_null(inbox_from(*r, sender));
	return cJSON_GetArrayItem(inbox_from(*r, sender), 0);
}

/* spool_files - how many bodies are in the daemon's spool */
static int
spool_files(void **state)
{
	char path[4096];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/state/spool", daemon_dir(*state));
	if ((d = opendir(path)) == NULL)
		fail_msg("cannot open %s", path);
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void
test_private_file_round_trip_and_wrapper(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	const unsigned char data[] = "hello\0file\xff\x01";
	char *enc = b64(data, sizeof(data)), wrapped[256];
	unsigned char back[64];
	const cJSON *e;
	cJSON *r;

	r = send_file(m, "sendfile", "henderson", "notes.txt", enc);
	assert_reply_ok(r);
	assert_reply_message(r, "File Sent");
	cJSON_Delete(r);
	snprintf(wrapped, sizeof(wrapped), "b'%s'", enc);
	r = send_file(m, "sendprivatefile", "henderson", "two.bin", wrapped);
	assert_reply_ok(r);
	cJSON_Delete(r);
	e = first_entry(h, "messi", &r);
	assert_int_equal(inbox_count(r), 2);
	for (int i = 0; i < 2; i++) {
		e = cJSON_GetArrayItem(inbox_from(r, "messi"), i);
		assert_string_equal(json_string(e, "file_name"),
		    i == 0 ? "notes.txt" : "two.bin");
		assert_int_equal(cJSON_GetObjectItem(e, "file_size")->valueint,
		    (int)sizeof(data));
		assert_string_equal(json_string(e, "msg_from"), "Lionel Messi");
		assert_string_equal(json_string(e, "msg_to"), "Jordan Henderson");
		assert_int_equal(unb64(json_string(e, "file_content"), back),
		    (long)sizeof(data));
		assert_memory_equal(back, data, sizeof(data));
		assert_int_equal(strlen(json_string(e, "file_id")), 16);
	}
	cJSON_Delete(r);
	free(enc);
	client_close(m);
	client_close(h);
}

static void
test_ten_mib_file_byte_exact(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	size_t size = 10 << 20;
	unsigned char *data = malloc(size), *back = malloc(size);
	char *enc, id[32];
	const cJSON *e;
	cJSON *r;
	uint32_t x = 12345;

	for (size_t i = 0; i < size; i++) {
		x = x * 1103515245 + 12345;
		data[i] = (unsigned char)(x >> 16);
	}
	enc = b64(data, size);
	r = send_file(m, "sendfile", "henderson", "big.bin", enc);
	assert_reply_ok(r);
	cJSON_Delete(r);
	e = first_entry(h, "messi", &r);
	assert_int_equal(cJSON_GetObjectItem(e, "file_size")->valuedouble,
	    (double)size);
	assert_int_equal(unb64(json_string(e, "file_content"), back), (long)size);
	assert_memory_equal(back, data, size);
	snprintf(id, sizeof(id), "%s", json_string(e, "file_id"));
	cJSON_Delete(r);
	/* drained, but kept for file_keep: still fetchable, byte-exact */
	memset(back, 0, size);
	r = client_cmd(h, "downloadfile %s big.bin", id);
	assert_reply_ok(r);
	assert_int_equal(unb64(json_string(r, "message"), back), (long)size);
	assert_memory_equal(back, data, size);
	cJSON_Delete(r);
	assert_int_equal(spool_files(state), 1);
	free(enc);
	free(data);
	free(back);
	client_close(m);
	client_close(h);
}

static void
test_group_file_stored_once(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	struct client *l = client_login(*state, "lineker");
	char *enc = b64((const unsigned char *)"group file body", 15);
	char id[2][32];
	cJSON *r;

	r = client_cmd(m, "addgroup g");
	cJSON_Delete(r);
	r = client_cmd(h, "joingroup g");
	cJSON_Delete(r);
	r = client_cmd(l, "joingroup g");
	cJSON_Delete(r);
	r = send_file(m, "sendgroupfile", "g", "shared.txt", enc);
	assert_reply_ok(r);
	assert_int_equal(cJSON_GetObjectItem(r, "recipients")->valueint, 2);
	cJSON_Delete(r);
	assert_int_equal(spool_files(state), 1);
	for (int i = 0; i < 2; i++) {
		const cJSON *e = first_entry(i ? l : h, "messi", &r);
		assert_string_equal(json_string(e, "file_name"), "shared.txt");
		assert_string_equal(json_string(e, "file_content"), enc);
		assert_string_equal(json_string(e, "group"), "g");
		snprintf(id[i], sizeof(id[i]), "%s", json_string(e, "file_id"));
		cJSON_Delete(r);
	}
	assert_string_equal(id[0], id[1]);
	/* both drained, but the group history still holds it */
	assert_int_equal(spool_files(state), 1);
	r = client_cmd(h, "inboxgroup g");
	{
		const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(r,
		    "messages"), 0);
		assert_string_equal(json_string(e, "file_id"), id[0]);
		assert_null(cJSON_GetObjectItem(e, "file_content"));
	}
	cJSON_Delete(r);
	r = client_cmd(l, "downloadfile %s", id[0]);
	assert_reply_ok(r);
	assert_string_equal(json_string(r, "message"), enc);
	assert_string_equal(json_string(r, "file_name"), "shared.txt");
	cJSON_Delete(r);
	/* ad-hoc file to two users */
	r = send_file(m, "sendgroupfile", "henderson,lineker,ghost", "adhoc.txt", enc);
	assert_reply_ok(r);
	assert_int_equal(cJSON_GetObjectItem(r, "recipients")->valueint, 2);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "unknown")), 1);
	cJSON_Delete(r);
	assert_int_equal(spool_files(state), 2);
	free(enc);
	client_close(m);
	client_close(h);
	client_close(l);
}

static void
test_file_names_sanitised(void **state)
{
	static const struct {
		const char *sent, *stored;
	} names[] = {
		{ "../../etc/passwd", "passwd" },
		{ "..\\..\\boot.ini", "boot.ini" },
		{ "/absolute/path/x.txt", "x.txt" },
		{ "...hidden", "hidden" },
		{ "..", "file" },
		{ "dir/", "file" },
		{ "tab\x01name", "tab_name" },
	};
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	char *enc = b64((const unsigned char *)"x", 1);
	cJSON *r;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const cJSON *e;
		r = send_file(m, "sendfile", "henderson", names[i].sent, enc);
		assert_reply_ok(r);
		cJSON_Delete(r);
		e = first_entry(h, "messi", &r);
		assert_string_equal(json_string(e, "file_name"), names[i].stored);
		cJSON_Delete(r);
	}
	free(enc);
	client_close(m);
	client_close(h);
}

static int
setup_small_files(void **state)
{
	*state = daemon_start("max_file = 1K\n");
	return 0;
}

static void
test_file_errors(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	unsigned char big[2048] = { 0 };
	char *enc = b64(big, sizeof(big));
	cJSON *r;

	r = send_file(m, "sendfile", "henderson", "x", "!!notbase64!!");
	assert_reply_error(r, "BAD_FILE");
	cJSON_Delete(r);
	r = send_file(m, "sendfile", "henderson", "x", "QUJD=A==");
	assert_reply_error(r, "BAD_FILE");
	cJSON_Delete(r);
	r = send_file(m, "sendfile", "henderson", "x", enc);
	assert_reply_error(r, "TOO_LARGE");
	cJSON_Delete(r);
	r = send_file(m, "sendfile", "ghost", "x", "QUJD");
	assert_reply_error(r, "NO_USER");
	cJSON_Delete(r);
	r = send_file(m, "sendgroupfile", "nogroup", "x", "QUJD");
	assert_reply_error(r, "NO_GROUP");
	cJSON_Delete(r);
	/* a path on the client's machine: the error says what to send */
	r = client_cmd(m, "sendfile henderson onlyname");
	assert_reply_error(r, "BAD_FILE");
	assert_non_null(strstr(json_string(r, "message"),
	    "send sendfile henderson <file name> <the file's content in base64>"));
	cJSON_Delete(r);
	r = client_cmd(h, "downloadfile 0123456789abcdef");
	assert_reply_error(r, "BAD_FILE");
	cJSON_Delete(r);
	r = client_cmd(h, "downloadfile ../../etc/passwd");
	assert_reply_error(r, "BAD_FILE");
	cJSON_Delete(r);
	/* nothing was stored by any of these */
	r = client_cmd(h, "inbox");
	assert_int_equal(inbox_count(r), 0);
	cJSON_Delete(r);
	assert_int_equal(spool_files(state), 0);
	free(enc);
	client_close(m);
	client_close(h);
}

static void
test_download_only_for_recipients(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *l = client_login(*state, "lineker");
	char id[32];
	cJSON *r;

	r = send_file(m, "sendfile", "henderson", "private.txt", "c2VjcmV0");
	assert_reply_ok(r);
	cJSON_Delete(r);
	{
		struct client *h = client_login(*state, "henderson");
		cJSON *peek;
		/* learn the id through a reply that is never read to the end */
		client_send(h, "inbox\r\n");
		peek = client_reply(h);
		snprintf(id, sizeof(id), "%s", json_string(cJSON_GetArrayItem(
		    inbox_from(peek, "messi"), 0), "file_id"));
		cJSON_Delete(peek);
		client_close(h);
	}
	r = client_cmd(l, "downloadfile %s", id);
	assert_reply_error(r, "BAD_FILE");
	cJSON_Delete(r);
	client_close(m);
	client_close(l);
}

static void
test_spooled_files_survive_restart_and_kill9(void **state)
{
	for (int round = 0; round < 2; round++) {
		struct client *m = client_login(*state, "messi");
		struct client *h;
		const cJSON *e;
		cJSON *r;

		r = send_file(m, "sendfile", "henderson", "keep.txt", "a2VlcCBtZQ==");
		assert_reply_ok(r);
		cJSON_Delete(r);
		client_close(m);
		if (round == 1)
			daemon_kill9_tree(*state);
		daemon_restart(*state);
		h = client_login(*state, "henderson");
		e = first_entry(h, "messi", &r);
		assert_string_equal(json_string(e, "file_content"), "a2VlcCBtZQ==");
		cJSON_Delete(r);
		client_close(h);
	}
}

/* pattern - size bytes that differ at every offset, malloc'd */
static unsigned char *
pattern(size_t size, uint32_t seed)
{
	unsigned char *p = malloc(size);

	for (size_t i = 0; i < size; i++) {
		seed = seed * 1103515245 + 12345;
		p[i] = (unsigned char)(seed >> 16);
	}
	return p;
}

/* drain_id - read user c's inbox to the end; the file id from sender */
static void
drain_id(struct client *c, const char *sender, char *id, size_t len)
{
	const cJSON *e = NULL;
	cJSON *r;

	e = first_entry(c, sender, &r);
	snprintf(id, len, "%s", json_string(e, "file_id"));
	cJSON_Delete(r);
	r = client_cmd(c, "whoami");		/* the inbox reply was taken */
	cJSON_Delete(r);
	r = client_cmd(c, "inbox");
	assert_int_equal(inbox_count(r), 0);
	cJSON_Delete(r);
}

/* assert_body - r is an OK download reply carrying exactly data */
static void
assert_body(cJSON *r, const unsigned char *data, size_t size)
{
	unsigned char *back = malloc(size + 4);

	assert_reply_ok(r);
	assert_int_equal(unb64(json_string(r, "message"), back), (long)size);
	assert_memory_equal(back, data, size);
	free(back);
	cJSON_Delete(r);
}

/* expect_error - the reply to line is an error with code */
static void
expect_error(struct client *c, const char *code, const char *line)
{
	cJSON *r = client_cmd(c, "%s", line);

	assert_reply_error(r, code);
	cJSON_Delete(r);
}

/*
 * A file drained by inbox is fetched later by id, in the session form
 * and the token-first form the public clients send, from any connection;
 * the sender and other users are told there is no such file.
 */
static void
test_fetch_after_inbox_recipients_only(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	struct client *l = client_login(*state, "lineker");
	struct client *other = client_connect(*state);
	size_t size = (1 << 20) + 3;
	unsigned char *data = pattern(size, 7);
	char *enc = b64(data, size), id[32], line[256], htok[64], ltok[64];
	cJSON *r;

	snprintf(htok, sizeof(htok), "%s", client_auth(other, "henderson",
	    SEED_PASSWORD));
	snprintf(ltok, sizeof(ltok), "%s", client_auth(other, "lineker",
	    SEED_PASSWORD));
	r = send_file(m, "sendfile", "henderson", "report.pdf", enc);
	assert_reply_ok(r);
	cJSON_Delete(r);
	drain_id(h, "messi", id, sizeof(id));
	assert_body(client_cmd(h, "downloadfile %s", id), data, size);
	assert_body(client_cmd(h, "getfile %s report.pdf", id), data, size);
	assert_body(client_cmd(other, "downloadfile %s %s report.pdf", htok, id),
	    data, size);
	/* twice: a fetch takes nothing away */
	assert_body(client_cmd(other, "downloadfile %s %s report.pdf", htok, id),
	    data, size);
	expect_error(m, "BAD_FILE", "downloadfile 0123456789abcdef");
	snprintf(line, sizeof(line), "downloadfile %s", id);
	expect_error(m, "BAD_FILE", line);	/* the sender is no recipient */
	expect_error(l, "BAD_FILE", line);
	snprintf(line, sizeof(line), "downloadfile %s %s x", ltok, id);
	expect_error(other, "BAD_FILE", line);
	r = client_cmd(l, "downloadfile %s", id);
	assert_string_equal(json_string(r, "message"),
	    "No such file, or its keep time is over");
	cJSON_Delete(r);
	assert_int_equal(spool_files(state), 1);
	free(enc);
	free(data);
}

/*
 * downloadgroupfile: a group's files for its members only, byte-exact,
 * in both forms, after the inbox drained them; clear errors otherwise.
 */
static void
test_downloadgroupfile(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	struct client *l = client_login(*state, "lineker");
	struct client *other = client_connect(*state);
	size_t size = (1 << 20) + 11;
	unsigned char *data = pattern(size, 99);
	char *enc = b64(data, size), id[32], id2[32], line[256], tok[64];
	cJSON *r;

	snprintf(tok, sizeof(tok), "%s", client_auth(other, "henderson",
	    SEED_PASSWORD));
	cJSON_Delete(client_cmd(m, "addgroup team"));
	cJSON_Delete(client_cmd(h, "joingroup team"));
	cJSON_Delete(client_cmd(m, "addgroup other"));
	r = send_file(m, "sendgroupfile", "team", "plan.bin", enc);
	assert_reply_ok(r);
	cJSON_Delete(r);
	r = send_file(m, "sendgroupfile", "other", "x.txt", "eHg=");
	assert_reply_ok(r);
	cJSON_Delete(r);
	drain_id(h, "messi", id, sizeof(id));
	r = client_cmd(m, "inboxgroup other");
	snprintf(id2, sizeof(id2), "%s", json_string(cJSON_GetArrayItem(
	    cJSON_GetObjectItem(r, "messages"), 0), "file_id"));
	cJSON_Delete(r);

	assert_body(client_cmd(h, "downloadgroupfile team %s plan.bin", id),
	    data, size);
	assert_body(client_cmd(other, "downloadgroupfile %s team %s plan.bin",
	    tok, id), data, size);
	assert_body(client_cmd(m, "downloadgroupfile team %s", id), data, size);
	snprintf(line, sizeof(line), "downloadgroupfile team %s", id);
	expect_error(l, "NOT_MEMBER", line);
	snprintf(line, sizeof(line), "downloadgroupfile nosuch %s", id);
	expect_error(h, "NO_GROUP", line);
	snprintf(line, sizeof(line), "downloadgroupfile team %s", id2);
	expect_error(m, "BAD_FILE", line);	/* a file of another group */
	expect_error(h, "BAD_FILE", "downloadgroupfile team 0123456789abcdef");
	expect_error(h, "BAD_FILE", "downloadgroupfile team ../../etc/passwd");
	expect_error(h, "BAD_ARGS", "downloadgroupfile team");
	expect_error(h, "NO_REALM", "downloadrealmfile nolink 0123456789abcdef");
	expect_error(h, "NO_REALM",
	    "downloadgrouprealmfile nolink team 0123456789abcdef x");
	free(enc);
	free(data);
}

static int
setup_short_keep(void **state)
{
	*state = daemon_start("file_keep = 2s\n");
	return 0;
}

/* wait_spool - until the spool holds n bodies; false after timeout_s */
static bool
wait_spool(void **state, int n, double timeout_s)
{
	double until = now_s() + timeout_s;

	while (spool_files(state) != n) {
		if (now_s() > until)
			return false;
		sleep_ms(100);
	}
	return true;
}

/*
 * file_keep: a shown file stays fetchable for file_keep, then the fetch
 * says so and the body leaves the spool; a file still waiting in an
 * inbox does not expire.
 */
static void
test_file_keep_expires(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	const unsigned char data[] = "kept for a while";
	char *enc = b64(data, sizeof(data)), id[32], line[64];
	double shown;
	cJSON *r;

	r = send_file(m, "sendfile", "henderson", "short.txt", enc);
	assert_reply_ok(r);
	cJSON_Delete(r);
	drain_id(h, "messi", id, sizeof(id));
	shown = now_s();
	assert_body(client_cmd(h, "downloadfile %s", id), data, sizeof(data));
	r = send_file(m, "sendfile", "henderson", "waiting.txt", enc);
	assert_reply_ok(r);
	cJSON_Delete(r);
	assert_int_equal(spool_files(state), 2);
	while (now_s() < shown + 3.5)
		sleep_ms(100);
	r = client_cmd(h, "downloadfile %s", id);
	assert_reply_error(r, "BAD_FILE");
	assert_string_equal(json_string(r, "message"),
	    "No such file, or its keep time is over");
	cJSON_Delete(r);
	if (!wait_spool(state, 1, 10.0))
		fail_msg("the expired body is still in the spool");
	/* the one never shown is still there, in full */
	r = client_cmd(h, "inbox");
	assert_string_equal(json_string(cJSON_GetArrayItem(inbox_from(r,
	    "messi"), 0), "file_content"), enc);
	cJSON_Delete(r);
	snprintf(line, sizeof(line), "downloadfile %s", id);
	expect_error(h, "BAD_FILE", line);
	free(enc);
}

/* append_config - add a line to the daemon's config file */
static void
append_config(void **state, const char *line)
{
	FILE *fp = fopen(daemon_config_path(*state), "a");

	assert_non_null(fp);
	fputs(line, fp);
	fclose(fp);
}

/*
 * Kept files survive kill -9 of the whole daemon; their time runs on
 * across a restart, so a shorter file_keep at the next start expires
 * them then.
 */
static void
test_file_keep_survives_restart(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	const unsigned char data[] = "survives a crash";
	char *enc = b64(data, sizeof(data)), id[32], line[64];
	cJSON *r;

	r = send_file(m, "sendfile", "henderson", "crash.txt", enc);
	assert_reply_ok(r);
	cJSON_Delete(r);
	drain_id(h, "messi", id, sizeof(id));
	daemon_kill9_tree(*state);
	daemon_restart(*state);
	h = client_login(*state, "henderson");
	assert_body(client_cmd(h, "downloadfile %s", id), data, sizeof(data));
	r = client_cmd(h, "inbox");
	assert_int_equal(inbox_count(r), 0);
	cJSON_Delete(r);
	sleep_ms(1500);
	daemon_stop(*state);
	append_config(state, "file_keep = 1s\n");
	daemon_launch(*state);
	h = client_login(*state, "henderson");
	snprintf(line, sizeof(line), "downloadfile %s", id);
	expect_error(h, "BAD_FILE", line);
	if (!wait_spool(state, 0, 10.0))
		fail_msg("the expired body is still in the spool");
	free(enc);
}

/* file_keep = 0: a file goes with the inbox reply that showed it */
static int
setup_no_keep(void **state)
{
	*state = daemon_start("file_keep = 0\n");
	return 0;
}

static void
test_file_keep_zero(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	char id[32], line[64];
	cJSON *r;

	r = send_file(m, "sendfile", "henderson", "gone.txt", "Z29uZQ==");
	assert_reply_ok(r);
	cJSON_Delete(r);
	drain_id(h, "messi", id, sizeof(id));
	assert_int_equal(spool_files(state), 0);
	snprintf(line, sizeof(line), "downloadfile %s", id);
	expect_error(h, "BAD_FILE", line);
}

static int
setup_small_spool(void **state)
{
	*state = daemon_start("spool_max = 1M\n");
	return 0;
}

/*
 * Kept files yield to new ones: a file that would not fit in spool_max
 * drops the oldest kept files first; files still waiting in an inbox
 * are never dropped, so then the answer is QUOTA.
 */
static void
test_kept_files_make_room(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	size_t size = 600 << 10;
	unsigned char *a = pattern(size, 1), *b = pattern(size, 2);
	char *ea = b64(a, size), *eb = b64(b, size), ida[32], idb[32], line[64];
	cJSON *r;

	r = send_file(m, "sendfile", "henderson", "a.bin", ea);
	assert_reply_ok(r);
	cJSON_Delete(r);
	drain_id(h, "messi", ida, sizeof(ida));
	assert_body(client_cmd(h, "downloadfile %s", ida), a, size);
	r = send_file(m, "sendfile", "henderson", "b.bin", eb);
	assert_reply_ok(r);
	cJSON_Delete(r);
	assert_int_equal(spool_files(state), 1);
	snprintf(line, sizeof(line), "downloadfile %s", ida);
	expect_error(h, "BAD_FILE", line);
	/* b waits unread: it is not dropped for c */
	r = send_file(m, "sendfile", "henderson", "c.bin", ea);
	assert_reply_error(r, "QUOTA");
	cJSON_Delete(r);
	drain_id(h, "messi", idb, sizeof(idb));
	assert_body(client_cmd(h, "downloadfile %s", idb), b, size);
	free(a);
	free(b);
	free(ea);
	free(eb);
}

#define T(f) cmocka_unit_test_setup_teardown(f, it_setup, it_teardown)
#define TS(f, s) cmocka_unit_test_setup_teardown(f, s, it_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_private_file_round_trip_and_wrapper),
		T(test_ten_mib_file_byte_exact),
		T(test_group_file_stored_once),
		T(test_file_names_sanitised),
		TS(test_file_errors, setup_small_files),
		T(test_download_only_for_recipients),
		T(test_spooled_files_survive_restart_and_kill9),
		T(test_fetch_after_inbox_recipients_only),
		T(test_downloadgroupfile),
		TS(test_file_keep_expires, setup_short_keep),
		TS(test_file_keep_survives_restart, it_setup),
		TS(test_file_keep_zero, setup_no_keep),
		TS(test_kept_files_make_room, setup_small_spool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
