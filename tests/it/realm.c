/*
 * NAME
 *	it_realm - federation: links between realms, and every realm command
 * DESCRIPTION
 *	Each test starts two or three daemons (alpha, beta, gamma) on
 *	loopback ports that share realm_secret, with realm_backoff_max = 1
 *	and realm_wait = 2 so that links come back and verdicts time out
 *	quickly.  Covers, following docs/PROTOCOL.md "Realms" and "The link
 *	protocol":
 *	  - addrealm (again for the same link: OK), listrealm (and aliases),
 *	    ackrealm, NO_REALM, and every send and inbox command both ways after one
 *	    addrealm, with the exact reply and entry shapes;
 *	  - sendgrouprealm to lists and to remote groups, joingrouprealm,
 *	    inboxgrouprealm, "<user>@<realm>" members at home;
 *	  - files across realms byte-exact, private and group;
 *	  - refusals: wrong secret, no realm_secret, dead port, a peer that
 *	    never answers, a forged dialer on the wire (bad proof, other
 *	    version; a frame out of order or over max_line beside a live
 *	    link under the same name, which carries on);
 *	  - a link to a peer that has only just started;
 *	  - addrealm by host name, and a name that cannot be found;
 *	  - a stopped peer: replies say "queued", each message delivered once
 *	    when it returns, both directions;
 *	  - 300 messages while realmd is killed with SIGKILL on each side:
 *	    each delivered exactly once;
 *	  - restart and kill -9 of either side: the link comes back by itself;
 *	  - kill -9 of a whole realm, either side, under a pipelined stream:
 *	    what was answered OK arrives once, nothing twice;
 *	  - a peer started afresh (new instance) is a new sender for
 *	    de-duplication;
 *	  - bounce notices for queued messages the peer refuses;
 *	  - three realms: per-realm queues, a link id other than the peer's
 *	    name, a group with members from two other realms; verdicts in
 *	    time with two links into one realm;
 *	  - the realm_queue limit (QUOTA);
 *	  - names: a link answers to the dialer's id on the other side and
 *	    to names added by addrealm for a linked peer, which never drops
 *	    the live connection; a loop of such addrealms is bounded (names
 *	    per link, users' dials a minute, users' links); a name never
 *	    means two links; the two-machine set-up of the seeds word for
 *	    word; names after restarts.
 *	Every wait is bounded.
 */
#include "harness.h"
#include "tlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SECRET		"itsecret"
#define LINK_TIMEOUT	10.0	/* a link comes back within this (s) */
#define DRAIN_TIMEOUT	20.0	/* queued messages arrive within this (s) */

/* The daemons of one test, in the order alpha, beta, gamma. */
struct fed {
	struct daemon *d[3];
	int	n;
};

static const char *const realm_names[3] = { "alpha", "beta", "gamma" };

/* ---------------------------------------------------------------- */
/* Fixtures                                                          */
/* ---------------------------------------------------------------- */

/* drop_config_key - remove every "key = ..." line of d's config file */
static void
drop_config_key(struct daemon *d, const char *key)
{
	FILE *fp = fopen(daemon_config_path(d), "r");
	char line[4096], *text = calloc(1, 65536);
	size_t o = 0, kl = strlen(key);

	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL) {
		const char *p = line + strspn(line, " \t");

		if (strncmp(p, key, kl) == 0 && strchr(" \t=", p[kl]) != NULL)
			continue;
		o += snprintf(text + o, 65536 - o, "%s", line);
	}
	fclose(fp);
	write_file(daemon_config_path(d), text);
	free(text);
}

/* start_realm_without_secret - a daemon named name with no realm_secret */
static struct daemon *
start_realm_without_secret(const char *name)
{
	char cfg[256];
	struct daemon *d;

	snprintf(cfg, sizeof(cfg), "realm_name = %s\nrealm_backoff_max = 1\n"
	    "realm_wait = 2\n", name);
	d = daemon_prepare(cfg);
	drop_config_key(d, "realm_secret");
	daemon_launch(d);
	return d;
}

/* fed_new - n daemons named alpha, beta, gamma with the given extras */
static int
fed_new(void **state, int n, const char *const extra[3],
    const char *const secret[3])
{
	struct fed *f = calloc(1, sizeof(*f));

	for (int i = 0; i < n; i++)
		f->d[i] = secret && secret[i] && !*secret[i] ?
		    start_realm_without_secret(realm_names[i]) :
		    realm_start(realm_names[i],
		    secret && secret[i] ? secret[i] : SECRET,
		    extra ? extra[i] : NULL);
	for (int i = 0; i < n; i++)
		realm_wait_serving(f->d[i], realm_names[i]);
	f->n = n;
	*state = f;
	return 0;
}

static int
setup2(void **state)
{
	return fed_new(state, 2, NULL, NULL);
}

static int
setup3(void **state)
{
	return fed_new(state, 3, NULL, NULL);
}

static int
setup1(void **state)
{
	return fed_new(state, 1, NULL, NULL);
}

static int
setup_wrong_secret(void **state)
{
	static const char *const secret[3] = { SECRET, "another-secret", "" };

	return fed_new(state, 3, NULL, secret);
}

static int
setup_realm_queue(void **state)
{
	static const char *const extra[3] = { "realm_queue = 3\n" };

	return fed_new(state, 2, extra, NULL);
}

static int
fed_teardown(void **state)
{
	struct fed *f = *state;

	for (int i = 0; f != NULL && i < f->n; i++)
		daemon_destroy(f->d[i]);
	free(f);
	return 0;
}

/* ---------------------------------------------------------------- */
/* Commands and replies                                              */
/* ---------------------------------------------------------------- */

/* cmd_at - a command whose failures are reported at the caller's line */
static cJSON *
cmd_at(const char *file, int line, struct client *c, const char *fmt,
    va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	it_at(file, line);
	cJSON *r = (client_cmd)(c, "%s", s);
	free(s);
	return r;
}

/* ok_at - run a command, assert OK (and the message if not NULL) */
__attribute__((format(printf, 5, 6)))
static void
ok_at(const char *file, int line, struct client *c, const char *message,
    const char *fmt, ...)
{
	va_list ap;
	cJSON *r;

	va_start(ap, fmt);
	r = cmd_at(file, line, c, fmt, ap);
	va_end(ap);
	reply_assert_ok(r, file, line);
	if (message != NULL)
		reply_assert_message(r, message, file, line);
	cJSON_Delete(r);
}

/* err_at - run a command, assert an error with this code */
__attribute__((format(printf, 5, 6)))
static void
err_at(const char *file, int line, struct client *c, const char *code,
    const char *fmt, ...)
{
	va_list ap;
	cJSON *r;

	va_start(ap, fmt);
	r = cmd_at(file, line, c, fmt, ap);
	va_end(ap);
	reply_assert_error(r, code, file, line);
	cJSON_Delete(r);
}

#define OK(c, message, ...)	ok_at(__FILE__, __LINE__, (c), (message), __VA_ARGS__)
#define ERR(c, code, ...)	err_at(__FILE__, __LINE__, (c), (code), __VA_ARGS__)

/* show - a JSON value as text for failure messages (leaks; tests end) */
static char *
show(const cJSON *v)
{
	char *s = v ? cJSON_PrintUnformatted(v) : NULL;

	return s ? s : "(null)";
}

/* num - a number member, or fail */
static double
num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v))
		fail_msg("expected a number \"%s\" in %s", key, show(o));
	return v->valuedouble;
}

/* str - a string member, or fail */
static const char *
str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsString(v))
		fail_msg("expected a string \"%s\" in %s", key, show(o));
	return v->valuestring;
}

/* flag - a boolean member, or fail */
static bool
flag(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsBool(v))
		fail_msg("expected a boolean \"%s\" in %s", key, show(o));
	return cJSON_IsTrue(v);
}

/* is_queued - the reply says "queued": true */
static bool
is_queued(const cJSON *r)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "queued"));
}

/* array_has_string - a JSON array of strings holds s */
static bool
array_has_string(const cJSON *a, const char *s)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, a)
		if (cJSON_IsString(e) && strcmp(e->valuestring, s) == 0)
			return true;
	return false;
}

/* ---------------------------------------------------------------- */
/* Links                                                             */
/* ---------------------------------------------------------------- */

/*
 * link_realm - addrealm id to peer; assert the reply of the spec.  A
 * REALM_UNREACHABLE is tried again for up to 3 s: after a restart a
 * daemon answers on its port a moment before its realmd serves (that
 * window is the subject of test_addrealm_to_a_peer_just_started alone).
 */
static void
link_realm(struct client *c, const char *id, struct daemon *peer,
    const char *peer_name)
{
	double end = now_s() + 3.0;
	bool retried = false;
	cJSON *r;

	for (;;) {
		const cJSON *code;

		r = client_cmd(c, "addrealm %s 127.0.0.1 %d", id,
		    daemon_port(peer));
		code = cJSON_GetObjectItemCaseSensitive(r, "code");
		/*
		 * An attempt whose answer outran realm_wait on a loaded
		 * machine may still have made the link: the retry then
		 * finds the name taken, as a user's second addrealm does.
		 */
		if (retried && cJSON_IsString(code) &&
		    strcmp(code->valuestring, "REALM_EXISTS") == 0) {
			cJSON_Delete(r);
			return;
		}
		if (!cJSON_IsString(code) || strcmp(code->valuestring,
		    "REALM_UNREACHABLE") != 0 || now_s() > end)
			break;
		cJSON_Delete(r);
		retried = true;
		sleep_ms(100);
	}
	assert_reply_ok(r);
	assert_reply_message(r, "Connect realm berhasil");
	assert_string_equal(str(r, "realm"), id);
	assert_string_equal(str(r, "peer"), peer_name);
	cJSON_Delete(r);
}

/* list_realms - the "realms" array of listrealm (or an alias) */
static cJSON *
list_realms(struct client *c, const char *cmd)
{
	cJSON *r = client_cmd(c, "%s", cmd), *a;

	assert_reply_ok(r);
	a = cJSON_DetachItemFromObjectCaseSensitive(r, "realms");
	if (!cJSON_IsArray(a))
		fail_msg("%s: no \"realms\" array: %s", cmd, show(r));
	cJSON_Delete(r);
	return a;
}

/* realm_entry - the entry with this id (or name), or NULL */
static const cJSON *
realm_entry(const cJSON *realms, const char *id)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, realms) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "id");

		if ((cJSON_IsString(v) && strcmp(v->valuestring, id) == 0) ||
		    array_has_string(cJSON_GetObjectItemCaseSensitive(e,
		    "names"), id))
			return e;
	}
	return NULL;
}

/* link_state - the state of link id into buf ("" if not listed) */
static const char *
link_state(struct client *c, const char *id, char *buf, size_t bufsz)
{
	cJSON *a = list_realms(c, "listrealm");
	const cJSON *e = realm_entry(a, id);

	snprintf(buf, bufsz, "%s", e ? str(e, "state") : "");
	cJSON_Delete(a);
	return buf;
}

/* link_queued - "queued" of link id */
static int
link_queued(struct client *c, const char *id)
{
	cJSON *a = list_realms(c, "listrealm");
	const cJSON *e = realm_entry(a, id);
	int n;

	if (e == NULL)
		fail_msg("link %s not listed: %s", id, show(a));
	n = (int)num(e, "queued");
	cJSON_Delete(a);
	return n;
}

/*
 * wait_link_up - within timeout, listrealm says id is "up" and an ackrealm
 * round trip succeeds (a listed "up" alone may be stale just after the
 * peer went away).  False, with the last state in *last, on timeout.
 */
static bool
wait_link_up_quiet(struct client *c, const char *id, double timeout,
    char *last, size_t lastsz)
{
	double end = now_s() + timeout;

	do {
		link_state(c, id, last, lastsz);
		if (strcmp(last, "up") == 0) {
			cJSON *r = client_cmd(c, "ackrealm %s", id);
			bool ok = strcmp(str(r, "status"), "OK") == 0;

			cJSON_Delete(r);
			if (ok)
				return true;
			snprintf(last, lastsz, "up, but ackrealm failed");
		}
		sleep_ms(50);
	} while (now_s() < end);
	return false;
}

#define wait_link_up(c, id, t) wait_link_up_at(__FILE__, __LINE__, c, id, t)

static void
wait_link_up_at(const char *file, int line, struct client *c,
    const char *id, double timeout)
{
	char last[64];

	if (!wait_link_up_quiet(c, id, timeout, last, sizeof(last))) {
		print_error("# %s:%d: link %s not up within %.0f s; "
		    "last state \"%s\"\n", file, line, id, timeout, last);
		_fail(file, line);
	}
}

/*
 * link_up_both - addrealm beta from alpha's client am; within 5 s the
 * link is up on both sides (bh is a client of beta)
 */
#define link_up_both(am, bh, B) link_up_both_at(__FILE__, __LINE__, am, bh, B)

static void
link_up_both_at(const char *file, int line, struct client *am,
    struct client *bh, struct daemon *B)
{
	link_realm(am, "beta", B, "beta");
	wait_link_up_at(file, line, am, "beta", 5.0);
	wait_link_up_at(file, line, bh, "alpha", 5.0);
}

/* wait_state_not_up - within timeout the link leaves "up"; its state */
static const char *
wait_state_not_up(struct client *c, const char *id, double timeout,
    char *buf, size_t bufsz)
{
	double end = now_s() + timeout;

	while (strcmp(link_state(c, id, buf, bufsz), "up") == 0) {
		if (now_s() > end)
			fail_msg("link %s still \"up\" %.0f s after its peer "
			    "went away", id, timeout);
		sleep_ms(50);
	}
	return buf;
}

/* wait_queued - within timeout, "queued" of link id is n */
static void
wait_queued(struct client *c, const char *id, int n, double timeout)
{
	double end = now_s() + timeout;
	int q;

	while ((q = link_queued(c, id)) != n) {
		if (now_s() > end)
			fail_msg("link %s: queued = %d after %.0f s, expected "
			    "%d", id, q, timeout, n);
		sleep_ms(50);
	}
}

/* ---------------------------------------------------------------- */
/* Names of a link                                                   */
/* ---------------------------------------------------------------- */

/* log_count - how many times text is in d's log */
static int
log_count(const struct daemon *d, const char *text)
{
	char *log = daemon_log_text(d);
	int n = 0;

	for (const char *p = log; (p = strstr(p, text)) != NULL; p++)
		n++;
	free(log);
	return n;
}

/* link_names - the "names" of the link listed as id (fails if not listed) */
static cJSON *
link_names(struct client *c, const char *id)
{
	cJSON *a = list_realms(c, "listrealm"), *names;
	const cJSON *e = realm_entry(a, id);

	if (e == NULL)
		fail_msg("link %s not listed: %s", id, show(a));
	names = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(e, "names"),
	    true);
	if (!cJSON_IsArray(names))
		fail_msg("link %s has no \"names\" array: %s", id, show(a));
	cJSON_Delete(a);
	return names;
}

/*
 * expect_names - the link listed as id answers to exactly the names
 * given (a NULL-ended list), each listed once
 */
static void
expect_names(struct client *c, const char *id, ...)
{
	cJSON *names = link_names(c, id);
	const char *want;
	va_list ap;
	int n = 0;

	va_start(ap, id);
	while ((want = va_arg(ap, const char *)) != NULL) {
		if (!array_has_string(names, want))
			fail_msg("link %s does not answer to %s: %s", id, want,
			    show(names));
		n++;
	}
	va_end(ap);
	if (cJSON_GetArraySize(names) != n)
		fail_msg("link %s: expected %d names: %s", id, n, show(names));
	cJSON_Delete(names);
}

/* addrealm_reply - addrealm id 127.0.0.1 <peer's port>: the reply */
static cJSON *
addrealm_reply(struct client *c, const char *id, struct daemon *peer)
{
	return client_cmd(c, "addrealm %s 127.0.0.1 %d", id, daemon_port(peer));
}

/* ---------------------------------------------------------------- */
/* Realm inboxes                                                     */
/* ---------------------------------------------------------------- */

/*
 * drain_realm - inboxrealm id until no "more", every entry appended to
 * into (if not NULL); the number of entries read.
 */
