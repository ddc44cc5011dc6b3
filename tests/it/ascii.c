/*
 * NAME
 *	it_ascii - every reply is pure ASCII and text still round-trips
 * DESCRIPTION
 *	The public clients read replies in 64-byte chunks and decode each on
 *	its own.  Covers that read of an inbox whose é straddles a chunk
 *	boundary, round trips of random code points of every UTF-8 length
 *	(and control characters) as private, group and file-name text, and
 *	a control-socket reply carrying a non-ASCII display name.  The
 *	harness itself fails any reply with a byte of 0x80 or above.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

/* cmd_ok - send a line of len bytes (CRLF added), assert an OK reply */
static cJSON *cmd_ok(struct client *c, const char *line, size_t len)
{
	char *wire = malloc(len + 2);
	cJSON *r;

	memcpy(wire, line, len);
	memcpy(wire + len, "\r\n", 2);
	client_write(c, wire, len + 2);
	free(wire);
	r = client_reply(c);
	assert_reply_ok(r);
	return r;
}

/* all_ascii - no byte of s is 0x80 or above */
static bool all_ascii(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

/*
 * read_chunked - the next reply read as the clients read it: recv() of
 * at most 64 bytes, each chunk checked to decode as ASCII on its own.
 */
static char *read_chunked(struct client *c, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *all = malloc(cap);
	int chunks = 0;

	while (n < 4 || memcmp(all + n - 4, "\r\n\r\n", 4) != 0) {
		struct pollfd p = { client_fd(c), POLLIN, 0 };
		char chunk[64];
		ssize_t got;

		assert_int_equal(poll(&p, 1, 10000), 1);
		got = recv(client_fd(c), chunk, sizeof(chunk), 0);
		assert_true(got > 0);
		assert_true(all_ascii(chunk, (size_t)got));
		assert_true(n + (size_t)got < cap);
		memcpy(all + n, chunk, (size_t)got);
		n += (size_t)got;
		chunks++;
	}
	assert_true(chunks > 1);
	all[n] = '\0';
	*len = n;
	return all;
}

/*
 * test_chunk_repro - "send henderson <29 a>é end": in raw UTF-8 the é
 * of henderson's inbox reply straddled the first 64-byte boundary
 */
static void test_chunk_repro(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	const char *text = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xa9 end";
	char line[128], *raw;
	size_t len;
	cJSON *r, *msgs;

	snprintf(line, sizeof(line), "send henderson %s", text);
	cJSON_Delete(cmd_ok(m, line, strlen(line)));
	client_write(h, "inbox\r\n", 7);
	raw = read_chunked(h, &len);
	r = cJSON_ParseWithLength(raw, len - 4);
	assert_non_null(r);
	msgs = cJSON_GetObjectItem(cJSON_GetObjectItem(r, "messages"), "messi");
	assert_int_equal(cJSON_GetArraySize(msgs), 1);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 0),
	    "msg")->valuestring, text);
	assert_non_null(strstr(raw, "\\u00e9 end"));
	cJSON_Delete(r);
	free(raw);
}