static int
drain_realm_cmd(struct client *c, const char *cmd, const char *id,
    cJSON *into)
{
	int n = 0;

	for (int round = 0; round < 50; round++) {
		cJSON *r = client_cmd(c, "%s %s", cmd, id), *m, *e;
		bool more;

		assert_reply_ok(r);
		m = cJSON_GetObjectItemCaseSensitive(r, "messages");
		if (!cJSON_IsArray(m))
			fail_msg("%s %s: \"messages\" is not an array: %s",
			    cmd, id, show(r));
		cJSON_ArrayForEach(e, m) {
			if (!cJSON_IsObject(e))
				fail_msg("%s entry is not an object: %s", cmd,
				    show(r));
			if (into != NULL)
				cJSON_AddItemToArray(into,
				    cJSON_Duplicate(e, true));
			n++;
		}
		more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r,
		    "more"));
		cJSON_Delete(r);
		if (!more)
			return n;
	}
	fail_msg("%s %s still says more after 50 rounds", cmd, id);
	return n;
}

static int
drain_realm(struct client *c, const char *id, cJSON *into)
{
	return drain_realm_cmd(c, "inboxrealm", id, into);
}

/* collect_realm - drain until into holds want entries or timeout */
static void
collect_realm(struct client *c, const char *id, cJSON *into, int want,
    double timeout)
{
	double end = now_s() + timeout;

	for (;;) {
		drain_realm(c, id, into);
		if (cJSON_GetArraySize(into) >= want || now_s() > end)
			return;
		sleep_ms(100);
	}
}

/* count_text - entries of arr whose "msg" is text */
static int
count_text(const cJSON *arr, const char *text)
{
	const cJSON *e;
	int n = 0;

	cJSON_ArrayForEach(e, arr) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "msg");

		n += cJSON_IsString(m) && strcmp(m->valuestring, text) == 0;
	}
	return n;
}

/* entry_with_text - the entry of arr whose "msg" is text, or fail */
static const cJSON *
entry_with_text(const cJSON *arr, const char *text)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, arr) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "msg");

		if (cJSON_IsString(m) && strcmp(m->valuestring, text) == 0)
			return e;
	}
	fail_msg("no entry with msg \"%s\" in %s", text, show(arr));
	return NULL;
}

/* realm_pending - what inbox says waits from realm id (0 if nothing) */
static int
realm_pending(struct client *c, const char *id)
{
	cJSON *r = client_cmd(c, "inbox");
	const cJSON *p, *v;
	int n = 0;

	assert_reply_ok(r);
	p = cJSON_GetObjectItemCaseSensitive(r, "realm_pending");
	if (p != NULL && !cJSON_IsObject(p))
		fail_msg("realm_pending is not an object: %s", show(r));
	v = cJSON_GetObjectItemCaseSensitive(p, id);
	if (v != NULL && !cJSON_IsNumber(v))
		fail_msg("realm_pending.%s is not a number: %s", id, show(r));
	if (v != NULL)
		n = v->valueint;
	cJSON_Delete(r);
	return n;
}

/* check_entry - the entry shape of inboxrealm for a private message */
static void
check_entry(const cJSON *e, const char *text, const char *from,
    const char *from_name, const char *to_name, const char *realm)
{
	long epoch;

	assert_string_equal(str(e, "msg"), text);
	assert_string_equal(str(e, "from"), from);
	assert_string_equal(str(e, "msg_from"), from_name);
	assert_string_equal(str(e, "msg_to"), to_name);
	assert_string_equal(str(e, "realm"), realm);
	assert_true(num(e, "id") > 0);
	if (!iso8601_utc(str(e, "time"), &epoch))
		fail_msg("time is not ISO 8601 UTC: %s", show(e));
	assert_true(labs(epoch - (long)time(NULL)) < 600);
}

/* send_realm - sendrealm id user text; the reply, asserted OK */
static cJSON *
send_realm(struct client *c, const char *id, const char *user,
    const char *text)
{
	cJSON *r = client_cmd(c, "sendrealm %s %s %s", id, user, text);

	assert_reply_ok(r);
	assert_reply_message(r, "Message Sent");
	assert_string_equal(str(r, "realm"), id);
	assert_true(num(r, "id") > 0);
	return r;
}

/* send_delivered - sendrealm with the link up: OK and not queued */
#define send_delivered(c, id, user, text) \
	send_delivered_at(__FILE__, __LINE__, c, id, user, text)

static void
send_delivered_at(const char *file, int line, struct client *c,
    const char *id, const char *user, const char *text)
{
	double t0 = now_s();
	cJSON *r = send_realm(c, id, user, text);

	if (is_queued(r)) {
		print_error("# %s:%d: link %s is up, yet the reply (after "
		    "%.2f s) says queued: %s\n", file, line, id,
		    now_s() - t0, show(r));
		_fail(file, line);
	}
	cJSON_Delete(r);
}

/* send_queued - sendrealm with the link down: OK, queued; the id */
static double
send_queued(struct client *c, const char *id, const char *user,
    const char *text)
{
	cJSON *r = send_realm(c, id, user, text);
	double msgid = num(r, "id");

	if (!is_queued(r))
		fail_msg("link %s is down, the reply should say "
		    "\"queued\": true: %s", id, show(r));
	cJSON_Delete(r);
	return msgid;
}

/* ---------------------------------------------------------------- */
/* Files                                                             */
/* ---------------------------------------------------------------- */

/* random_bytes - len random bytes, every byte value among the first 256 */
static unsigned char *
random_bytes(size_t len)
{
	unsigned char *p = malloc(len ? len : 1);
	size_t got = 0;

	while (got < len) {
		ssize_t n = getrandom(p + got, len - got, 0);

		if (n > 0)
			got += (size_t)n;
		else if (errno != EINTR)
			fail_msg("getrandom: %s", strerror(errno));
	}
	for (size_t i = 0; i < len && i < 256; i++)
		p[i] = (unsigned char)i;
	return p;
}

/* send_file - "cmd id to name content"; the reply */
static cJSON *
send_file(struct client *c, const char *cmd, const char *id, const char *to,
    const char *name, const char *content)
{
	size_t len = strlen(cmd) + strlen(id) + strlen(to) + strlen(name) +
	    strlen(content) + 8;
	char *line = malloc(len);
	cJSON *r;

	snprintf(line, len, "%s %s %s %s %s\r\n", cmd, id, to, name, content);
	client_write(c, line, strlen(line));
	free(line);
	r = client_reply(c);
	return r;
}

/* check_file_entry - a file entry holds exactly data */
static void
check_file_entry(const cJSON *e, const char *name, const unsigned char *data,
    size_t len)
{
	const char *content = str(e, "file_content");
	unsigned char *back = malloc(strlen(content) + 4);
	long n;

	assert_string_equal(str(e, "file_name"), name);
	assert_true(num(e, "file_size") == (double)len);
	assert_int_equal(strlen(str(e, "file_id")), 16);
	n = unb64(content, back);
	if (n != (long)len)
		fail_msg("file %s: %ld bytes after base64, expected %zu", name,
		    n, len);
	assert_memory_equal(back, data, len);
	free(back);
}

/* ---------------------------------------------------------------- */
/* Processes                                                         */
/* ---------------------------------------------------------------- */

/* wait_realmd - a realmd other than old within timeout, or fail */
static pid_t
wait_realmd(struct daemon *d, pid_t old, double timeout)
{
	double end = now_s() + timeout;
	pid_t p;

	while ((p = daemon_realmd(d)) == 0 || p == old) {
		if (now_s() > end)
			fail_msg("no realmd process (other than pid %d) "
			    "within %.0f s", (int)old, timeout);
		sleep_ms(20);
	}
	return p;
}

/* kill_realmd - SIGKILL the realmd of d; its pid */
static pid_t
kill_realmd(struct daemon *d)
{
	pid_t p = daemon_realmd(d);

	if (p == 0)
		fail_msg("no child with \"realmd\" in its title");
	kill(p, SIGKILL);
	if (!proc_wait_gone(p, 5.0))
		fail_msg("realmd %d still alive 5 s after SIGKILL", (int)p);
	return p;
}

/* ---------------------------------------------------------------- */
/* Raw sockets                                                       */
/* ---------------------------------------------------------------- */

/*
 * raw_line - one '\n'-ended line read byte by byte within ms, parsed as
 * JSON; NULL at the end of the connection.  Fails on a timeout or on a
 * line that is not a JSON object.
 */
static cJSON *
raw_line(int fd, int ms)
{
	char buf[8192];
	size_t n = 0;
	double end = now_s() + ms / 1000.0;
	cJSON *j;

	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		int left = (int)((end - now_s()) * 1000);
		ssize_t r;

		if (left <= 0)
			fail_msg("no line from the daemon within %d ms (got "
			    "\"%.*s\")", ms, (int)n, buf);
		if (poll(&p, 1, left) <= 0)
			continue;
		r = read(fd, buf + n, 1);
		if (r == 0 || (r == -1 && errno == ECONNRESET)) {
			if (n > 0)
				fail_msg("connection ended inside a line: "
				    "\"%.*s\"", (int)n, buf);
			return NULL;
		}
		if (r == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			fail_msg("read: %s", strerror(errno));
		}
		if (buf[n] == '\n')
			break;
		if (++n == sizeof(buf) - 1)
			fail_msg("line longer than %zu bytes", sizeof(buf));
	}
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	j = cJSON_Parse(buf);
	if (!cJSON_IsObject(j))
		fail_msg("link line is not a JSON object: \"%s\"", buf);
	return j;
}

/* raw_eof - the daemon ends the connection within ms */
static void
raw_eof(int fd, int ms)
{
	cJSON *j = raw_line(fd, ms);

	if (j != NULL)
		fail_msg("expected the connection to end, got %s", show(j));
}

/* is_hex_len - s is exactly len lower- or upper-case hex digits */
static bool
is_hex_len(const char *s, size_t len)
{
	if (strlen(s) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (strchr("0123456789abcdefABCDEF", s[i]) == NULL)
			return false;
	return true;
}

/* ================================================================ */
/* Tests                                                             */
/* ================================================================ */

/*
 * addrealm by host name: the name is looked up without holding realmd
 * up (getaddrinfo_a), and the link works like one made to an address.
 * A name that cannot be found is refused within realm_wait, and the
 * link that is up carries messages at once while it is being looked up.
 */
static void
test_addrealm_by_host_name(void **state)
{
	struct fed *f = *state;
	struct daemon *A = f->d[0], *B = f->d[1];
	struct client *am = client_login(A, "messi"),
	    *am2 = client_login(A, "lineker");
	struct client *bh = client_login(B, "henderson");
	cJSON *r, *a, *got = cJSON_CreateArray();
	const cJSON *e;
	double t0;

	r = client_cmd(am, "addrealm beta localhost %d", daemon_port(B));
	assert_reply_ok(r);
	assert_string_equal(str(r, "peer"), "beta");
	cJSON_Delete(r);
	wait_link_up(am, "beta", 5.0);
	a = list_realms(am, "listrealm");
	e = realm_entry(a, "beta");
	if (e == NULL)
		fail_msg("alpha does not list beta: %s", show(a));
	assert_string_equal(str(e, "host"), "localhost");
	cJSON_Delete(a);
	send_delivered(am, "beta", "henderson", "by name");
	collect_realm(bh, "alpha", got, 1, DRAIN_TIMEOUT);
	assert_int_equal(cJSON_GetArraySize(got), 1);
	assert_string_equal(str(cJSON_GetArrayItem(got, 0), "msg"), "by name");

	/* a name nobody has; meanwhile beta's link carries a message */
	t0 = now_s();
	client_send(am, "addrealm gamma no-such-host.invalid %d\r\n",
	    daemon_port(B));
	send_delivered(am2, "beta", "henderson", "while looking up");
	r = client_reply(am);
	assert_reply_error(r, "REALM_UNREACHABLE");
	if (strncmp(str(r, "message"), "Realm Unreachable: ", 19) != 0)
		fail_msg("the refusal does not say why: %s", show(r));
	cJSON_Delete(r);
	if (now_s() - t0 > 4.5)
		fail_msg("addrealm of an unknown name took %.1f s; realm_wait "
		    "is 2 s", now_s() - t0);
	ERR(am, "NO_REALM", "ackrealm gamma");
	collect_realm(bh, "alpha", got, 2, DRAIN_TIMEOUT);
	assert_int_equal(cJSON_GetArraySize(got), 2);
	cJSON_Delete(got);
}

/*
 * One addrealm alpha -> beta, then every link and private-message
 * command both ways, with the shapes of docs/PROTOCOL.md.
 */
static void
test_link_and_private_messages_both_ways(void **state)
{
	struct fed *f = *state;
	struct daemon *A = f->d[0], *B = f->d[1];
	struct client *am = client_login(A, "messi"), *anon = client_connect(A);
	struct client *bh = client_login(B, "henderson"),
	    *bl = client_login(B, "lineker");
	const char *const text = "h\xc3\xa9llo   w\xc3\xb6rld \xe2\x9c\x93 from alpha";
	const cJSON *e;
	cJSON *a, *got = cJSON_CreateArray();
	char tok[64], line[256];

	/*
	 * every realm command needs a session but addrealm, which the
	 * loopback may run without one (addrealm_without_session)
	 */
	ERR(anon, "NO_SESSION", "listrealm");
	ERR(anon, "REALM_UNREACHABLE", "addrealm beta 127.0.0.1 1");
	ERR(anon, "NO_SESSION", "sendrealm beta henderson hi");

	a = list_realms(am, "listrealm");
	assert_int_equal(cJSON_GetArraySize(a), 0);
	cJSON_Delete(a);

	link_up_both(am, bh, B);

	/* the dialer lists the link under its id, with the peer's address */
	a = list_realms(am, "listrealm");
	assert_int_equal(cJSON_GetArraySize(a), 1);
	e = realm_entry(a, "beta");
	if (e == NULL)
		fail_msg("alpha does not list beta: %s", show(a));
	assert_string_equal(str(e, "peer"), "beta");
	assert_string_equal(str(e, "host"), "127.0.0.1");
	assert_int_equal((int)num(e, "port"), daemon_port(B));
	assert_true(flag(e, "dialer"));
	assert_string_equal(str(e, "state"), "up");
	assert_int_equal((int)num(e, "queued"), 0);
	num(e, "sent");
	num(e, "received");
	cJSON_Delete(a);

	/* the accepter lists it under alpha's realm_name */
	a = list_realms(bh, "listrealm");
	assert_int_equal(cJSON_GetArraySize(a), 1);
	e = realm_entry(a, "alpha");
	if (e == NULL)
		fail_msg("beta does not list alpha: %s", show(a));
	assert_string_equal(str(e, "peer"), "alpha");
	assert_false(flag(e, "dialer"));
	assert_string_equal(str(e, "state"), "up");
	assert_int_equal((int)num(e, "queued"), 0);
	cJSON_Delete(a);

	/* the aliases of listrealm */
	{
		static const char *const alias[] = {
			"connectedrealm", "getrealms", "checkrealm"
		};
		for (int i = 0; i < 3; i++) {
			a = list_realms(am, alias[i]);
			assert_int_equal(cJSON_GetArraySize(a), 1);
			assert_non_null(realm_entry(a, "beta"));
			cJSON_Delete(a);
		}
	}

	/*
	 * a second addrealm under a name the link has, from either side:
	 * "Realm sudah ada" (seeds 001 and 002), and the link stays as it is
	 */
	snprintf(line, sizeof(line), "addrealm beta 127.0.0.1 %d",
	    daemon_port(B));
	ERR(am, "REALM_EXISTS", "%s", line);
	snprintf(line, sizeof(line), "addrealm alpha 127.0.0.1 %d",
	    daemon_port(A));
	ERR(bh, "REALM_EXISTS", "%s", line);
	a = list_realms(bh, "listrealm");
	assert_int_equal(cJSON_GetArraySize(a), 1);
	cJSON_Delete(a);
	a = list_realms(am, "listrealm");
	assert_int_equal(cJSON_GetArraySize(a), 1);
	cJSON_Delete(a);

	/* unknown ids */
	ERR(am, "NO_REALM", "sendrealm nosuch henderson hi");
	ERR(am, "NO_REALM", "sendprivaterealm nosuch henderson hi");
	ERR(am, "NO_REALM", "sendfilerealm nosuch henderson a.txt QUJD");
	ERR(am, "NO_REALM", "sendgrouprealm nosuch henderson hi");
	ERR(am, "NO_REALM", "ackrealm nosuch");
	ERR(am, "NO_REALM", "inboxrealm nosuch");
	ERR(am, "NO_REALM", "joingrouprealm nosuch football");
	ERR(am, "NO_REALM", "inboxgrouprealm nosuch football");
	/* missing arguments */
	ERR(am, "BAD_ARGS", "addrealm beta");
	ERR(am, "BAD_ARGS", "sendrealm beta henderson");
	ERR(am, "BAD_ARGS", "ackrealm");

	/* ackrealm both ways */
	{
		cJSON *r = client_cmd(am, "ackrealm beta");
		assert_reply_ok(r);
		assert_true(num(r, "rtt_ms") >= 0);
		cJSON_Delete(r);
		r = client_cmd(bh, "ackrealm alpha");
		assert_reply_ok(r);
		assert_true(num(r, "rtt_ms") >= 0);
		cJSON_Delete(r);
	}

	/* alpha -> beta: the verdict came, so it is stored at beta already */
	{
		cJSON *r = send_realm(am, "beta", "henderson", text);
		assert_false(is_queued(r));
		assert_int_equal((int)num(r, "recipients"), 1);
		cJSON_Delete(r);
	}
	assert_int_equal(realm_pending(bl, "alpha"), 0);
	{
		cJSON *r = client_cmd(bh, "inbox");
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(r,
		    "realm_pending");
		assert_reply_ok(r);
		assert_int_equal(inbox_count(r), 0);
		if (!cJSON_IsObject(p) || cJSON_GetArraySize(p) != 1 ||
		    num(p, "alpha") != 1)
			fail_msg("inbox should say realm_pending "
			    "{\"alpha\":1}: %s", show(r));
		cJSON_Delete(r);
	}
	assert_int_equal(drain_realm(bh, "alpha", got), 1);
	check_entry(cJSON_GetArrayItem(got, 0), text, "messi", "Lionel Messi",
	    "Jordan Henderson", "alpha");
	/* drained once: gone, also through the alias */
	assert_int_equal(drain_realm_cmd(bh, "getrealminbox", "alpha", NULL), 0);
	assert_int_equal(realm_pending(bh, "alpha"), 0);
	assert_int_equal(drain_realm(bl, "alpha", NULL), 0);

	/* beta -> alpha, on the link that alpha made */
	send_delivered(bh, "alpha", "messi", "reply from beta");
	cJSON_Delete(got);
	got = cJSON_CreateArray();
	assert_int_equal(drain_realm_cmd(am, "getrealminbox", "beta", got), 1);
	check_entry(cJSON_GetArrayItem(got, 0), "reply from beta", "henderson",
	    "Jordan Henderson", "Lionel Messi", "beta");
	cJSON_Delete(got);

	/* sendprivaterealm; the token as first argument; the long form */
	{
		cJSON *r = client_cmd(bl, "sendprivaterealm alpha messi alias ok");
		assert_reply_ok(r);
		assert_string_equal(str(r, "realm"), "alpha");
		assert_false(is_queued(r));
		cJSON_Delete(r);
	}
	snprintf(tok, sizeof(tok), "%s", client_auth(client_connect(A),
	    "lineker", SEED_PASSWORD));
	OK(anon, "Message Sent", "sendrealm %s beta henderson via token", tok);
	snprintf(line, sizeof(line), "sendrealm 127.0.0.1 %d %s beta "
	    "henderson via   long form", daemon_port(A), tok);
	OK(anon, "Message Sent", "%s", line);
	got = cJSON_CreateArray();
	assert_int_equal(drain_realm(bh, "alpha", got), 2);
	assert_string_equal(str(cJSON_GetArrayItem(got, 0), "msg"), "via token");
	assert_string_equal(str(cJSON_GetArrayItem(got, 0), "from"), "lineker");
	assert_string_equal(str(cJSON_GetArrayItem(got, 1), "msg"),
	    "via   long form");
	cJSON_Delete(got);
	got = cJSON_CreateArray();
	assert_int_equal(drain_realm(am, "beta", got), 1);
	check_entry(cJSON_GetArrayItem(got, 0), "alias ok", "lineker",
	    "Gary Lineker", "Lionel Messi", "beta");
	cJSON_Delete(got);

	/* an unknown user at the peer: the verdict reaches the sender */
	{
		cJSON *r = client_cmd(am, "sendrealm beta nobody hello");
		assert_reply_error(r, "NO_USER");
		assert_reply_message(r, "User Tidak Ditemukan");
		cJSON_Delete(r);
		r = client_cmd(bh, "sendprivaterealm alpha nobody hello");
		assert_reply_error(r, "NO_USER");
		cJSON_Delete(r);
	}
	assert_string_equal(link_state(am, "beta", line, sizeof(line)), "up");
	wait_queued(am, "beta", 0, 3.0);
	wait_queued(bh, "alpha", 0, 3.0);
	/* refused in the reply: no bounce notice as well (after a round trip) */
	OK(am, NULL, "ackrealm beta");
	sleep_ms(300);
	{
		cJSON *r = client_cmd(am, "inbox");
		assert_int_equal(inbox_count(r), 0);
		cJSON_Delete(r);
	}

	/* the counters moved */
	a = list_realms(am, "listrealm");
	e = realm_entry(a, "beta");
	assert_true(num(e, "sent") >= 3);
	assert_true(num(e, "received") >= 2);
	cJSON_Delete(a);
	a = list_realms(bh, "listrealm");
	e = realm_entry(a, "alpha");
	assert_true(num(e, "sent") >= 2);
	assert_true(num(e, "received") >= 3);
	cJSON_Delete(a);
}

/*
 * sendgrouprealm to lists and groups, joingrouprealm, inboxgrouprealm
 * and the members at home, both ways.
 */
static void
test_groups_across_realms_both_ways(void **state)
{
	struct fed *f = *state;
	struct daemon *A = f->d[0], *B = f->d[1];
	struct client *am = client_login(A, "messi"),
	    *al = client_login(A, "lineker");
	struct client *bh = client_login(B, "henderson"),
	    *bl = client_login(B, "lineker");
	cJSON *r, *got;
	const cJSON *e, *members;

	link_up_both(am, bh, B);

	/* comma lists resolved at the peer */
	r = client_cmd(am, "sendgrouprealm beta henderson,nobody hi list");
	assert_reply_ok(r);
	assert_reply_message(r, "Message Sent");
	assert_string_equal(str(r, "realm"), "beta");
	assert_int_equal((int)num(r, "recipients"), 1);
	if (!array_has_string(cJSON_GetObjectItem(r, "unknown"), "nobody") ||
	    cJSON_GetArraySize(cJSON_GetObjectItem(r, "unknown")) != 1)
		fail_msg("expected \"unknown\":[\"nobody\"]: %s", show(r));
	assert_false(is_queued(r));
	cJSON_Delete(r);
	r = client_cmd(am, "sendgrouprealm beta henderson,lineker to both");
	assert_reply_ok(r);
	assert_int_equal((int)num(r, "recipients"), 2);
	assert_null(cJSON_GetObjectItem(r, "unknown"));
	cJSON_Delete(r);
	got = cJSON_CreateArray();
	assert_int_equal(drain_realm(bh, "alpha", got), 2);
	assert_string_equal(str(cJSON_GetArrayItem(got, 0), "msg"), "hi list");
	assert_string_equal(str(cJSON_GetArrayItem(got, 1), "msg"), "to both");
	assert_string_equal(str(cJSON_GetArrayItem(got, 0), "realm"), "alpha");
	assert_string_equal(str(cJSON_GetArrayItem(got, 0), "from"), "messi");
	cJSON_Delete(got);
	got = cJSON_CreateArray();
	assert_int_equal(drain_realm(bl, "alpha", got), 1);
	assert_string_equal(str(cJSON_GetArrayItem(got, 0), "msg"), "to both");
	cJSON_Delete(got);
	ERR(am, "NO_USER", "sendgrouprealm beta nobody,ghost x");
	ERR(am, "NO_GROUP", "sendgrouprealm beta nosuchthing x");

	/* a group at beta, with a password: members only */
	OK(bh, NULL, "addgroup football fpw");
	OK(bl, NULL, "joingroup football fpw");
	ERR(am, "NOT_MEMBER", "sendgrouprealm beta football early");
	ERR(am, "NOT_MEMBER", "inboxgrouprealm beta football");
	ERR(am, "NO_GROUP", "joingrouprealm beta nosuch");
	OK(am, NULL, "joingrouprealm beta football fpw");
	ERR(am, "ALREADY_MEMBER", "joingrouprealm beta football fpw");
	r = client_cmd(bh, "groupmembers football");
	assert_reply_ok(r);
	members = cJSON_GetObjectItem(r, "members");
	if (cJSON_GetArraySize(members) != 3 ||
	    !array_has_string(members, "messi@alpha") ||
	    !array_has_string(members, "henderson") ||
	    !array_has_string(members, "lineker"))
		fail_msg("members of football at beta: expected henderson, "
		    "lineker, messi@alpha: %s", show(r));
	cJSON_Delete(r);

	r = client_cmd(am, "sendgrouprealm beta football goal!");
	assert_reply_ok(r);
	assert_reply_message(r, "Message Sent");
	assert_string_equal(str(r, "realm"), "beta");
	assert_string_equal(str(r, "group"), "football");
	assert_int_equal((int)num(r, "recipients"), 2);
	cJSON_Delete(r);
	r = client_cmd(am, "sendgrouprealm beta group:football prefixed");
	assert_reply_ok(r);
	assert_int_equal((int)num(r, "recipients"), 2);
	cJSON_Delete(r);
	for (int i = 0; i < 2; i++) {
		got = cJSON_CreateArray();
		assert_int_equal(drain_realm(i ? bl : bh, "alpha", got), 2);
		e = entry_with_text(got, "goal!");
		assert_string_equal(str(e, "group"), "football");
		assert_string_equal(str(e, "from"), "messi");
		assert_string_equal(str(e, "msg_from"), "Lionel Messi");
		assert_string_equal(str(e, "realm"), "alpha");
		assert_string_equal(str(entry_with_text(got, "prefixed"),
		    "group"), "football");
		cJSON_Delete(got);
	}

	/* a local message at beta: in the history, not pushed to alpha */
	OK(bh, NULL, "sendgroup football local news");
	r = client_cmd(am, "inboxgrouprealm beta football");
	assert_reply_ok(r);
	assert_string_equal(str(r, "group"), "football");
	{
		const cJSON *m = cJSON_GetObjectItem(r, "messages");
		if (!cJSON_IsArray(m) || cJSON_GetArraySize(m) != 3)
			fail_msg("history of football: expected 3 messages: %s",
			    show(r));
		assert_string_equal(str(cJSON_GetArrayItem(m, 0), "msg"), "goal!");
		assert_string_equal(str(cJSON_GetArrayItem(m, 1), "msg"), "prefixed");
		assert_string_equal(str(cJSON_GetArrayItem(m, 2), "msg"),
		    "local news");
		assert_string_equal(str(cJSON_GetArrayItem(m, 2), "from"),
		    "henderson");
	}
	cJSON_Delete(r);
	/* beta's own members see the remote member's message in the history */
	r = client_cmd(bl, "inboxgroup football");
	assert_reply_ok(r);
	assert_int_equal(count_text(cJSON_GetObjectItem(r, "messages"), "goal!"), 1);
	cJSON_Delete(r);
	OK(am, NULL, "ackrealm beta");
	sleep_ms(300);
	assert_int_equal(drain_realm(am, "beta", NULL), 0);
	/* another user of alpha is no member */
	ERR(al, "NOT_MEMBER", "inboxgrouprealm beta football");
	ERR(al, "NOT_MEMBER", "sendgrouprealm beta football not me");

	/* the other way: a group at alpha with a password, joined from beta */
	OK(am, NULL, "addgroup jarkom pw1");
	ERR(bh, "BAD_PASSWORD", "joingrouprealm alpha jarkom");
	ERR(bh, "BAD_PASSWORD", "joingrouprealm alpha jarkom wrong");
	OK(bh, NULL, "joingrouprealm alpha jarkom pw1");
	r = client_cmd(am, "group members jarkom");
	assert_reply_ok(r);
	members = cJSON_GetObjectItem(r, "members");
	if (cJSON_GetArraySize(members) != 2 ||
	    !array_has_string(members, "messi") ||
	    !array_has_string(members, "henderson@beta"))
		fail_msg("members of jarkom at alpha: expected messi, "
		    "henderson@beta: %s", show(r));
	cJSON_Delete(r);
	r = client_cmd(bh, "sendgrouprealm alpha jarkom from beta");
	assert_reply_ok(r);
	assert_string_equal(str(r, "realm"), "alpha");
	assert_string_equal(str(r, "group"), "jarkom");
	assert_int_equal((int)num(r, "recipients"), 1);
	cJSON_Delete(r);
	got = cJSON_CreateArray();
	assert_int_equal(drain_realm(am, "beta", got), 1);
	e = cJSON_GetArrayItem(got, 0);
	assert_string_equal(str(e, "msg"), "from beta");
	assert_string_equal(str(e, "group"), "jarkom");
	assert_string_equal(str(e, "from"), "henderson");
	assert_string_equal(str(e, "realm"), "beta");
	cJSON_Delete(got);
	r = client_cmd(bh, "inboxgrouprealm alpha jarkom");
	assert_reply_ok(r);
	assert_string_equal(str(r, "group"), "jarkom");
	assert_int_equal(count_text(cJSON_GetObjectItem(r, "messages"),
	    "from beta"), 1);
	cJSON_Delete(r);
	r = client_cmd(am, "inboxgroup jarkom");
	assert_int_equal(count_text(cJSON_GetObjectItem(r, "messages"),
	    "from beta"), 1);
	cJSON_Delete(r);
}

/* Files across the link, private and group, byte-exact. */
static void
test_files_across_realms_byte_exact(void **state)
{
	struct fed *f = *state;
	struct daemon *A = f->d[0], *B = f->d[1];
	struct client *am = client_login(A, "messi");
	struct client *bh = client_login(B, "henderson"),
	    *bl = client_login(B, "lineker");
	size_t big = (1 << 20) + 7, small = 300, gsize = 65536 + 2;
	unsigned char *data = random_bytes(big), *sdata = random_bytes(small);
	unsigned char *gdata = random_bytes(gsize);
	char *enc = b64(data, big), *senc = b64(sdata, small);
	char *genc = b64(gdata, gsize), *wrapped, file_id[64];
	cJSON *r, *got;
	const cJSON *e;

	link_up_both(am, bh, B);

	/* alpha -> beta, 1 MiB, the name made harmless as by sendfile */
	r = send_file(am, "sendfilerealm", "beta", "henderson",
	    "../dir/data.bin", enc);
	assert_reply_ok(r);
	assert_string_equal(str(r, "realm"), "beta");
	assert_false(is_queued(r));
	cJSON_Delete(r);
	got = cJSON_CreateArray();
	assert_int_equal(drain_realm(bh, "alpha", got), 1);
	e = cJSON_GetArrayItem(got, 0);
	check_file_entry(e, "data.bin", data, big);
	assert_string_equal(str(e, "from"), "messi");
	assert_string_equal(str(e, "realm"), "alpha");
	cJSON_Delete(got);

	/* beta -> alpha: the aliases, the b'...' wrapper, an empty file */
	wrapped = malloc(strlen(senc) + 4);
	sprintf(wrapped, "b'%s'", senc);
	r = send_file(bh, "sendprivatefilerealm", "alpha", "messi", "small.bin",
	    wrapped);
	assert_reply_ok(r);
	assert_string_equal(str(r, "realm"), "alpha");
	cJSON_Delete(r);
	r = send_file(bh, "sendrealmfile", "alpha", "messi", "empty.txt", "b''");
	assert_reply_ok(r);
	cJSON_Delete(r);
	got = cJSON_CreateArray();
	assert_int_equal(drain_realm(am, "beta", got), 2);
	check_file_entry(cJSON_GetArrayItem(got, 0), "small.bin", sdata, small);
	check_file_entry(cJSON_GetArrayItem(got, 1), "empty.txt", sdata, 0);
	assert_string_equal(str(cJSON_GetArrayItem(got, 0), "realm"), "beta");
	cJSON_Delete(got);

	/* refused before anything is stored */
	r = send_file(am, "sendfilerealm", "beta", "henderson", "x",
	    "!!notbase64!!");
	assert_reply_error(r, "BAD_FILE");
	cJSON_Delete(r);
	r = send_file(am, "sendfilerealm", "beta", "nobody", "x", "QUJD");
	assert_reply_error(r, "NO_USER");
	cJSON_Delete(r);

	/* a group file at beta's group */
	OK(bh, NULL, "addgroup football");
	OK(bl, NULL, "joingroup football");
	OK(am, NULL, "joingrouprealm beta football");
	r = send_file(am, "sendgroupfilerealm", "beta", "football", "pic.bin",
	    genc);
	assert_reply_ok(r);
	assert_string_equal(str(r, "realm"), "beta");
	assert_string_equal(str(r, "group"), "football");
	assert_int_equal((int)num(r, "recipients"), 2);
	cJSON_Delete(r);
	for (int i = 0; i < 2; i++) {
		got = cJSON_CreateArray();
		assert_int_equal(drain_realm(i ? bl : bh, "alpha", got), 1);
		e = cJSON_GetArrayItem(got, 0);
		check_file_entry(e, "pic.bin", gdata, gsize);
		assert_string_equal(str(e, "group"), "football");
		if (i == 0)	/* henderson's own copy */
			snprintf(file_id, sizeof(file_id), "%s",
			    str(e, "file_id"));
		cJSON_Delete(got);
	}
	/* the history from alpha: the file without its body */
	r = client_cmd(am, "inboxgrouprealm beta football");
	assert_reply_ok(r);
	e = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "messages"), 0);
	if (e == NULL)
		fail_msg("empty history: %s", show(r));
	assert_string_equal(str(e, "file_name"), "pic.bin");
	assert_true(num(e, "file_size") == (double)gsize);
	assert_null(cJSON_GetObjectItem(e, "file_content"));
	cJSON_Delete(r);
	/* at home the body is in the group history: downloadfile */
	r = client_cmd(bh, "downloadfile %s", file_id);
	assert_reply_ok(r);
	{
		unsigned char *back = malloc(gsize + 4);
		assert_int_equal(unb64(str(r, "message"), back), (long)gsize);
		assert_memory_equal(back, gdata, gsize);
		free(back);
	}
	cJSON_Delete(r);

	/* a file to a comma list, through the other alias */
	r = send_file(am, "sendgrouprealmfile", "beta", "henderson,ghost",
	    "list.bin", senc);
	assert_reply_ok(r);
	assert_int_equal((int)num(r, "recipients"), 1);
	assert_true(array_has_string(cJSON_GetObjectItem(r, "unknown"), "ghost"));
	cJSON_Delete(r);
	got = cJSON_CreateArray();
	assert_int_equal(drain_realm(bh, "alpha", got), 1);
	check_file_entry(cJSON_GetArrayItem(got, 0), "list.bin", sdata, small);
	cJSON_Delete(got);
	free(data);
	free(sdata);
	free(gdata);
	free(enc);
	free(senc);
	free(genc);
	free(wrapped);
}