/* put_utf8 - code point cp as UTF-8 at out; its length */
static size_t put_utf8(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * random_text - n characters: ASCII letters, control characters other
 * than NUL, CR and LF, and code points of every UTF-8 length (no
 * surrogates), never blank at either end
 */
static size_t random_text(char *out, int n)
{
	static const unsigned edges[] = { 0x80, 0x7ff, 0x800, 0xfffd, 0xffff,
	    0x10000, 0x10ffff, 0xe9, 0x4e2d, 0x1f600 };
	size_t o = 0;

	out[o++] = 'x';
	for (int i = 0; i < n; i++) {
		unsigned cp;

		switch (rand() % 6) {
		case 0: cp = (unsigned)('a' + rand() % 26); break;
		case 1: cp = (unsigned)(1 + rand() % 31); break;
		case 2: cp = edges[rand() % 10]; break;
		case 3: cp = 0x80 + (unsigned)rand() % 0x780; break;
		case 4: cp = 0x800 + (unsigned)rand() % 0xd000; break;
		default: cp = 0x10000 + (unsigned)rand() % 0x100000; break;
		}
		if (cp == '\n' || cp == '\r')
			cp = 0x7f;
		o += put_utf8(out + o, cp);
	}
	out[o++] = 'y';
	out[o] = '\0';
	return o;
}

/* first_entry - the first inbox entry from messi */
static const cJSON *first_entry(const cJSON *r)
{
	const cJSON *from = cJSON_GetObjectItem(cJSON_GetObjectItem(r,
	    "messages"), "messi");

	assert_true(cJSON_GetArraySize(from) >= 1);
	return cJSON_GetArrayItem(from, 0);
}

/* test_random_round_trips - private, group and history text, 40 rounds */
static void test_random_round_trips(void **state)
{
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");
	char text[2048], line[2200];
	cJSON *r;

	srand(7);
	cJSON_Delete(client_cmd(m, "addgroup kelas"));
	cJSON_Delete(client_cmd(h, "joingroup kelas"));
	for (int round = 0; round < 40; round++) {
		size_t len = random_text(text, 1 + rand() % 200);
		int n;

		n = snprintf(line, sizeof(line), "send henderson %s", text);
		cJSON_Delete(cmd_ok(m, line, (size_t)n));
		r = client_cmd(h, "inbox");
		assert_string_equal(cJSON_GetObjectItem(first_entry(r),
		    "msg")->valuestring, text);
		cJSON_Delete(r);
		n = snprintf(line, sizeof(line), "sendgroup kelas %s", text);
		cJSON_Delete(cmd_ok(m, line, (size_t)n));
		r = client_cmd(h, "inbox");
		assert_memory_equal(cJSON_GetObjectItem(first_entry(r),
		    "msg")->valuestring, text, len + 1);
		cJSON_Delete(r);
	}
	r = client_cmd(h, "inboxgroup kelas");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(
	    cJSON_GetObjectItem(r, "messages"), 39), "msg")->valuestring, text);
	cJSON_Delete(r);
}

/* test_file_names - a file name of every length of character */
static void test_file_names(void **state)
{
	static const char *const names[] = {
		"caf\xc3\xa9.txt", "\xe4\xb8\xad\xe6\x96\x87.txt",
		"\xf0\x9f\x98\x80.png", "a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80z",
	};
	struct client *m = client_login(*state, "messi");
	struct client *h = client_login(*state, "henderson");

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char line[256];
		int n = snprintf(line, sizeof(line),
		    "sendfile henderson %s b'aGVsbG8='", names[i]);
		cJSON *r;

		cJSON_Delete(cmd_ok(m, line, (size_t)n));
		r = client_cmd(h, "inbox");
		assert_string_equal(cJSON_GetObjectItem(first_entry(r),
		    "file_name")->valuestring, names[i]);
		assert_string_equal(cJSON_GetObjectItem(first_entry(r),
		    "file_content")->valuestring, "aGVsbG8=");
		cJSON_Delete(r);
	}
}

/* control_request - one request on the control socket; the raw reply */
static char *control_request(struct daemon *d, const char *req)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	size_t cap = 1 << 16, n = 0;
	char *out = malloc(cap);
	ssize_t got;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s",
	    daemon_control_path(d));
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while ((got = read(fd, out + n, cap - n - 1)) > 0)
		n += (size_t)got;
	close(fd);
	out[n] = '\0';
	return out;
}

/* test_control_reply - realmctl's reply carries a display name in ASCII */
static void test_control_reply(void **state)
{
	struct client *c = client_connect(*state);
	const char *name = "Zo\xc3\xab \xe4\xb8\xad \xf0\x9f\x98\x80";
	cJSON *r = client_cmd(c, "register zoe pw Zo\xc3\xab_\xe4\xb8\xad_"
	    "\xf0\x9f\x98\x80 Indonesia");
	char *raw;
	const cJSON *u;
	bool seen = false;

	assert_reply_ok(r);
	cJSON_Delete(r);
	raw = control_request(*state, "{\"type\":\"show_users\"}\n");
	assert_true(all_ascii(raw, strlen(raw)));
	r = cJSON_Parse(raw);
	assert_non_null(r);
	cJSON_ArrayForEach(u, cJSON_GetObjectItem(r, "users"))
		if (strcmp(cJSON_GetObjectItem(u, "name")->valuestring,
		    name) == 0)
			seen = true;
	assert_true(seen);
	cJSON_Delete(r);
	free(raw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_chunk_repro, it_setup,
		    it_teardown),
		cmocka_unit_test_setup_teardown(test_random_round_trips,
		    it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(test_file_names, it_setup,
		    it_teardown),
		cmocka_unit_test_setup_teardown(test_control_reply, it_setup,
		    it_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