/*
 * A peer with another secret is refused, both ways, and so is a realm
 * without realm_secret; nothing is listed.
 */
static void
test_wrong_secret_refused(void **state)
{
	struct fed *f = *state;
	struct daemon *A = f->d[0], *B = f->d[1];
	struct client *am = client_login(A, "messi"),
	    *bh = client_login(B, "henderson");
	cJSON *r, *a;

	r = client_cmd(am, "addrealm beta 127.0.0.1 %d", daemon_port(B));
	assert_reply_error(r, "REALM_UNREACHABLE");
	if (strncmp(str(r, "message"), "Realm Unreachable", 17) != 0)
		fail_msg("expected a \"Realm Unreachable...\" message: %s",
		    show(r));
	cJSON_Delete(r);
	ERR(bh, "REALM_UNREACHABLE", "addrealm alpha 127.0.0.1 %d",
	    daemon_port(A));
	sleep_ms(300);
	for (int i = 0; i < 2; i++) {
		a = list_realms(i ? bh : am, "listrealm");
		if (cJSON_GetArraySize(a) != 0)
			fail_msg("%s lists a refused link: %s",
			    i ? "beta" : "alpha", show(a));
		cJSON_Delete(a);
	}
	ERR(am, "NO_REALM", "sendrealm beta henderson hi");
	ERR(bh, "NO_REALM", "sendrealm alpha messi hi");
	assert_int_equal(realm_pending(bh, "alpha"), 0);

	/* gamma has no realm_secret: it neither dials nor accepts */
	{
		struct daemon *G = f->d[2];
		struct client *gm = client_login(G, "messi");

		ERR(am, "REALM_UNREACHABLE", "addrealm gamma 127.0.0.1 %d",
		    daemon_port(G));
		ERR(gm, "REALM_UNREACHABLE", "addrealm alpha 127.0.0.1 %d",
		    daemon_port(A));
		for (int i = 0; i < 2; i++) {
			a = list_realms(i ? gm : am, "listrealm");
			if (cJSON_GetArraySize(a) != 0)
				fail_msg("%s lists a refused link: %s",
				    i ? "gamma" : "alpha", show(a));
			cJSON_Delete(a);
		}
	}
}

/* Nothing listening, and a listener that never answers. */
static void
test_dead_port_and_silent_peer_refused(void **state)
{
	struct fed *f = *state;
	struct client *am = client_login(f->d[0], "messi");
	int port, fd;
	double t0;
	cJSON *r, *a;

	r = client_cmd(am, "addrealm gamma 127.0.0.1 1");
	assert_reply_error(r, "REALM_UNREACHABLE");
	assert_reply_message(r, "Realm Unreachable: Connection refused");
	cJSON_Delete(r);

	/* a port that was just free: bound, never listened, closed */
	fd = loopback_listener(&port, false);
	close(fd);
	ERR(am, "REALM_UNREACHABLE", "addrealm gamma 127.0.0.1 %d", port);

	/* the handshake takes longer than realm_wait (2 s) */
	fd = loopback_listener(&port, true);
	t0 = now_s();
	ERR(am, "REALM_UNREACHABLE", "addrealm silent 127.0.0.1 %d", port);
	if (now_s() - t0 > 4.5)
		fail_msg("addrealm to a silent peer took %.1f s; realm_wait "
		    "is 2 s", now_s() - t0);
	close(fd);

	ERR(am, "BAD_NAME", "addrealm bad/name 127.0.0.1 %d", port);
	a = list_realms(am, "listrealm");
	if (cJSON_GetArraySize(a) != 0)
		fail_msg("refused links are listed: %s", show(a));
	cJSON_Delete(a);
	ERR(am, "NO_REALM", "ackrealm gamma");
	ERR(am, "NO_REALM", "ackrealm silent");
}

/*
 * A forged dialer on the chat port: after TLS the challenge is well
 * formed and fresh, a bad proof and a version other than 2 end in
 * REALM_UNREACHABLE and a closed connection, and nothing the forger
 * sent is stored.
 */
static void
test_forged_dialer_refused_on_the_wire(void **state)
{
	struct fed *f = *state;
	struct daemon *A = f->d[0];
	static const char hello1[] = "realmlink {\"v\":1,\"realm\":\"evil\","
	    "\"nonce\":\"00112233445566778899aabbccddeeff\",\"inst\":\"0123456789abcdef\"}\n";
	static const char forged[] = "{\"t\":\"proof\",\"proof\":\""
	    "0000000000000000000000000000000000000000000000000000000000000000"
	    "\"}\n{\"t\":\"msg\",\"id\":1,\"seq\":1,\"kind\":\"private\","
	    "\"from\":\"evil\",\"from_name\":\"Evil\",\"to\":\"messi\","
	    "\"time\":1796000000,\"text\":\"forged\"}";
	char nonce[2][80];
	struct client *am;
	cJSON *j, *a;

	for (int i = 0; i < 2; i++) {
		struct tlink *t = tl_dial(daemon_port(A), "evil");

		if (t == NULL)
			fail_msg("the acceptor did not start TLS");
		j = tl_line(t, 5000);
		if (j == NULL)
			fail_msg("connection ended instead of a challenge");
		if (strcmp(str(j, "t"), "challenge") != 0)
			fail_msg("expected a challenge: %s", show(j));
		assert_int_equal((int)num(j, "v"), 2);
		assert_string_equal(str(j, "realm"), "alpha");
		if (!is_hex_len(str(j, "nonce"), 32))
			fail_msg("nonce is not 16 bytes in hex: %s", show(j));
		if (!is_hex_len(str(j, "proof"), 64))
			fail_msg("proof is not HMAC-SHA-256 in hex: %s",
			    show(j));
		assert_true(strlen(str(j, "inst")) > 0);
		snprintf(nonce[i], sizeof(nonce[i]), "%s", str(j, "nonce"));
		cJSON_Delete(j);
		tl_send(t, forged);
		j = tl_line(t, 5000);
		if (j == NULL)
			fail_msg("connection ended without an error line");
		assert_string_equal(str(j, "t"), "error");
		assert_string_equal(str(j, "code"), "REALM_UNREACHABLE");
		str(j, "message");
		cJSON_Delete(j);
		if ((j = tl_line(t, 5000)) != NULL)
			fail_msg("expected the end, got %s", show(j));
		tl_close(t);
	}
	if (strcmp(nonce[0], nonce[1]) == 0)
		fail_msg("two handshakes got the same nonce %s", nonce[0]);

	/* another version of the link protocol */
	{
		struct client *raw = client_connect(A);
		int fd = client_fd(raw);

		client_write(raw, hello1, strlen(hello1));
		j = raw_line(fd, 5000);
		if (j == NULL)
			fail_msg("connection ended without an error line");
		assert_string_equal(str(j, "t"), "error");
		assert_string_equal(str(j, "code"), "REALM_UNREACHABLE");
		cJSON_Delete(j);
		raw_eof(fd, 5000);
		client_close(raw);
	}

	/* nothing stored, nothing listed, the daemon still serves */
	am = client_login(A, "messi");
	a = list_realms(am, "listrealm");
	if (cJSON_GetArraySize(a) != 0)
		fail_msg("a forged peer is listed: %s", show(a));
	cJSON_Delete(a);
	assert_int_equal(realm_pending(am, "evil"), 0);
	ERR(am, "NO_REALM", "inboxrealm evil");
}

/*
 * forger_challenged - a dialer on d's chat port that says hello as
 * realm and has read the challenge inside TLS
 */
static struct tlink *
forger_challenged(struct daemon *d, const char *realm)
{
	struct tlink *t = tl_dial(daemon_port(d), realm);
	cJSON *j;

	if (t == NULL)
		fail_msg("the acceptor did not start TLS");
	j = tl_line(t, 5000);
	if (j == NULL || strcmp(str(j, "t"), "challenge") != 0)
		fail_msg("expected a challenge: %s", j ? show(j) : "(end)");
	cJSON_Delete(j);
	return t;
}

/* expect_link_error - an error frame whose message holds why, then the end */
static void
expect_link_error(struct tlink *t, const char *why)
{
	cJSON *j = tl_line(t, 5000);

	if (j == NULL)
		fail_msg("connection ended without an error frame (%s)", why);
	assert_string_equal(str(j, "t"), "error");
	assert_string_equal(str(j, "code"), "REALM_UNREACHABLE");
	if (strstr(str(j, "message"), why) == NULL)
		fail_msg("expected \"%s\": %s", why, show(j));
	cJSON_Delete(j);
	if ((j = tl_line(t, 5000)) != NULL)
		fail_msg("expected the end, got %s", show(j));
	tl_close(t);
}

/*
 * While alpha and beta are linked, a forger dialing beta under alpha's
 * name sends a frame out of order (a message before its proof), then
 * another one a frame longer than beta's max_line: each gets an error
 * frame and is cut off; the real link stays up and carries messages
 * both ways, each once.
 */
static void
test_hostile_dialer_leaves_the_link_alone(void **state)
{
	static const char msg_early[] = "{\"t\":\"msg\",\"id\":1,\"seq\":1,"
	    "\"kind\":\"private\",\"from\":\"evil\",\"from_name\":\"Evil\","
	    "\"to\":\"henderson\",\"time\":1796000000,\"text\":\"forged\"}";
	struct fed *f = *state;
	struct daemon *A = f->d[0], *B = f->d[1];
	struct client *am = client_login(A, "messi"),
	    *bh = client_login(B, "henderson");
	struct tlink *t;
	size_t big = 200 * 1024;
	char *junk = malloc(big);
	cJSON *got = cJSON_CreateArray(), *back = cJSON_CreateArray();

	link_up_both(am, bh, B);
	send_delivered(am, "beta", "henderson", "before");

	t = forger_challenged(B, "alpha");
	tl_send(t, msg_early);
	expect_link_error(t, "out of order");
	send_delivered(am, "beta", "henderson", "between");

	t = forger_challenged(B, "alpha");
	memset(junk, 'x', big);
	(void)SSL_write(t->ssl, junk, (int)big);
	expect_link_error(t, "too large");
	send_delivered(am, "beta", "henderson", "after");
	send_delivered(bh, "alpha", "messi", "back");

	wait_link_up(am, "beta", 1.0);
	collect_realm(bh, "alpha", got, 3, DRAIN_TIMEOUT);
	collect_realm(am, "beta", back, 1, DRAIN_TIMEOUT);
	assert_int_equal(cJSON_GetArraySize(got), 3);
	assert_int_equal(count_text(got, "before"), 1);
	assert_int_equal(count_text(got, "between"), 1);
	assert_int_equal(count_text(got, "after"), 1);
	assert_int_equal(count_text(got, "forged"), 0);
	assert_int_equal(count_text(back, "back"), 1);
	cJSON_Delete(got);
	cJSON_Delete(back);
	free(junk);
}

static int
setup2_small_lines(void **state)
{
	static const char *const extra[3] = { "max_line = 64K\n",
	    "max_line = 64K\n" };

	return fed_new(state, 2, extra, NULL);
}

/*
 * A peer that has just started (it answers on its chat port) takes a
 * link at once: no window where a realm handshake is refused.
 */
static void
test_addrealm_to_a_peer_just_started(void **state)
{
	struct fed *f = *state;
	struct client *am = client_login(f->d[0], "messi");
	static const char *const names[2] = { "beta", "gamma" };

	for (int i = 0; i < 2; i++) {
		cJSON *r;

		f->d[i + 1] = realm_start(names[i], SECRET, NULL);
		f->n = i + 2;
		r = client_cmd(am, "addrealm %s 127.0.0.1 %d", names[i],
		    daemon_port(f->d[i + 1]));
		assert_reply_ok(r);
		assert_string_equal(str(r, "peer"), names[i]);
		cJSON_Delete(r);
	}
}

/*
 * A stopped peer: sends are queued; when it comes back the link returns
 * by itself and each message arrives once.  First the accepter stops,
 * then the dialer.
 */
static void
test_peer_stopped_queued_then_delivered_once(void **state)
{
	struct fed *f = *state;
	struct daemon *A = f->d[0], *B = f->d[1];
	struct client *am = client_login(A, "messi"),
	    *bh = client_login(B, "henderson");
	const char *st;
	char buf[64], text[64];
	cJSON *got;

	link_up_both(am, bh, B);
	OK(bh, NULL, "addgroup football");
	send_delivered(am, "beta", "henderson", "before the stop");

	/* beta stops: alpha queues */
	client_close(bh);
	daemon_stop(B);
	st = wait_state_not_up(am, "beta", 5.0, buf, sizeof(buf));
	if (strcmp(st, "connecting") != 0 && strcmp(st, "authenticating") != 0
	    && strcmp(st, "backoff") != 0)
		fail_msg("dialer's link to a stopped peer is \"%s\"", st);
	ERR(am, "REALM_UNREACHABLE", "ackrealm beta");
	ERR(am, "REALM_UNREACHABLE", "joingrouprealm beta football");
	ERR(am, "REALM_UNREACHABLE", "inboxgrouprealm beta football");
	for (int i = 0; i < 5; i++) {
		snprintf(text, sizeof(text), "queued-to-beta-%d", i);
		send_queued(am, "beta", "henderson", text);
	}
	assert_int_equal(link_queued(am, "beta"), 5);

	daemon_restart(B);
	bh = client_login(B, "henderson");
	wait_link_up(am, "beta", LINK_TIMEOUT);
	got = cJSON_CreateArray();
	collect_realm(bh, "alpha", got, 6, DRAIN_TIMEOUT);
	wait_queued(am, "beta", 0, 5.0);
	OK(am, NULL, "ackrealm beta");
	sleep_ms(300);
	drain_realm(bh, "alpha", got);
	assert_int_equal(count_text(got, "before the stop"), 1);
	for (int i = 0; i < 5; i++) {
		snprintf(text, sizeof(text), "queued-to-beta-%d", i);
		if (count_text(got, text) != 1)
			fail_msg("\"%s\" arrived %d times: %s", text,
			    count_text(got, text), show(got));
		/* in the order they were queued */
		assert_string_equal(str(cJSON_GetArrayItem(got, i + 1), "msg"),
		    text);
	}
	assert_int_equal(cJSON_GetArraySize(got), 6);
	cJSON_Delete(got);

	/* alpha (the dialer) stops: beta queues, and lists the link "down" */
	client_close(am);
	daemon_stop(A);
	st = wait_state_not_up(bh, "alpha", 5.0, buf, sizeof(buf));
	if (strcmp(st, "down") != 0)
		fail_msg("accepter's link to a stopped dialer is \"%s\", "
		    "expected \"down\"", st);
	for (int i = 0; i < 5; i++) {
		snprintf(text, sizeof(text), "queued-to-alpha-%d", i);
		send_queued(bh, "alpha", "messi", text);
	}
	assert_int_equal(link_queued(bh, "alpha"), 5);
	daemon_restart(A);
	am = client_login(A, "messi");
	wait_link_up(bh, "alpha", LINK_TIMEOUT);
	got = cJSON_CreateArray();
	collect_realm(am, "beta", got, 5, DRAIN_TIMEOUT);
	wait_queued(bh, "alpha", 0, 5.0);
	OK(bh, NULL, "ackrealm alpha");
	sleep_ms(300);
	drain_realm(am, "beta", got);
	for (int i = 0; i < 5; i++) {
		snprintf(text, sizeof(text), "queued-to-alpha-%d", i);
		if (count_text(got, text) != 1)
			fail_msg("\"%s\" arrived %d times: %s", text,
			    count_text(got, text), show(got));
	}
	assert_int_equal(cJSON_GetArraySize(got), 5);
	cJSON_Delete(got);
}

#define N300	300

/* who300 - the client and "id user" of message i (even: alpha->beta) */
static struct client *
who300(int i, struct client *am, struct client *bh, const char **dest)
{
	*dest = i % 2 ? "alpha messi" : "beta henderson";
	return i % 2 ? bh : am;
}

/* tally300 - count each "k300-<i>" of got, checking its direction */
static void
tally300(const cJSON *got, int parity, int *count)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, got) {
		const char *m = str(e, "msg");
		int i, used = 0;

		if (sscanf(m, "k300-%d%n", &i, &used) != 1 || m[used] != '\0' ||
		    i < 0 || i >= N300 || i % 2 != parity)
			fail_msg("unexpected message \"%s\"", m);
		count[i]++;
	}
}

/*
 * 300 unique messages, alternately alpha->beta and beta->alpha, while
 * realmd is killed with SIGKILL on each side several times, with
 * messages in flight at each kill.  Each arrives exactly once.
 */
static void
test_300_messages_while_realmd_killed(void **state)
{
	struct fed *f = *state;
	struct daemon *A = f->d[0], *B = f->d[1];
	struct client *am = client_login(A, "messi"),
	    *bh = client_login(B, "henderson");
	cJSON *at_b = cJSON_CreateArray(), *at_a = cJSON_CreateArray();
	int count[N300] = { 0 }, kill_no = 0, queued = 0, bad = 0;
	char text[32], report[2048];
	size_t o = 0;
	double end;

	link_up_both(am, bh, B);
	assert_true(daemon_realmd(A) > 0);
	assert_true(daemon_realmd(B) > 0);

	for (int i = 0; i < N300; ) {
		const char *dest;
		struct client *c;
		cJSON *r;

		if (kill_no < 6 && i == 25 + 50 * kill_no) {
			/* victims: alpha, beta, alpha, beta, both, beta */
			bool ka = kill_no % 2 == 0, kb = kill_no % 2 == 1 ||
			    kill_no == 4;
			pid_t olda = 0, oldb = 0;

			wait_link_up(am, "beta", LINK_TIMEOUT);
			wait_link_up(bh, "alpha", LINK_TIMEOUT);
			/* four requests in flight when realmd dies */
			for (int j = i; j < i + 4; j++) {
				snprintf(text, sizeof(text), "k300-%03d", j);
				c = who300(j, am, bh, &dest);
				client_send(c, "sendrealm %s %s\r\n", dest, text);
			}
			if (ka)
				olda = kill_realmd(A);
			if (kb)
				oldb = kill_realmd(B);
			for (int j = i; j < i + 4; j++) {
				r = client_reply(who300(j, am, bh, &dest));
				assert_reply_ok(r);
				queued += is_queued(r);
				cJSON_Delete(r);
			}
			if (ka)
				wait_realmd(A, olda, 5.0);
			if (kb)
				wait_realmd(B, oldb, 5.0);
			i += 4;
			kill_no++;
			continue;
		}
		/* paced, so that sends fall before, in and after each outage */
		sleep_ms(3);
		snprintf(text, sizeof(text), "k300-%03d", i);
		c = who300(i, am, bh, &dest);
		r = client_cmd(c, "sendrealm %s %s", dest, text);
		assert_reply_ok(r);
		queued += is_queued(r);
		cJSON_Delete(r);
		if (i == N300 / 2) {
			/* drain while faults go on, too */
			drain_realm(bh, "alpha", at_b);
			drain_realm(am, "beta", at_a);
		}
		i++;
	}
	assert_int_equal(kill_no, 6);
	print_message("# 300 messages, 6 kills of realmd: %d replies said "
	    "queued\n", queued);

	end = now_s() + DRAIN_TIMEOUT;
	while (cJSON_GetArraySize(at_b) < N300 / 2 ||
	    cJSON_GetArraySize(at_a) < N300 / 2) {
		drain_realm(bh, "alpha", at_b);
		drain_realm(am, "beta", at_a);
		if (now_s() > end)
			break;
		sleep_ms(100);
	}
	/* nothing more may come: the queues empty, then one more drain */
	if (cJSON_GetArraySize(at_b) >= N300 / 2 &&
	    cJSON_GetArraySize(at_a) >= N300 / 2) {
		wait_queued(am, "beta", 0, 5.0);
		wait_queued(bh, "alpha", 0, 5.0);
		OK(am, NULL, "ackrealm beta");
		OK(bh, NULL, "ackrealm alpha");
		sleep_ms(500);
		drain_realm(bh, "alpha", at_b);
		drain_realm(am, "beta", at_a);
	}
	tally300(at_b, 0, count);
	tally300(at_a, 1, count);
	for (int i = 0; i < N300; i++)
		if (count[i] != 1) {
			bad++;
			if (o < sizeof(report) - 40)
				o += snprintf(report + o, sizeof(report) - o,
				    " k300-%03d:%d", i, count[i]);
		}
	if (bad > 0)
		fail_msg("%d of %d messages not delivered exactly once (%d "
		    "replies said queued); text:times =%s", bad, N300, queued,
		    report);
	assert_int_equal(cJSON_GetArraySize(at_b), N300 / 2);
	assert_int_equal(cJSON_GetArraySize(at_a), N300 / 2);
	cJSON_Delete(at_b);
	cJSON_Delete(at_a);
}

/* count_prefixed - how often each "<prefix>-<i>" (i < n) is in got */
static void
count_prefixed(const cJSON *got, const char *prefix, int *count, int n)
{
	const cJSON *e;
	size_t pl = strlen(prefix);

	cJSON_ArrayForEach(e, got) {
		const char *m = str(e, "msg");
		int i, used = 0;

		if (strncmp(m, prefix, pl) != 0 || m[pl] != '-' ||
		    sscanf(m + pl + 1, "%d%n", &i, &used) != 1 ||
		    m[pl + 1 + used] != '\0' || i < 0 || i >= n)
			fail_msg("unexpected message \"%s\"", m);
		count[i]++;
	}
}

/* settle - the sender's queue is empty and one round trip has passed */
static void
settle(struct client *sender, const char *id)
{
	wait_queued(sender, id, 0, 10.0);
	OK(sender, NULL, "ackrealm %s", id);
	sleep_ms(300);
}

#define NKILL	100

/*
 * kill -9 of a whole realm while a stream of sends is pipelined: every
 * send answered OK before the kill arrives once, none arrives twice.
 * First the sender's realm dies mid-stream, then the receiver's.
 */
static void
test_kill9_whole_realm_mid_stream(void **state)
{
	struct fed *f = *state;
	struct daemon *A = f->d[0], *B = f->d[1];
	struct client *am = client_login(A, "messi"),
	    *bh = client_login(B, "henderson");
	int count[NKILL], answered;
	size_t cap = NKILL * 48, o;
	char *lines = malloc(cap);
	cJSON *got;

	link_up_both(am, bh, B);

	/* the sender's whole realm dies after 40 answers */
	o = 0;
	for (int i = 0; i < NKILL; i++)
		o += snprintf(lines + o, cap - o, "sendrealm beta henderson "
		    "ka-%d\r\n", i);
	client_write(am, lines, o);
	for (answered = 0; answered < 40; answered++) {
		cJSON *r = client_reply(am);
		assert_reply_ok(r);
		cJSON_Delete(r);
	}
	daemon_kill9_tree(A);
	client_close(am);
	daemon_restart(A);
	am = client_login(A, "messi");
	wait_link_up(am, "beta", LINK_TIMEOUT);
	got = cJSON_CreateArray();
	collect_realm(bh, "alpha", got, answered, DRAIN_TIMEOUT);
	settle(am, "beta");
	drain_realm(bh, "alpha", got);
	memset(count, 0, sizeof(count));
	count_prefixed(got, "ka", count, NKILL);
	for (int i = 0; i < NKILL; i++)
		if (i < answered ? count[i] != 1 : count[i] > 1)
			fail_msg("ka-%d (%s before the kill) arrived %d times",
			    i, i < answered ? "answered OK" : "not answered",
			    count[i]);
	print_message("# sender killed: %d answered, %d arrived\n", answered,
	    cJSON_GetArraySize(got));
	cJSON_Delete(got);

	/* the receiver's whole realm dies after 30 answers */
	o = 0;
	for (int i = 0; i < NKILL; i++)
		o += snprintf(lines + o, cap - o, "sendrealm beta henderson "
		    "kb-%d\r\n", i);
	client_write(am, lines, o);
	for (answered = 0; answered < NKILL; answered++) {
		cJSON *r;

		if (answered == 30) {
			daemon_kill9_tree(B);
			client_close(bh);
		}
		r = client_reply(am);
		assert_reply_ok(r);
		cJSON_Delete(r);
	}
	daemon_restart(B);
	bh = client_login(B, "henderson");
	wait_link_up(am, "beta", LINK_TIMEOUT);
	got = cJSON_CreateArray();
	collect_realm(bh, "alpha", got, NKILL, DRAIN_TIMEOUT);
	settle(am, "beta");
	drain_realm(bh, "alpha", got);
	memset(count, 0, sizeof(count));
	count_prefixed(got, "kb", count, NKILL);
	for (int i = 0; i < NKILL; i++)
		if (count[i] != 1)
			fail_msg("kb-%d arrived %d times", i, count[i]);
	cJSON_Delete(got);
	free(lines);
}

/*
 * A peer whose state was started afresh (a new instance, message ids from
 * the start again) is a new sender: its messages are not taken for
 * resends of the old instance's.
 */
static void
test_peer_started_afresh_is_a_new_sender(void **state)
{
	struct fed *f = *state;
	struct daemon *A = f->d[0], *B = f->d[1];
	struct client *am = client_login(A, "messi"),
	    *bh = client_login(B, "henderson");
	char cmd[2048], text[32];
	cJSON *got;

	link_realm(am, "beta", B, "beta");
	wait_link_up(am, "beta", 5.0);
	for (int i = 0; i < 5; i++) {
		snprintf(text, sizeof(text), "old-%d", i);
		send_delivered(am, "beta", "henderson", text);
	}
	got = cJSON_CreateArray();
	assert_int_equal(drain_realm(bh, "alpha", got), 5);
	cJSON_Delete(got);

	/* alpha loses its state: same name, a new instance */
	client_close(am);
	daemon_stop(A);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/state' && mkdir '%s/state'",
	    daemon_dir(A), daemon_dir(A));
	assert_int_equal(system(cmd), 0);
	daemon_restart(A);
	am = client_login(A, "messi");
	link_realm(am, "beta", B, "beta");
	wait_link_up(am, "beta", LINK_TIMEOUT);
	wait_link_up(bh, "alpha", LINK_TIMEOUT);
	for (int i = 0; i < 3; i++) {
		snprintf(text, sizeof(text), "new-%d", i);
		send_delivered(am, "beta", "henderson", text);
	}
	got = cJSON_CreateArray();
	assert_int_equal(drain_realm(bh, "alpha", got), 3);
	for (int i = 0; i < 3; i++) {
		snprintf(text, sizeof(text), "new-%d", i);
		assert_string_equal(str(cJSON_GetArrayItem(got, i), "msg"), text);
	}
	cJSON_Delete(got);
}

/* check_link_works - a message each way is delivered, not queued */
static void
check_link_works(struct client *am, struct client *bh, const char *tag)
{
	char text[64];
	cJSON *got;

	snprintf(text, sizeof(text), "a2b after %s", tag);
	send_delivered(am, "beta", "henderson", text);
	got = cJSON_CreateArray();
	assert_int_equal(drain_realm(bh, "alpha", got), 1);
	assert_string_equal(str(cJSON_GetArrayItem(got, 0), "msg"), text);
	cJSON_Delete(got);
	snprintf(text, sizeof(text), "b2a after %s", tag);
	send_delivered(bh, "alpha", "messi", text);
	got = cJSON_CreateArray();
	if (drain_realm(am, "beta", got) != 1)
		fail_msg("%s: expected only \"%s\": %s", tag, text, show(got));
	assert_string_equal(str(cJSON_GetArrayItem(got, 0), "msg"), text);
	cJSON_Delete(got);
}

/* check_listed - after a restart the link is still listed, same role */
static void
check_listed(struct client *c, const char *id, bool dialer)
{
	cJSON *a = list_realms(c, "listrealm");
	const cJSON *e = realm_entry(a, id);

	if (e == NULL || cJSON_GetArraySize(a) != 1)
		fail_msg("expected only link %s after a restart: %s", id,
		    show(a));
	assert_true(flag(e, "dialer") == dialer);
	cJSON_Delete(a);
}

/*
 * Restart of either side, gracefully and with kill -9 of the whole
 * tree: the link comes back by itself, and nothing is delivered twice.
 */
static void
test_restart_either_side_link_returns(void **state)
{
	struct fed *f = *state;
	struct daemon *A = f->d[0], *B = f->d[1];
	struct client *am = client_login(A, "messi"),
	    *bh = client_login(B, "henderson");
	static const struct {
		int	side;		/* 0 alpha (dialer), 1 beta */
		bool	kill9;
		const char *tag;
	} steps[] = {
		{ 0, false, "dialer restart" },
		{ 1, false, "accepter restart" },
		{ 0, true, "dialer kill -9" },
		{ 1, true, "accepter kill -9" },
	};

	link_up_both(am, bh, B);
	check_link_works(am, bh, "the link");

	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		struct daemon *d = steps[s].side ? B : A;
		double t0;

		client_close(steps[s].side ? bh : am);
		/*
		 * A worker removes what an inbox reply carried just after
		 * writing it; a kill -9 in between would hand it out again
		 * (with the same id).  That window is the inbox's, not the
		 * link's: give the last drain time to settle.
		 */
		sleep_ms(200);
		if (steps[s].kill9)
			daemon_kill9_tree(d);
		daemon_restart(d);
		t0 = now_s();
		if (steps[s].side)
			bh = client_login(B, "henderson");
		else
			am = client_login(A, "messi");
		check_listed(am, "beta", true);
		check_listed(bh, "alpha", false);
		/* the restarted side first: its "up" cannot be stale */
		if (steps[s].side) {
			wait_link_up(bh, "alpha", LINK_TIMEOUT);
			wait_link_up(am, "beta", LINK_TIMEOUT);
		} else {
			wait_link_up(am, "beta", LINK_TIMEOUT);
			wait_link_up(bh, "alpha", LINK_TIMEOUT);
		}
		print_message("# %s: link up again after %.1f s\n",
		    steps[s].tag, now_s() - t0);
		check_link_works(am, bh, steps[s].tag);
	}
	/* nothing was delivered again after any restart */
	OK(am, NULL, "ackrealm beta");
	sleep_ms(300);
	assert_int_equal(drain_realm(bh, "alpha", NULL), 0);
	assert_int_equal(drain_realm(am, "beta", NULL), 0);
}

/* bounces_in - the entries of "realmchat" in an inbox, appended to into */
static void
bounces_in(struct client *c, cJSON *into)
{
	cJSON *all = client_inbox_all(c, 10), *sender;

	cJSON_ArrayForEach(sender, all) {
		const cJSON *e;

		if (strcmp(sender->string, "realmchat") != 0)
			fail_msg("unexpected inbox entries from %s: %s",
			    sender->string, show(sender));
		cJSON_ArrayForEach(e, sender)
			cJSON_AddItemToArray(into, cJSON_Duplicate(e, true));
	}
	cJSON_Delete(all);
}

/* bounce_for - the bounce notice whose ref is ref, or NULL */
static const cJSON *
bounce_for(const cJSON *bounces, double ref)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, bounces) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "ref");

		if (cJSON_IsNumber(v) && v->valuedouble == ref)
			return e;
	}
	return NULL;
}

/*
 * Queued messages that the peer refuses when the link returns come back
 * to the sender's inbox as bounce notices, once; an accepted one does not.
 */
static void
test_refused_while_down_bounces(void **state)
{
	struct fed *f = *state;
	struct daemon *A = f->d[0], *B = f->d[1];
	struct client *am = client_login(A, "messi"),
	    *bh = client_login(B, "henderson");
	cJSON *bounces = cJSON_CreateArray(), *got, *r;
	const cJSON *e;
	double ref_user, ref_group, end;
	long epoch;
	char buf[64];

	link_up_both(am, bh, B);
	client_close(bh);
	daemon_stop(B);
	wait_state_not_up(am, "beta", 5.0, buf, sizeof(buf));

	ref_user = send_queued(am, "beta", "nobody", "lost letter");
	send_queued(am, "beta", "henderson", "fine letter");
	r = client_cmd(am, "sendgrouprealm beta nosuchgroup lost too");
	assert_reply_ok(r);
	assert_true(is_queued(r));
	ref_group = num(r, "id");
	cJSON_Delete(r);
	assert_int_equal(link_queued(am, "beta"), 3);
	assert_int_equal(inbox_count(r = client_cmd(am, "inbox")), 0);
	cJSON_Delete(r);

	daemon_restart(B);
	bh = client_login(B, "henderson");
	wait_link_up(am, "beta", LINK_TIMEOUT);
	end = now_s() + DRAIN_TIMEOUT;
	while (cJSON_GetArraySize(bounces) < 2 && now_s() < end) {
		bounces_in(am, bounces);
		sleep_ms(100);
	}
	wait_queued(am, "beta", 0, 5.0);
	OK(am, NULL, "ackrealm beta");
	sleep_ms(300);
	bounces_in(am, bounces);
	if (cJSON_GetArraySize(bounces) != 2)
		fail_msg("expected exactly 2 bounce notices: %s", show(bounces));

	e = bounce_for(bounces, ref_user);
	if (e == NULL)
		fail_msg("no bounce with ref %.0f: %s", ref_user, show(bounces));
	assert_true(flag(e, "bounce"));
	assert_string_equal(str(e, "code"), "NO_USER");
	assert_string_equal(str(e, "realm"), "beta");
	assert_string_equal(str(e, "msg_from"), "realmchat");
	assert_string_equal(str(e, "from"), "realmchat");
	assert_string_equal(str(e, "msg_to"), "Lionel Messi");
	assert_string_equal(str(e, "msg"),
	    "Pesan ke nobody di realm beta ditolak: User Tidak Ditemukan");
	assert_true(num(e, "id") > 0);
	assert_true(iso8601_utc(str(e, "time"), &epoch));

	e = bounce_for(bounces, ref_group);
	if (e == NULL)
		fail_msg("no bounce with ref %.0f: %s", ref_group,
		    show(bounces));
	assert_true(flag(e, "bounce"));
	assert_string_equal(str(e, "code"), "NO_GROUP");
	assert_string_equal(str(e, "realm"), "beta");

	/* the accepted one arrived once; the refused ones nowhere */
	got = cJSON_CreateArray();
	drain_realm(bh, "alpha", got);
	assert_int_equal(cJSON_GetArraySize(got), 1);
	assert_string_equal(str(cJSON_GetArrayItem(got, 0), "msg"),
	    "fine letter");
	cJSON_Delete(got);
	cJSON_Delete(bounces);
}

static int
setup_small_inbox(void **state)
{
	static const char *const extra[3] = { "inbox_quota = 2\n" };

	return fed_new(state, 2, extra, NULL);
}

/*
 * A bounce notice has room in a full inbox: the sender learns of the
 * refusal although inbox_quota messages already wait for them.
 */
static void
test_bounce_reaches_full_inbox(void **state)
{
	struct fed *f = *state;
	struct daemon *A = f->d[0], *B = f->d[1];
	struct client *am = client_login(A, "messi"),
	    *ah = client_login(A, "henderson");
	struct client *bh = client_login(B, "henderson");
	const cJSON *e;
	cJSON *all;
	double ref;
	int bounces = 0;
	char buf[64];

	link_up_both(am, bh, B);
	client_close(bh);
	daemon_stop(B);
	wait_state_not_up(am, "beta", 5.0, buf, sizeof(buf));
	OK(ah, NULL, "send messi one");
	OK(ah, NULL, "send messi two");
	assert_reply_error(client_cmd(ah, "send messi three"), "QUOTA");
	ref = send_queued(am, "beta", "nobody", "lost letter");

	daemon_restart(B);
	wait_link_up(am, "beta", LINK_TIMEOUT);
	/* the verdict frees the queued copy and stores the bounce at once */
	wait_queued(am, "beta", 0, DRAIN_TIMEOUT);
	sleep_ms(300);
	all = client_cmd(am, "inbox");
	cJSON_ArrayForEach(e, inbox_from(all, "realmchat"))
		bounces += flag(e, "bounce") && num(e, "ref") == ref;
	if (bounces != 1)
		fail_msg("expected the bounce in the full inbox: %s", show(all));
	assert_int_equal(inbox_count(all), 3);
	cJSON_Delete(all);
}

static int
setup_real_cost(void **state)
{
	static const char *const extra[3] = { NULL, "password_cost = 5\n" };

	return fed_new(state, 2, extra, NULL);
}

enum { GUESSERS = 12, GUESSES = 20 };

/*
 * Users of alpha guess the password of a group of beta through the link,
 * twelve connections pipelining twenty wrong joingrouprealm each.  beta's
 * realmd checks them off its loop and throttles the group, so beta's own
 * mail to alpha keeps flowing meanwhile.
 */
static void
test_joingrouprealm_guesses_do_not_stop_mail(void **state)
{
	struct fed *f = *state;
	struct daemon *A = f->d[0], *B = f->d[1];
	struct client *am = client_login(A, "messi"),
	    *bh = client_login(B, "henderson");
	struct client *g[GUESSERS];
	static char lines[GUESSES * 48];
	double t0, worst = 0, end;
	int sent = 0, quota = 0, bad = 0;
	size_t o = 0;

	link_up_both(am, bh, B);
	OK(bh, NULL, "addgroup vault s3cret");
	for (int j = 0; j < GUESSES; j++)
		o += (size_t)snprintf(lines + o, sizeof lines - o,
		    "joingrouprealm beta vault guess%d\r\n", j);
	for (int i = 0; i < GUESSERS; i++) {
		g[i] = client_login(A, i % 2 ? "lineker" : "messi");
		client_write(g[i], lines, o);
	}
	end = now_s() + 3.0;
	/* bounded in count too: messi's inbox holds inbox_quota (10,000) */
	while (now_s() < end && sent < 5000) {
		cJSON *r;

		t0 = now_s();
		r = send_realm(bh, "alpha", "messi", "still here");
		cJSON_Delete(r);
		if ((now_s() - t0) * 1000 > worst)
			worst = (now_s() - t0) * 1000;
		sent++;
	}
	for (int i = 0; i < GUESSERS; i++)
		for (int j = 0; j < GUESSES; j++) {
			cJSON *r = client_reply(g[i]);
			const char *code = cJSON_GetStringValue(
			    cJSON_GetObjectItemCaseSensitive(r, "code"));

			quota += code != NULL && strcmp(code, "QUOTA") == 0;
			bad += code != NULL && strcmp(code, "BAD_PASSWORD") == 0;
			cJSON_Delete(r);
		}
	print_message("# %d x %d wrong joingrouprealm: %d checked, %d "
	    "throttled; beta sent %d messages to alpha in 3 s, worst round "
	    "trip %.1f ms\n", GUESSERS, GUESSES, bad, quota, sent, worst);
	assert_true(quota > 0);
	assert_true(bad <= 2 * 20);
	assert_true(sent >= 20);
	assert_true(worst < 1500);
}

/* rss_kib - resident size of pid, in KiB (0 if unknown) */
static long
rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = 0;
	FILE *fp;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof line, fp) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(fp);
	return kib;
}

/*
 * send_until_cut - write up to mib MiB without a line end to fd; the
 * bytes the daemon took before it hung up
 */
static size_t
send_until_cut(int fd, int mib)
{
	static char chunk[1 << 16];
	size_t took = 0;
	double end = now_s() + 10.0;

	memset(chunk, 'a', sizeof chunk);
	while (took < (size_t)mib << 20 && now_s() < end) {
		ssize_t n = send(fd, chunk, sizeof chunk,
		    MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n == -1 && (errno == EPIPE || errno == ECONNRESET))
			break;
		if (n == -1) {
			sleep_ms(5);
			continue;
		}
		took += (size_t)n;
	}
	return took;
}

/*
 * An unauthenticated dialer sends a challenge's worth of hello, then 23
 * MiB without a line end: realmd hangs up after a handshake line's
 * worth, holding nothing like the 23 MiB (before, it held them all).
 */
static void
test_handshake_input_bounded(void **state)
{
	struct fed *f = *state;
	struct daemon *A = f->d[0];
	static const char hello[] = "realmlink {\"v\":1,\"realm\":\"evil\","
	    "\"nonce\":\"00112233445566778899aabbccddeeff\",\"inst\":\"0123456789abcdef\"}\n";
	struct client *raw[4];
	long before = rss_kib(daemon_realmd(A)), after;
	size_t took[4];

	for (int i = 0; i < 4; i++) {
		cJSON *j;

		raw[i] = client_connect(A);
		client_write(raw[i], hello, strlen(hello));
		if ((j = raw_line(client_fd(raw[i]), 5000)) == NULL)
			fail_msg("connection ended instead of a challenge");
		cJSON_Delete(j);
	}
	for (int i = 0; i < 4; i++)
		took[i] = send_until_cut(client_fd(raw[i]), 23);
	after = rss_kib(daemon_realmd(A));
	print_message("# 4 handshakes sending 23 MiB without a line end: cut "
	    "after %zu KiB (first); realmd %ld -> %ld KiB\n", took[0] >> 10,
	    before, after);
	for (int i = 0; i < 4; i++) {
		client_expect_eof(raw[i], 5000);
		assert_true(took[i] < (size_t)23 << 20);
	}
	assert_true(after - before < 16 * 1024);
}

/*
 * Three realms: alpha dials beta and gamma (gamma under the id "far"),
 * gamma dials beta.  Queues are kept per realm, the link id is what the
 * dialer chose, and a group at beta has members from alpha and gamma.
 */
static void
test_three_realms(void **state)
{
	struct fed *f = *state;
	struct daemon *A = f->d[0], *B = f->d[1], *G = f->d[2];
	struct client *am = client_login(A, "messi"),
	    *bh = client_login(B, "henderson");
	struct client *gm = client_login(G, "messi");
	cJSON *r, *a, *got;
	const cJSON *e, *members;

	link_realm(am, "beta", B, "beta");
	/* two trailing words (the caller's own address) are ignored */
	r = client_cmd(am, "addrealm far 127.0.0.1 %d 127.0.0.1 %d",
	    daemon_port(G), daemon_port(A));
	assert_reply_ok(r);
	assert_string_equal(str(r, "realm"), "far");
	assert_string_equal(str(r, "peer"), "gamma");
	cJSON_Delete(r);
	link_realm(gm, "beta", B, "beta");
	wait_link_up(am, "beta", 5.0);
	wait_link_up(am, "far", 5.0);
	wait_link_up(gm, "beta", 5.0);
	wait_link_up(gm, "alpha", 5.0);
	wait_link_up(bh, "alpha", 5.0);
	wait_link_up(bh, "gamma", 5.0);

	a = list_realms(am, "listrealm");
	assert_int_equal(cJSON_GetArraySize(a), 2);
	e = realm_entry(a, "far");
	if (e == NULL)
		fail_msg("alpha does not list far: %s", show(a));
	assert_string_equal(str(e, "peer"), "gamma");
	assert_int_equal((int)num(e, "port"), daemon_port(G));
	assert_true(flag(e, "dialer"));
	cJSON_Delete(a);
	a = list_realms(bh, "listrealm");
	assert_int_equal(cJSON_GetArraySize(a), 2);
	assert_false(flag(realm_entry(a, "alpha"), "dialer"));
	assert_false(flag(realm_entry(a, "gamma"), "dialer"));
	cJSON_Delete(a);
	a = list_realms(gm, "listrealm");
	assert_int_equal(cJSON_GetArraySize(a), 2);
	assert_false(flag(realm_entry(a, "alpha"), "dialer"));
	assert_true(flag(realm_entry(a, "beta"), "dialer"));
	cJSON_Delete(a);

	/* two senders into beta: one queue per realm */
	send_delivered(am, "beta", "henderson", "from alpha");
	send_delivered(gm, "beta", "henderson", "from gamma");
	send_delivered(gm, "beta", "henderson", "from gamma again");
	r = client_cmd(bh, "inbox");
	{
		const cJSON *p = cJSON_GetObjectItem(r, "realm_pending");
		if (!cJSON_IsObject(p) || num(p, "alpha") != 1 ||
		    num(p, "gamma") != 2)
			fail_msg("expected realm_pending {\"alpha\":1,"
			    "\"gamma\":2}: %s", show(r));
	}
	cJSON_Delete(r);
	got = cJSON_CreateArray();
	assert_int_equal(drain_realm(bh, "alpha", got), 1);
	check_entry(cJSON_GetArrayItem(got, 0), "from alpha", "messi",
	    "Lionel Messi", "Jordan Henderson", "alpha");
	cJSON_Delete(got);
	got = cJSON_CreateArray();
	assert_int_equal(drain_realm(bh, "gamma", got), 2);
	check_entry(cJSON_GetArrayItem(got, 0), "from gamma", "messi",
	    "Lionel Messi", "Jordan Henderson", "gamma");
	assert_string_equal(str(cJSON_GetArrayItem(got, 1), "msg"),
	    "from gamma again");
	cJSON_Delete(got);

	/* alpha's id for gamma is "far": sends and receives under it */
	send_delivered(am, "far", "messi", "alpha to gamma");
	send_delivered(gm, "alpha", "messi", "gamma to alpha");
	got = cJSON_CreateArray();
	assert_int_equal(drain_realm(gm, "alpha", got), 1);
	check_entry(cJSON_GetArrayItem(got, 0), "alpha to gamma", "messi",
	    "Lionel Messi", "Lionel Messi", "alpha");
	cJSON_Delete(got);
	got = cJSON_CreateArray();
	assert_int_equal(drain_realm(am, "far", got), 1);
	/* the client reads "realm" as the id to answer on */
	check_entry(cJSON_GetArrayItem(got, 0), "gamma to alpha", "messi",
	    "Lionel Messi", "Lionel Messi", "far");
	cJSON_Delete(got);
	/* the link answers to the peer's realm_name too */
	assert_int_equal(drain_realm(am, "gamma", NULL), 0);
	expect_names(am, "far", "far", "gamma", NULL);
	expect_names(gm, "alpha", "alpha", "far", NULL);
	ERR(am, "NO_REALM", "inboxrealm delta");

	/* a group at beta with two remote members of the same user name */
	OK(bh, NULL, "addgroup football");
	OK(am, NULL, "joingrouprealm beta football");
	OK(gm, NULL, "joingrouprealm beta football");
	r = client_cmd(bh, "groupmembers football");
	members = cJSON_GetObjectItem(r, "members");
	if (cJSON_GetArraySize(members) != 3 ||
	    !array_has_string(members, "henderson") ||
	    !array_has_string(members, "messi@alpha") ||
	    !array_has_string(members, "messi@gamma"))
		fail_msg("members of football: expected henderson, "
		    "messi@alpha, messi@gamma: %s", show(r));
	cJSON_Delete(r);
	r = client_cmd(gm, "sendgrouprealm beta football from gamma to all");
	assert_reply_ok(r);
	assert_string_equal(str(r, "group"), "football");
	/* copies go to beta's members only; messi@alpha reads the history */
	assert_int_equal((int)num(r, "recipients"), 1);
	cJSON_Delete(r);
	got = cJSON_CreateArray();
	assert_int_equal(drain_realm(bh, "gamma", got), 1);
	assert_string_equal(str(cJSON_GetArrayItem(got, 0), "group"),
	    "football");
	cJSON_Delete(got);
	r = client_cmd(am, "inboxgrouprealm beta football");
	assert_reply_ok(r);
	assert_int_equal(count_text(cJSON_GetObjectItem(r, "messages"),
	    "from gamma to all"), 1);
	cJSON_Delete(r);
	OK(am, NULL, "ackrealm beta");
	assert_int_equal(drain_realm(am, "beta", NULL), 0);
	assert_int_equal(drain_realm(gm, "beta", NULL), 0);
}

/*
 * Two realms dial one: with both links up, every send from either gets
 * the peer's verdict within realm_wait (none is "queued"), and each
 * message arrives once, in the queue of its realm.
 */
static void
test_verdicts_with_two_links_into_one_realm(void **state)
{
	struct fed *f = *state;
	struct daemon *A = f->d[0], *B = f->d[1], *G = f->d[2];
	struct client *am = client_login(A, "messi"),
	    *bh = client_login(B, "henderson");
	struct client *gm = client_login(G, "messi");
	cJSON *from_a = cJSON_CreateArray(), *from_g = cJSON_CreateArray();
	char text[32];

	link_realm(am, "beta", B, "beta");
	link_realm(gm, "beta", B, "beta");
	wait_link_up(am, "beta", 5.0);
	wait_link_up(gm, "beta", 5.0);
	wait_link_up(bh, "alpha", 5.0);
	wait_link_up(bh, "gamma", 5.0);
	/* gamma's twenty back to back, then alpha's */
	for (int i = 0; i < 40; i++) {
		int k = i < 20 ? 2 * i + 1 : 2 * (i - 20);

		snprintf(text, sizeof(text), "two-links-%02d", k);
		send_delivered(k % 2 ? gm : am, "beta", "henderson", text);
	}
	assert_int_equal(drain_realm(bh, "alpha", from_a), 20);
	assert_int_equal(drain_realm(bh, "gamma", from_g), 20);
	for (int i = 0; i < 40; i++) {
		snprintf(text, sizeof(text), "two-links-%02d", i);
		assert_int_equal(count_text(i % 2 ? from_g : from_a, text), 1);
	}
	cJSON_Delete(from_a);
	cJSON_Delete(from_g);
}

/* realm_queue: QUOTA when full, and the queue takes more once sent */
static void
test_realm_queue_quota(void **state)
{
	struct fed *f = *state;
	struct daemon *A = f->d[0], *B = f->d[1];
	struct client *am = client_login(A, "messi"), *bh;
	cJSON *got;
	char buf[64], text[32];

	link_realm(am, "beta", B, "beta");
	wait_link_up(am, "beta", 5.0);
	daemon_stop(B);
	wait_state_not_up(am, "beta", 5.0, buf, sizeof(buf));
	for (int i = 0; i < 3; i++) {
		snprintf(text, sizeof(text), "q%d", i);
		send_queued(am, "beta", "henderson", text);
	}
	ERR(am, "QUOTA", "sendrealm beta henderson one too many");
	ERR(am, "QUOTA", "sendfilerealm beta henderson f.txt QUJD");
	assert_int_equal(link_queued(am, "beta"), 3);

	daemon_restart(B);
	bh = client_login(B, "henderson");
	wait_link_up(am, "beta", LINK_TIMEOUT);
	got = cJSON_CreateArray();
	collect_realm(bh, "alpha", got, 3, DRAIN_TIMEOUT);
	wait_queued(am, "beta", 0, 5.0);
	send_delivered(am, "beta", "henderson", "room again");
	drain_realm(bh, "alpha", got);
	assert_int_equal(cJSON_GetArraySize(got), 4);
	assert_int_equal(count_text(got, "q0"), 1);
	assert_int_equal(count_text(got, "q1"), 1);
	assert_int_equal(count_text(got, "q2"), 1);
	assert_int_equal(count_text(got, "room again"), 1);
	assert_int_equal(count_text(got, "one too many"), 0);
	cJSON_Delete(got);
}

/* fetched - r is an OK download reply holding exactly data */
static void
fetched(cJSON *r, const unsigned char *data, size_t size)
{
	unsigned char *back = malloc(size + 4);

	assert_reply_ok(r);
	assert_int_equal(unb64(str(r, "message"), back), (long)size);
	assert_memory_equal(back, data, size);
	free(back);
	cJSON_Delete(r);
}

/*
 * Files that came over a link are fetched from the local copy after
 * inboxrealm drained them: downloadrealmfile by the recipient,
 * downloadgrouprealmfile by the group's members, both forms, byte-exact;
 * a file that did not come over that link, or to that group, is not
 * theirs to fetch that way.
 */
static void
test_realm_files_fetched_after_inbox(void **state)
{
	struct fed *f = *state;
	struct daemon *A = f->d[0], *B = f->d[1];
	struct client *am = client_login(A, "messi");
	struct client *bh = client_login(B, "henderson"),
	    *bl = client_login(B, "lineker");
	struct client *bm = client_login(B, "messi"),
	    *other = client_connect(B);
	size_t big = (1 << 20) + 5, gsize = (1 << 20) + 9;
	unsigned char *data = random_bytes(big), *gdata = random_bytes(gsize);
	char *enc = b64(data, big), *genc = b64(gdata, gsize);
	char id[32], gid[32], lid[32], lgid[32], tok[64];
	cJSON *r, *got;

	snprintf(tok, sizeof(tok), "%s", client_auth(other, "henderson",
	    SEED_PASSWORD));
	link_up_both(am, bh, B);
	OK(bh, NULL, "addgroup crew");
	OK(bl, NULL, "joingroup crew");
	OK(am, NULL, "joingrouprealm beta crew");
	r = send_file(am, "sendfilerealm", "beta", "henderson", "a.bin", enc);
	assert_reply_ok(r);
	cJSON_Delete(r);
	r = send_file(am, "sendgroupfilerealm", "beta", "crew", "g.bin", genc);
	assert_reply_ok(r);
	cJSON_Delete(r);
	OK(bm, NULL, "sendfile henderson local.txt bG9jYWw=");
	OK(bh, NULL, "sendgroupfile crew home.txt aG9tZQ==");
	got = cJSON_CreateArray();
	assert_int_equal(drain_realm(bh, "alpha", got), 2);
	snprintf(id, sizeof(id), "%s", str(cJSON_GetArrayItem(got, 0), "file_id"));
	snprintf(gid, sizeof(gid), "%s", str(cJSON_GetArrayItem(got, 1),
	    "file_id"));
	cJSON_Delete(got);
	r = client_cmd(bh, "inbox");
	snprintf(lid, sizeof(lid), "%s", str(cJSON_GetArrayItem(inbox_from(r,
	    "messi"), 0), "file_id"));
	cJSON_Delete(r);
	r = client_cmd(bh, "inboxgroup crew");
	snprintf(lgid, sizeof(lgid), "%s", str(cJSON_GetArrayItem(
	    cJSON_GetObjectItem(r, "messages"), 1), "file_id"));
	cJSON_Delete(r);
	r = client_cmd(bh, "inboxrealm alpha");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "messages")),
	    0);
	cJSON_Delete(r);

	/* the private file: its recipient, by that link only */
	fetched(client_cmd(bh, "downloadrealmfile alpha %s a.bin", id), data, big);
	fetched(client_cmd(other, "downloadrealmfile %s alpha %s a.bin", tok, id),
	    data, big);
	fetched(client_cmd(bh, "downloadfile %s", id), data, big);
	ERR(bl, "BAD_FILE", "downloadrealmfile alpha %s a.bin", id);
	ERR(bm, "BAD_FILE", "downloadrealmfile alpha %s", id);
	ERR(bh, "BAD_FILE", "downloadrealmfile alpha %s", lid);
	ERR(bh, "NO_REALM", "downloadrealmfile gamma %s", id);
	ERR(bh, "BAD_FILE", "downloadrealmfile alpha nothex");

	/* the group file: every member, by that link and group */
	fetched(client_cmd(bh, "downloadgrouprealmfile alpha crew %s g.bin", gid),
	    gdata, gsize);
	fetched(client_cmd(other, "downloadgrouprealmfile %s alpha crew %s g.bin",
	    tok, gid), gdata, gsize);
	fetched(client_cmd(bl, "downloadgrouprealmfile alpha crew %s", gid),
	    gdata, gsize);
	fetched(client_cmd(bl, "downloadgroupfile crew %s", gid), gdata, gsize);
	fetched(client_cmd(bh, "downloadrealmfile alpha %s", gid), gdata, gsize);
	ERR(bm, "NOT_MEMBER", "downloadgrouprealmfile alpha crew %s", gid);
	ERR(bh, "NO_GROUP", "downloadgrouprealmfile alpha nosuch %s", gid);
	ERR(bh, "NO_REALM", "downloadgrouprealmfile gamma crew %s", gid);
	ERR(bh, "BAD_FILE", "downloadgrouprealmfile alpha crew %s", lgid);
	ERR(bh, "BAD_FILE", "downloadgrouprealmfile alpha crew %s", id);
	free(data);
	free(gdata);
	free(enc);
	free(genc);
}

/*
 * After alpha's addrealm realm2, beta's users name the link alpha or
 * realm2 (the dialer's id); beta's own addrealm mesin1 for that link is
 * OK, adds the name, and the live link is never dropped: sends during
 * it are delivered, not queued, and neither side logs the link up again.
 */
static void
test_names_both_sides_use(void **state)
{
	struct fed *f = *state;
	struct daemon *A = f->d[0], *B = f->d[1];
	struct client *am = client_login(A, "messi"),
	    *am2 = client_login(A, "lineker");
	struct client *bh = client_login(B, "henderson");
	cJSON *r, *got = cJSON_CreateArray();
	char text[64];
	int up_a, up_b;

	link_realm(am, "realm2", B, "beta");
	wait_link_up(am, "realm2", 5.0);
	wait_link_up(bh, "alpha", 5.0);
	expect_names(am, "realm2", "realm2", "beta", NULL);
	expect_names(bh, "alpha", "alpha", "realm2", NULL);
	send_delivered(bh, "realm2", "messi", "by the dialer's id");
	send_delivered(bh, "alpha", "messi", "by the realm name");
	up_a = log_count(A, "realm realm2 up");
	up_b = log_count(B, "realm alpha up");
	assert_int_equal(up_a, 1);
	assert_int_equal(up_b, 1);

	/* beta's addrealm for the existing link, while alpha sends */
	client_send(bh, "addrealm mesin1 127.0.0.1 %d\r\n", daemon_port(A));
	for (int i = 0; i < 10; i++) {
		snprintf(text, sizeof(text), "during addrealm %d", i);
		send_delivered(am2, "realm2", "henderson", text);
	}
	r = client_reply(bh);
	assert_reply_ok(r);
	assert_reply_message(r, "Connect realm berhasil");
	assert_string_equal(str(r, "realm"), "mesin1");
	assert_string_equal(str(r, "peer"), "alpha");
	cJSON_Delete(r);
	for (int i = 10; i < 20; i++) {
		snprintf(text, sizeof(text), "during addrealm %d", i);
		send_delivered(am2, "realm2", "henderson", text);
	}
	expect_names(bh, "alpha", "alpha", "realm2", "mesin1", NULL);
	expect_names(am, "realm2", "realm2", "beta", NULL);
	/* again: a name in use is refused, as the seeds say, and nothing more */
	r = addrealm_reply(bh, "mesin1", A);
	assert_reply_error(r, "REALM_EXISTS");
	cJSON_Delete(r);
	expect_names(bh, "alpha", "alpha", "realm2", "mesin1", NULL);
	{
		cJSON *a = list_realms(bh, "getrealms");
		assert_int_equal(cJSON_GetArraySize(a), 1);
		cJSON_Delete(a);
	}
	sleep_ms(1000);		/* a drop would show by now */
	assert_int_equal(log_count(A, "realm realm2 up"), up_a);
	assert_int_equal(log_count(B, "realm alpha up"), up_b);
	assert_int_equal(log_count(A, "realm realm2 down"), 0);
	assert_int_equal(log_count(B, "realm alpha down"), 0);

	/* every name of the link reaches it, and beta reads by any */
	send_delivered(bh, "mesin1", "messi", "by beta's own id");
	assert_int_equal(drain_realm(am, "realm2", got), 3);
	assert_int_equal(count_text(got, "by beta's own id"), 1);
	cJSON_Delete(got);
	got = cJSON_CreateArray();
	collect_realm(bh, "mesin1", got, 20, DRAIN_TIMEOUT);
	assert_int_equal(cJSON_GetArraySize(got), 20);
	for (int i = 0; i < 20; i++) {
		snprintf(text, sizeof(text), "during addrealm %d", i);
		assert_int_equal(count_text(got, text), 1);
	}
	cJSON_Delete(got);
}

/*
 * A link only the peer dials, with no connection (the peer's operator
 * deleted its side): an addrealm for it from this side takes it up
 * again over the new connection, under the same link, with the name.
 */
static void
test_addrealm_revives_idle_link(void **state)
{
	struct fed *f = *state;
	struct daemon *A = f->d[0], *B = f->d[1];
	struct client *am = client_login(A, "messi"),
	    *bh = client_login(B, "henderson");
	char buf[64], *out = NULL, *err = NULL;
	cJSON *got = cJSON_CreateArray();

	link_up_both(am, bh, B);
	send_delivered(am, "beta", "henderson", "before the delete");
	assert_int_equal(daemon_ctl(A, &out, &err, "del", "realm", "beta",
	    NULL), 0);
	free(out);
	free(err);
	wait_state_not_up(bh, "alpha", 5.0, buf, sizeof(buf));
	send_queued(bh, "alpha", "messi", "queued while nobody dials");

	link_realm(bh, "mesin1", A, "alpha");
	wait_link_up(bh, "mesin1", 5.0);
	wait_link_up(am, "beta", 5.0);
	expect_names(bh, "alpha", "alpha", "mesin1", NULL);
	expect_names(am, "beta", "beta", "mesin1", NULL);
	send_delivered(bh, "mesin1", "messi", "after the revival");
	collect_realm(am, "beta", got, 2, DRAIN_TIMEOUT);
	assert_int_equal(cJSON_GetArraySize(got), 2);
	assert_int_equal(count_text(got, "queued while nobody dials"), 1);
	assert_int_equal(count_text(got, "after the revival"), 1);
	cJSON_Delete(got);
	got = cJSON_CreateArray();
	assert_int_equal(drain_realm(bh, "mesin1", got), 1);
	cJSON_Delete(got);
}

/*
 * The attack: a user of alpha loops "addrealm dupN <beta>".  Today's
 * answer: no dup ever replaces or drops the live link (every send in
 * between is delivered, not queued; "up" is logged once), a link takes
 * REALM_ALIASES given names and then QUOTA, and users' dials past
 * realm_user_dials a minute get QUOTA without a dial.
 */
static void
test_addrealm_loop_bounded(void **state)
{
	struct fed *f = *state;
	struct daemon *A = f->d[0], *B = f->d[1];
	struct client *am = client_login(A, "messi"),
	    *am2 = client_login(A, "lineker");
	struct client *bh = client_login(B, "henderson");
	int ok = 0, names_full = 0, too_many = 0, i;
	cJSON *names, *got = cJSON_CreateArray();
	double t0, elapsed;
	pid_t realmd_a, realmd_b;
	char text[64];

	link_up_both(am, bh, B);
	realmd_a = daemon_realmd(A);
	realmd_b = daemon_realmd(B);
	t0 = now_s();
	for (i = 0; i < 30; i++) {
		char id[16];
		cJSON *r;
		const char *status, *msg;

		snprintf(id, sizeof(id), "dup%d", i);
		r = addrealm_reply(am, id, B);
		status = str(r, "status");
		msg = str(r, "message");
		if (strcmp(status, "OK") == 0)
			ok++;
		else if (strcmp(str(r, "code"), "QUOTA") != 0)
			fail_msg("addrealm %s: expected OK or QUOTA: %s", id,
			    show(r));
		else if (strstr(msg, "names given here already") != NULL)
			names_full++;
		else if (strstr(msg, "Too many addrealm") != NULL)
			too_many++;
		else
			fail_msg("addrealm %s: unexpected QUOTA: %s", id, show(r));
		cJSON_Delete(r);
		snprintf(text, sizeof(text), "between dups %d", i);
		send_delivered(am2, "beta", "henderson", text);
	}
	/*
	 * One dial was the link's own: 19 more in a burst, 6 of them named
	 * it, 13 found its names full; the rest waited for the bucket, which
	 * takes one more every 3 s of the loop.
	 */
	elapsed = now_s() - t0;
	assert_int_equal(ok, 6);
	assert_int_equal(names_full + too_many, 30 - 6);
	assert_true(names_full >= 13);
	if (too_many < 11 - (int)(elapsed / 3) - 1)
		fail_msg("%d rate refusals in %.1f s, expected about 11",
		    too_many, elapsed);
	names = link_names(am, "beta");
	assert_int_equal(cJSON_GetArraySize(names), 1 + 6);	/* beta is both */
	cJSON_Delete(names);
	{
		cJSON *a = list_realms(am, "listrealm");
		assert_int_equal(cJSON_GetArraySize(a), 1);
		cJSON_Delete(a);
		a = list_realms(bh, "listrealm");
		assert_int_equal(cJSON_GetArraySize(a), 1);
		cJSON_Delete(a);
	}
	/* beta never saw a proof: the link keeps its one name there */
	expect_names(bh, "alpha", "alpha", NULL);
	assert_int_equal(log_count(A, "realm beta up"), 1);
	assert_int_equal(log_count(B, "realm alpha up"), 1);
	/* neither realmd died on the way (a probe closed under its feet) */
	assert_int_equal(daemon_realmd(A), realmd_a);
	assert_int_equal(daemon_realmd(B), realmd_b);
	send_delivered(am, "dup3", "henderson", "by a dup name");
	collect_realm(bh, "alpha", got, 31, DRAIN_TIMEOUT);
	assert_int_equal(cJSON_GetArraySize(got), 31);
	assert_int_equal(count_text(got, "by a dup name"), 1);
	cJSON_Delete(got);
}

static int
setup_user_limits(void **state)
{
	static const char *const extra[3] = { "realm_user_links = 1\n",
	    NULL, "realm_user_dials = 0\n" };

	return fed_new(state, 3, extra, NULL);
}

/*
 * realm_user_links and realm_user_dials bound users, not the operator:
 * alpha's users make one link and no second (names for it still come),
 * gamma's users dial nothing; realmctl add realm does both.
 */
static void
test_user_dial_limits(void **state)
{
	struct fed *f = *state;
	struct daemon *A = f->d[0], *B = f->d[1], *G = f->d[2];
	struct client *am = client_login(A, "messi"),
	    *gm = client_login(G, "messi");
	char port[16], *out = NULL, *err = NULL;
	cJSON *r;

	link_realm(am, "beta", B, "beta");
	r = addrealm_reply(am, "far", G);
	assert_reply_error(r, "QUOTA");
	assert_non_null(strstr(str(r, "message"), "Users may add 1 realm links"));
	cJSON_Delete(r);
	link_realm(am, "b2", B, "beta");	/* a name for the link it has */
	snprintf(port, sizeof(port), "%d", daemon_port(G));
	assert_int_equal(daemon_ctl(A, &out, &err, "add", "realm", "far",
	    "127.0.0.1", port, NULL), 0);
	free(out);
	free(err);
	wait_link_up(am, "far", 5.0);
	wait_link_up(gm, "alpha", 5.0);

	r = addrealm_reply(gm, "beta", B);
	assert_reply_error(r, "QUOTA");
	assert_non_null(strstr(str(r, "message"), "Only the operator"));
	cJSON_Delete(r);
	snprintf(port, sizeof(port), "%d", daemon_port(B));
	assert_int_equal(daemon_ctl(G, &out, &err, "add", "realm", "beta",
	    "127.0.0.1", port, NULL), 0);
	free(out);
	free(err);
	wait_link_up(gm, "beta", 5.0);
	send_delivered(gm, "beta", "henderson", "the operator's link");
}

/*
 * No name means two links: an addrealm that would make it so is refused
 * with REALM_EXISTS and says which link has the name; a dialer's id
 * that names another link (or this realm) is not taken; a realm's own
 * name outranks a name given to another link.
 */
static void
test_ambiguous_names_refused(void **state)
{
	struct fed *f = *state;
	struct daemon *A = f->d[0], *B = f->d[1], *G = f->d[2];
	struct client *am = client_login(A, "messi"),
	    *bh = client_login(B, "henderson");
	struct client *gm = client_login(G, "messi");
	cJSON *r;

	link_realm(am, "beta", B, "beta");
	link_realm(am, "gamma", B, "beta");	/* a name for beta's link */
	expect_names(am, "beta", "beta", "gamma", NULL);
	/* gamma dials alpha: its realm_name takes "gamma" back */
	link_realm(gm, "x", A, "alpha");
	wait_link_up(am, "gamma", 5.0);
	expect_names(am, "beta", "beta", NULL);
	expect_names(am, "gamma", "gamma", "x", NULL);

	r = addrealm_reply(am, "beta", G);
	assert_reply_error(r, "REALM_EXISTS");
	assert_non_null(strstr(str(r, "message"),
	    "beta already names the link to realm beta"));
	cJSON_Delete(r);
	r = addrealm_reply(am, "x", B);
	assert_reply_error(r, "REALM_EXISTS");
	assert_non_null(strstr(str(r, "message"),
	    "x already names the link to realm gamma"));
	cJSON_Delete(r);
	expect_names(am, "beta", "beta", NULL);
	expect_names(am, "gamma", "gamma", "x", NULL);

	/* gamma calls beta "z", a name of beta's link to alpha: not taken */
	link_realm(bh, "z", A, "alpha");
	link_realm(gm, "z", B, "beta");
	wait_link_up(bh, "gamma", 5.0);
	expect_names(bh, "gamma", "gamma", NULL);
	/* alpha called beta by beta's own name: not a name there */
	expect_names(bh, "alpha", "alpha", "z", NULL);
	r = addrealm_reply(bh, "z", G);
	assert_reply_error(r, "REALM_EXISTS");
	assert_non_null(strstr(str(r, "message"),
	    "z already names the link to realm alpha"));
	cJSON_Delete(r);
	send_delivered(bh, "z", "messi", "to alpha by a name given at beta");
	send_delivered(gm, "z", "henderson", "to beta by gamma's id");
	send_delivered(am, "gamma", "messi", "to gamma by its name");
	send_delivered(am, "x", "messi", "to gamma by its id for us");
}

/* seed_file - "sendfilerealm"-style command with a small file; asserts OK */
static void
seed_file(struct client *c, const char *cmd, const char *id, const char *to,
    const char *name, const unsigned char *data, size_t len)
{
	char *content = b64(data, len);
	cJSON *r = send_file(c, cmd, id, to, name, content);

	assert_reply_ok(r);
	assert_reply_message(r, "Message Sent");
	if (is_queued(r))
		fail_msg("%s %s: the link is up, yet queued: %s", cmd, id,
		    show(r));
	cJSON_Delete(r);
	free(content);
}

/*
 * Seed 003, word for word: two machines (here alpha and beta on
 * loopback), each adds the other under its own id (mesin2, mesin1),
 * then each sends, sends files and reads with its own ids, with the
 * seed's command names.
 */
static void
test_seed_003_two_machines(void **state)
{
	struct fed *f = *state;
	struct daemon *A = f->d[0], *B = f->d[1];
	struct client *am = client_login(A, "messi"),
	    *bh = client_login(B, "henderson");
	struct client *bl = client_login(B, "lineker");
	const unsigned char body[] = "isi file.txt\n\x01\xff";
	cJSON *got = cJSON_CreateArray(), *r;
	const cJSON *e;

	/* Mesin1: addrealm [nama_realm] [address] [port] */
	link_realm(am, "mesin2", B, "beta");
	/* Mesin2 adds Mesin1 the same way */
	link_realm(bh, "mesin1", A, "alpha");
	wait_link_up(am, "mesin2", 5.0);
	wait_link_up(bh, "mesin1", 5.0);

	/* Mesin1 -> Mesin2 */
	send_delivered(am, "mesin2", "henderson", "hello world");
	OK(am, "Message Sent", "sendprivaterealm mesin2 henderson hello from mesin1");
	OK(am, "Message Sent", "sendgrouprealm mesin2 henderson,lineker hallo guys welcome");
	seed_file(am, "sendfilerealm", "mesin2", "henderson", "file.txt", body,
	    sizeof(body));
	seed_file(am, "sendgroupfilerealm", "mesin2", "henderson,lineker",
	    "file.txt", body, sizeof(body));
	collect_realm(bh, "mesin1", got, 5, DRAIN_TIMEOUT);
	r = client_cmd(bh, "getrealminbox mesin1");	/* the seed's name */
	assert_reply_ok(r);
	cJSON_Delete(r);
	assert_int_equal(cJSON_GetArraySize(got), 5);
	assert_int_equal(count_text(got, "hello world"), 1);
	assert_int_equal(count_text(got, "hello from mesin1"), 1);
	assert_int_equal(count_text(got, "hallo guys welcome"), 1);
	{
		int files = 0;
		cJSON_ArrayForEach(e, got)
			if (cJSON_GetObjectItemCaseSensitive(e, "file_content")) {
				check_file_entry(e, "file.txt", body, sizeof(body));
				files++;
			}
		assert_int_equal(files, 2);
	}
	cJSON_Delete(got);
	got = cJSON_CreateArray();
	collect_realm(bl, "mesin1", got, 2, DRAIN_TIMEOUT);
	assert_int_equal(cJSON_GetArraySize(got), 2);
	cJSON_Delete(got);

	/* Mesin2 -> Mesin1 */
	OK(bh, "Message Sent", "sendprivaterealm mesin1 messi hello from mesin2");
	OK(bl, "Message Sent", "sendgrouprealm mesin1 messi,henderson hi from lineker");
	seed_file(bh, "sendfilerealm", "mesin1", "messi", "file.txt", body,
	    sizeof(body));
	seed_file(bh, "sendgroupfilerealm", "mesin1", "messi", "file.txt", body,
	    sizeof(body));
	got = cJSON_CreateArray();
	collect_realm(am, "mesin2", got, 4, DRAIN_TIMEOUT);
	assert_int_equal(cJSON_GetArraySize(got), 4);
	assert_int_equal(count_text(got, "hello from mesin2"), 1);
	assert_int_equal(count_text(got, "hi from lineker"), 1);
	cJSON_Delete(got);

	/* one link each side, answering to both machines' ids at beta */
	expect_names(am, "mesin2", "mesin2", "beta", NULL);
	expect_names(bh, "alpha", "alpha", "mesin2", "mesin1", NULL);
	OK(am, NULL, "ackrealm mesin2");
	OK(bh, NULL, "ackrealm mesin1");
}

/* Names are kept in the state: after both sides restart they still answer */
static void
test_names_after_restart(void **state)
{
	struct fed *f = *state;
	struct daemon *A = f->d[0], *B = f->d[1];
	struct client *am = client_login(A, "messi"),
	    *bh = client_login(B, "henderson");
	cJSON *got = cJSON_CreateArray();

	link_realm(am, "mesin2", B, "beta");
	link_realm(bh, "mesin1", A, "alpha");
	link_realm(am, "b2", B, "beta");
	client_close(am);
	client_close(bh);
	daemon_restart(B);
	daemon_kill9_tree(A);
	daemon_restart(A);
	am = client_login(A, "messi");
	bh = client_login(B, "henderson");
	wait_link_up(am, "mesin2", LINK_TIMEOUT);
	wait_link_up(bh, "mesin1", LINK_TIMEOUT);
	expect_names(am, "mesin2", "mesin2", "beta", "b2", NULL);
	expect_names(bh, "alpha", "alpha", "mesin2", "mesin1", NULL);
	send_delivered(am, "b2", "henderson", "after restarts");
	send_delivered(bh, "mesin1", "messi", "back after restarts");
	collect_realm(bh, "mesin2", got, 1, DRAIN_TIMEOUT);
	assert_int_equal(count_text(got, "after restarts"), 1);
	cJSON_Delete(got);
	got = cJSON_CreateArray();
	collect_realm(am, "beta", got, 1, DRAIN_TIMEOUT);
	assert_int_equal(count_text(got, "back after restarts"), 1);
	cJSON_Delete(got);
}

#define T2(f)	cmocka_unit_test_setup_teardown(f, setup2, fed_teardown)
#define TS(f, s) cmocka_unit_test_setup_teardown(f, s, fed_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T2(test_link_and_private_messages_both_ways),
		T2(test_groups_across_realms_both_ways),
		T2(test_files_across_realms_byte_exact),
		T2(test_realm_files_fetched_after_inbox),
		TS(test_wrong_secret_refused, setup_wrong_secret),
		TS(test_dead_port_and_silent_peer_refused, setup1),
		TS(test_forged_dialer_refused_on_the_wire, setup1),
		TS(test_hostile_dialer_leaves_the_link_alone, setup2_small_lines),
		TS(test_addrealm_to_a_peer_just_started, setup1),
		T2(test_addrealm_by_host_name),
		T2(test_peer_stopped_queued_then_delivered_once),
		T2(test_300_messages_while_realmd_killed),
		T2(test_restart_either_side_link_returns),
		T2(test_kill9_whole_realm_mid_stream),
		T2(test_peer_started_afresh_is_a_new_sender),
		T2(test_refused_while_down_bounces),
		TS(test_bounce_reaches_full_inbox, setup_small_inbox),
		T2(test_handshake_input_bounded),
		TS(test_joingrouprealm_guesses_do_not_stop_mail,
		    setup_real_cost),
		TS(test_three_realms, setup3),
		TS(test_verdicts_with_two_links_into_one_realm, setup3),
		TS(test_realm_queue_quota, setup_realm_queue),
		T2(test_names_both_sides_use),
		T2(test_addrealm_loop_bounded),
		T2(test_addrealm_revives_idle_link),
		TS(test_user_dial_limits, setup_user_limits),
		TS(test_ambiguous_names_refused, setup3),
		T2(test_seed_003_two_machines),
		T2(test_names_after_restart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
