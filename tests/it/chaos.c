/*
 * NAME
 *	it_chaos - a bounded chaos run across two linked realms, verified
 * DESCRIPTION
 *	Two realms, alpha and beta, linked (alpha dials).  Three clients per
 *	realm (messi, henderson, lineker, in forked processes) send unique
 *	private, group, file, realm, realm-list and realm-file messages in
 *	a loop and drain their inboxes now and then, while a watcher per
 *	user (another forked process) holds a connection that said "watch"
 *	and logs every message pushed to it; a watcher whose connection
 *	drops reconnects and watches again, and at the end says "watch off"
 *	and reads up to its reply, so that every push the server handed to
 *	the kernel is counted.  A request whose
 *	connection dropped or timed out has an unknown outcome; the client
 *	reconnects and authenticates again.  Meanwhile a driver kills -9
 *	random workers and the realmd of either side (only processes at
 *	least 5.5 s old, so that the master's throttle for young deaths
 *	never delays a respawn), and once the whole tree of one realm, which
 *	it then restarts on the same state.
 *
 *	At the end, with the link up and both link queues empty, every
 *	inbox, realm inbox and group history is drained, and the verifier
 *	checks, for every (reader, message):
 *	  - every acknowledged (OK) message reached each of its recipients
 *	    exactly once (else "lost" or "doubled"), and every acknowledged
 *	    group message is in its group's history exactly once;
 *	  - a message whose outcome is unknown reached each recipient at
 *	    most once; a refused one reached nobody;
 *	  - nothing arrived that was never sent, or at a reader it was not
 *	    sent to; a file arrived with the bytes sent.
 *	The same (reader, id) seen twice is the documented at-least-once
 *	window of inbox and push delivery (a reply or push written in full,
 *	then its worker killed before it removed the messages): counted
 *	apart as a re-read, not as a doubled message.  A second copy has
 *	another id.
 *
 *	Prints messages acknowledged, lost, doubled, re-reads, pushes, kills
 *	survived and the longest pause in service (the longest a client
 *	went between two successful replies).
 *	Environment: CHAOS_SECONDS (load, default 20), CHAOS_SEED.
 */
#include "harness.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define SECRET		"chaos-secret"
#define NREALM		2
#define NUSER		3
#define NCLIENT		(NREALM * NUSER)
#define MAXIDS		4		/* distinct ids kept per (message, reader) */
#define SEND_TIMEOUT_MS	8000		/* the worker gives up after 1 s + 2 s */
#define READ_TIMEOUT_MS	15000		/* an inbox reply is never abandoned early */
#define OLD_ENOUGH_S	5.5		/* younger deaths are throttled by design */
#define SETTLE_S	30.0		/* link up and queues empty after the load */

static const char *const realm_names[NREALM] = { "alpha", "beta" };
static const char *const users[NUSER] = { "messi", "henderson", "lineker" };

enum kind { K_PRIVATE, K_GROUP, K_FILE, K_REALM, K_RLIST, K_RFILE, K_COUNT };
static const char *const kind_names[K_COUNT] = {
	"private", "group", "file", "realm", "realmlist", "realmfile"
};
/* out of 100: how often a client picks each kind */
static const int kind_weight[K_COUNT] = { 25, 15, 10, 25, 15, 10 };

enum outcome { O_NONE, O_UNKNOWN, O_OK, O_REFUSED };

/* peer_link - the link id realm r uses for the other realm */
static const char *
peer_link(int r)
{
	return r == 0 ? "beta" : "alpha";
}

/* ---------------------------------------------------------------- */
/* Clients (forked; they never assert, they log)                     */
/* ---------------------------------------------------------------- */

struct cl {
	int		 ci, r, i;	/* client, its realm and user */
	int		 port[NREALM];
	FILE		*log;
	struct client	*c;		/* NULL: not connected */
	unsigned	 rnd;
	double		 end;		/* stop sending after this */
	double		 last_ok;	/* time of the last OK reply */
	double		 worst;		/* longest gap between two OK replies */
	int		 reconnects, unknown, timeouts;
};

/* file_body - what a file message named text holds */
static char *
file_body(const char *text)
{
	char body[192];

	snprintf(body, sizeof(body), "chaos file %s\n", text);
	return b64((const unsigned char *)body, strlen(body));
}

/* note_ok - a successful reply: the gap since the last one may be the worst */
static void
note_ok(struct cl *k)
{
	double t = now_s();

	if (t - k->last_ok > k->worst)
		k->worst = t - k->last_ok;
	k->last_ok = t;
}

static void
drop(struct cl *k)
{
	client_close(k->c);
	k->c = NULL;
}

/* status_is - the reply's status is s */
static bool
status_is(const cJSON *r, const char *s)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, "status");

	return cJSON_IsString(v) && strcmp(v->valuestring, s) == 0;
}

/* code_of - the reply's error code, or "" */
static const char *
code_of(const cJSON *r)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, "code");

	return cJSON_IsString(v) ? v->valuestring : "";
}

/* connect_auth - connected and authenticated, or false at the deadline */
static bool
connect_auth(struct cl *k, double deadline)
{
	char line[96];

	snprintf(line, sizeof(line), "auth %s %s", users[k->i], SEED_PASSWORD);
	while (k->c == NULL) {
		cJSON *r = NULL;
		int rc;

		if (now_s() > deadline)
			return false;
		if ((k->c = client_try_connect(k->port[k->r])) == NULL) {
			sleep_ms(20);
			continue;
		}
		k->reconnects++;
		rc = client_try_cmd(k->c, line, &r, SEND_TIMEOUT_MS);
		if (rc == 0 && status_is(r, "OK"))
			note_ok(k);
		else
			drop(k);
		cJSON_Delete(r);
	}
	return true;
}

/*
 * request - one line; 0 with the reply, or -1 when its outcome is
 * unknown (the connection dropped or the reply did not come in time)
 */
static int
request(struct cl *k, const char *line, cJSON **reply, int timeout_ms)
{
	int rc;

	*reply = NULL;
	if (!connect_auth(k, k->end + 20.0))
		return -1;
	rc = client_try_cmd(k->c, line, reply, timeout_ms);
	if (rc != 0) {
		k->timeouts += rc == -2;
		drop(k);
		return -1;
	}
	if (status_is(*reply, "OK"))
		note_ok(k);
	else if (strcmp(code_of(*reply), "NO_SESSION") == 0)
		drop(k);		/* evicted: authenticate again */
	return 0;
}

/* log_entry - one received inbox entry: "R reader id text content" */
static void
log_entry(struct cl *k, const cJSON *e)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "msg");
	const cJSON *fc = cJSON_GetObjectItemCaseSensitive(e, "file_content");

	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "bounce"))) {
		fprintf(k->log, "B %d\n", k->ci);
		return;
	}
	fprintf(k->log, "R %d %.0f %s %s\n", k->ci,
	    cJSON_IsNumber(id) ? id->valuedouble : -1.0,
	    cJSON_IsString(msg) && *msg->valuestring &&
	    strpbrk(msg->valuestring, " \n") == NULL ? msg->valuestring : "?",
	    cJSON_IsString(fc) ? fc->valuestring : "-");
}

/* log_entries - every entry of an inbox reply (object of arrays, or array) */
static void
log_entries(struct cl *k, const cJSON *messages)
{
	const cJSON *a, *e;

	if (cJSON_IsArray(messages)) {
		cJSON_ArrayForEach(e, messages)
			log_entry(k, e);
		return;
	}
	cJSON_ArrayForEach(a, messages)
		cJSON_ArrayForEach(e, a)
			log_entry(k, e);
}

/* drain - "inbox" and the realm inbox until no "more"; false if cut off */
static bool
drain(struct cl *k)
{
	char line[64];
	const char *cmds[2] = { "inbox", line };

	snprintf(line, sizeof(line), "inboxrealm %s", peer_link(k->r));
	for (int j = 0; j < 2; j++)
		for (int round = 0; round < 100; round++) {
			cJSON *r;
			bool more;

			if (request(k, cmds[j], &r, READ_TIMEOUT_MS) == -1)
				return false;
			if (!status_is(r, "OK")) {
				cJSON_Delete(r);
				break;
			}
			log_entries(k, cJSON_GetObjectItemCaseSensitive(r,
			    "messages"));
			more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r,
			    "more"));
			cJSON_Delete(r);
			if (!more)
				break;
		}
	return true;
}

/* pick_kind - a kind by weight */
static enum kind
pick_kind(struct cl *k)
{
	int x = (int)(rand_r(&k->rnd) % 100);

	for (int j = 0; j < K_COUNT; j++)
		if ((x -= kind_weight[j]) < 0)
			return (enum kind)j;
	return K_PRIVATE;
}

/*
 * compose - the request line for message seq of kind; its text goes to
 * text and the bit mask of its recipients (bit realm * NUSER + user)
 */
static char *
compose(struct cl *k, enum kind kd, int seq, char *text, size_t textsz,
    unsigned *mask)
{
	int other = (k->i + 1 + (int)(rand_r(&k->rnd) % (NUSER - 1))) % NUSER;
	int pr = 1 - k->r, a = (int)(rand_r(&k->rnd) % NUSER);
	int b = (a + 1 + (int)(rand_r(&k->rnd) % (NUSER - 1))) % NUSER;
	char *line = NULL, *body = NULL;

	snprintf(text, textsz, "ch%d-%d-%s", k->ci, seq, kind_names[kd]);
	switch (kd) {
	case K_PRIVATE:
		*mask = 1u << (k->r * NUSER + other);
		if (asprintf(&line, "send %s %s", users[other], text) < 0)
			abort();
		break;
	case K_GROUP:
		*mask = 0;
		for (int j = 0; j < NUSER; j++)
			if (j != k->i)
				*mask |= 1u << (k->r * NUSER + j);
		if (asprintf(&line, "sendgroup crew %s", text) < 0)
			abort();
		break;
	case K_FILE:
		*mask = 1u << (k->r * NUSER + other);
		body = file_body(text);
		if (asprintf(&line, "sendfile %s %s b'%s'", users[other], text,
		    body) < 0)
			abort();
		break;
	case K_REALM:
		*mask = 1u << (pr * NUSER + a);
		if (asprintf(&line, "sendrealm %s %s %s", peer_link(k->r),
		    users[a], text) < 0)
			abort();
		break;
	case K_RLIST:
		*mask = 1u << (pr * NUSER + a) | 1u << (pr * NUSER + b);
		if (asprintf(&line, "sendgrouprealm %s %s,%s %s",
		    peer_link(k->r), users[a], users[b], text) < 0)
			abort();
		break;
	case K_RFILE:
		*mask = 1u << (pr * NUSER + a);
		body = file_body(text);
		if (asprintf(&line, "sendfilerealm %s %s %s %s",
		    peer_link(k->r), users[a], text, body) < 0)
			abort();
		break;
	default:
		abort();
	}
	free(body);
	return line;
}

/* send_one - compose, log the attempt, send, log the outcome */
static void
send_one(struct cl *k, int seq)
{
	char text[64];
	unsigned mask;
	enum kind kd = pick_kind(k);
	char *line = compose(k, kd, seq, text, sizeof(text), &mask);
	cJSON *r;

	fprintf(k->log, "A %s %u\n", text, mask);
	if (request(k, line, &r, SEND_TIMEOUT_MS) == -1) {
		k->unknown++;
		fprintf(k->log, "U %s\n", text);
	} else if (status_is(r, "OK"))
		fprintf(k->log, "K %s\n", text);
	else
		fprintf(k->log, "E %s %s\n", text, code_of(r));
	cJSON_Delete(r);
	free(line);
}

/* client_main - in the child: send and drain until the end, then log */
static void
client_main(struct cl *k)
{
	int seq = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	k->last_ok = now_s();
	while (now_s() < k->end) {
		send_one(k, seq++);
		if (seq % 8 == 0)
			drain(k);
		sleep_ms(1);
	}
	drain(k);
	fprintf(k->log, "P %d %.3f %d %d %d\n", k->ci, k->worst,
	    k->reconnects, k->unknown, k->timeouts);
	fclose(k->log);
	drop(k);
	_exit(0);
}

/* log_object - a pushed message is logged; anything else is a reply */
static bool
log_object(struct cl *k, cJSON *o)
{
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(o, "event");
	bool reply = !cJSON_IsString(ev);

	if (!reply) {
		log_entry(k, o);
		k->unknown++;		/* a watcher counts its pushes here */
	}
	return reply;
}

/*
 * watch_cmd - send line on the watcher's connection and read objects up
 * to its reply, logging the pushes before it; false if the connection
 * is gone (or the reply did not come), true with the reply's status OK
 */
static bool
watch_cmd(struct cl *k, const char *line)
{
	double end = now_s() + READ_TIMEOUT_MS / 1000.0;
	bool ok = false;
	cJSON *o;

	if (!connect_auth(k, k->end + 20.0) ||
	    client_try_write(k->c, line, SEND_TIMEOUT_MS) != 0) {
		if (k->c != NULL)
			drop(k);
		return false;
	}
	for (;;) {
		int rc = client_try_object(k->c, (int)((end - now_s()) * 1000),
		    &o);

		if (rc != 0) {
			drop(k);
			return false;
		}
		if (log_object(k, o)) {
			ok = status_is(o, "OK");
			cJSON_Delete(o);
			break;
		}
		cJSON_Delete(o);
	}
	if (ok)
		note_ok(k);
	else
		drop(k);		/* its session was evicted: log in again */
	return ok;
}

/*
 * watcher_main - in the child: watch, log pushes, watch again after a
 * drop (and every 2 s, in case the session was evicted), then at the
 * end "watch off" and read up to its reply
 */
static void
watcher_main(struct cl *k)
{
	double again = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	k->last_ok = now_s();
	while (now_s() < k->end) {
		cJSON *o;

		if (k->c == NULL || now_s() > again) {
			if (!watch_cmd(k, "watch")) {
				sleep_ms(20);
				continue;
			}
			again = now_s() + 2.0;
		}
		switch (client_try_object(k->c, 200, &o)) {
		case 0:
			log_object(k, o);
			cJSON_Delete(o);
			break;
		case -2:
			break;
		default:
			drop(k);	/* its worker died: what it sent is read */
		}
	}
	for (int tries = 0; tries < 5 && !watch_cmd(k, "watch off"); tries++)
		;
	fprintf(k->log, "W %d %d\n", k->ci, k->unknown);
	fclose(k->log);
	drop(k);
	_exit(0);
}

/* ---------------------------------------------------------------- */
/* The verifier's tally                                              */
/* ---------------------------------------------------------------- */

struct msgrec {
	uint8_t		 kind;
	uint8_t		 outcome;	/* enum outcome */
	uint8_t		 mask;		/* recipients */
	uint8_t		 hist;		/* times in its group's history */
	uint8_t		 nids[NCLIENT];	/* distinct ids seen per reader */
	uint32_t	 ids[NCLIENT][MAXIDS];
};

struct tally {
	struct msgrec	*m[NCLIENT];	/* per sender, by sequence number */
	int		 n[NCLIENT];
	long		 rereads, never_sent, misdelivered, corrupt, bounces;
	long		 entries, pushes;
	double		 worst[NCLIENT];
	int		 reconnects, unknown_rq, timeouts;
};

/* msg_of - the record of text "ch<ci>-<seq>-<kind>", growing, or NULL */
static struct msgrec *
msg_of(struct tally *t, const char *text, bool create)
{
	int ci, seq, used = 0;
	char kname[16];

	if (sscanf(text, "ch%d-%d-%15[a-z]%n", &ci, &seq, kname, &used) != 3 ||
	    text[used] != '\0' || ci < 0 || ci >= NCLIENT || seq < 0 ||
	    seq > 10000000)
		return NULL;
	if (seq >= t->n[ci]) {
		int n = t->n[ci];

		if (!create)
			return NULL;
		while (n <= seq)
			n = n ? n * 2 : 1024;
		t->m[ci] = realloc(t->m[ci], n * sizeof(struct msgrec));
		memset(t->m[ci] + t->n[ci], 0,
		    (n - t->n[ci]) * sizeof(struct msgrec));
		t->n[ci] = n;
	}
	if (!create && t->m[ci][seq].outcome == O_NONE)
		return NULL;
	if (strcmp(kname, kind_names[t->m[ci][seq].kind]) != 0 && !create)
		return NULL;
	return &t->m[ci][seq];
}

/* kind_of - the kind named in a text */
static int
kind_of(const char *text)
{
	const char *p = strrchr(text, '-');

	for (int j = 0; p != NULL && j < K_COUNT; j++)
		if (strcmp(p + 1, kind_names[j]) == 0)
			return j;
	return -1;
}

/* received - reader got entry id with this text (and file content) */
static void
received(struct tally *t, int reader, long id, const char *text,
    const char *content)
{
	struct msgrec *m = msg_of(t, text, false);

	t->entries++;
	if (m == NULL) {
		t->never_sent++;
		print_message("# never sent: \"%s\" (id %ld) at reader %d\n",
		    text, id, reader);
		return;
	}
	if (!(m->mask & (1u << reader))) {
		t->misdelivered++;
		print_message("# \"%s\" reached reader %d, not a recipient\n",
		    text, reader);
		return;
	}
	if (m->kind == K_FILE || m->kind == K_RFILE) {
		char *want = file_body(text);

		if (strcmp(want, content) != 0) {
			t->corrupt++;
			print_message("# \"%s\": file content %s, sent %s\n",
			    text, content, want);
		}
		free(want);
	}
	for (int j = 0; j < m->nids[reader]; j++)
		if (m->ids[reader][j] == (uint32_t)id) {
			t->rereads++;
			return;
		}
	if (m->nids[reader] < MAXIDS)
		m->ids[reader][m->nids[reader]++] = (uint32_t)id;
}

/*
 * read_log - fold one client's log into the tally: pass 0 takes what
 * was sent, pass 1 what arrived (which may come from any sender's log)
 */
static void
read_log(struct tally *t, const char *path, int pass)
{
	FILE *fp = fopen(path, "r");
	char line[4096], a[128], b[2048];
	int reader, ci, rc, un, to;
	unsigned mask;
	double id, worst;

	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL) {
		struct msgrec *m;

		if ((pass == 0) != (strchr("AKEUPW", line[0]) != NULL))
			continue;
		switch (line[0]) {
		case 'A':
			assert_int_equal(sscanf(line, "A %127s %u", a, &mask), 2);
			assert_non_null(m = msg_of(t, a, true));
			m->kind = (uint8_t)kind_of(a);
			m->mask = (uint8_t)mask;
			m->outcome = O_UNKNOWN;
			break;
		case 'K':
		case 'E':
		case 'U':
			assert_int_equal(sscanf(line + 2, "%127s", a), 1);
			assert_non_null(m = msg_of(t, a, false));
			m->outcome = line[0] == 'K' ? O_OK :
			    line[0] == 'E' ? O_REFUSED : O_UNKNOWN;
			if (line[0] == 'E')
				print_message("# refused: %s", line + 2);
			break;
		case 'R':
			assert_int_equal(sscanf(line, "R %d %lf %127s %2047s",
			    &reader, &id, a, b), 4);
			received(t, reader, (long)id, a, b);
			break;
		case 'B':
			t->bounces++;
			break;
		case 'W':
			assert_int_equal(sscanf(line, "W %d %d", &ci, &un), 2);
			t->pushes += un;
			break;
		case 'P':
			assert_int_equal(sscanf(line, "P %d %lf %d %d %d", &ci,
			    &worst, &rc, &un, &to), 5);
			t->worst[ci] = worst;
			t->reconnects += rc;
			t->unknown_rq += un;
			t->timeouts += to;
			break;
		default:
			fail_msg("%s: unexpected line \"%s\"", path, line);
		}
	}
	fclose(fp);
}

/* ---------------------------------------------------------------- */
/* The daemons and the driver                                        */
/* ---------------------------------------------------------------- */

struct run {
	struct daemon	*d[NREALM];
	char		 logdir[1024];
	unsigned	 seed;
	double		 load_s;
	int		 kills_worker, kills_realmd, kills_tree;
	int		 tree_realm;
	double		 tree_outage;	/* kill -9 of the tree until it answers */
};

/* ok_cmd - a command that must succeed */
static void
ok_cmd(struct client *c, const char *line)
{
	cJSON *r = client_cmd(c, "%s", line);

	assert_reply_ok(r);
	cJSON_Delete(r);
}

/* realm_field - a number of link id in listrealm, or -1 if not listed */
static double
realm_field(struct client *c, const char *id, const char *key, char *state,
    size_t statesz)
{
	cJSON *r = client_cmd(c, "listrealm"), *e;
	double v = -1;

	assert_reply_ok(r);
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r, "realms")) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "id");
		const cJSON *x = cJSON_GetObjectItemCaseSensitive(e, key);
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(e, "state");

		if (cJSON_IsString(n) && strcmp(n->valuestring, id) == 0 &&
		    cJSON_IsNumber(x)) {
			v = x->valuedouble;
			snprintf(state, statesz, "%s", cJSON_IsString(s) ?
			    s->valuestring : "?");
		}
	}
	cJSON_Delete(r);
	return v;
}

/* settle - both links up, both queues empty, a round trip each way */
static void
settle(struct client *c[NREALM])
{
	double end = now_s() + SETTLE_S;
	char state[32] = "";

	for (;;) {
		bool done = true;

		for (int r = 0; r < NREALM; r++) {
			double q = realm_field(c[r], peer_link(r), "queued",
			    state, sizeof(state));
			cJSON *a;

			if (q != 0 || strcmp(state, "up") != 0) {
				done = false;
				continue;
			}
			a = client_cmd(c[r], "ackrealm %s", peer_link(r));
			done = done && status_is(a, "OK");
			cJSON_Delete(a);
		}
		if (done)
			return;
		if (now_s() > end)
			fail_msg("links not up with empty queues %.0f s after "
			    "the load (last state \"%s\")", SETTLE_S, state);
		sleep_ms(100);
	}
}

/* start_realms - alpha and beta, linked; the group crew on each */
static void
start_realms(struct run *x)
{
	struct client *c;
	char cfg[512];

	for (int r = 0; r < NREALM; r++) {
		snprintf(cfg, sizeof(cfg), "realm_name = %s\nrealm_secret = "
		    SECRET "\nrealm_backoff_max = 1\nrealm_wait = 1\n"
		    "workers = 3\ngroup_history = 100000\n", realm_names[r]);
		x->d[r] = daemon_start(cfg);
	}
	for (int r = 0; r < NREALM; r++) {
		char want[64];

		snprintf(want, sizeof(want), "serving realm %s", realm_names[r]);
		if (!daemon_wait_log(x->d[r], want, 5.0))
			fail_msg("no \"%s\" in the log within 5 s", want);
		for (int i = 0; i < NUSER; i++) {
			c = client_connect(x->d[r]);
			client_auth(c, users[i], SEED_PASSWORD);
			ok_cmd(c, i == 0 ? "addgroup crew" : "joingroup crew");
			if (r == 0 && i == 0) {
				char line[96];

				snprintf(line, sizeof(line), "addrealm beta "
				    "127.0.0.1 %d", daemon_port(x->d[1]));
				ok_cmd(c, line);
			}
			client_close(c);
		}
	}
}

/* Processes the driver has seen, with when it first saw them. */
struct seen {
	pid_t	 pid[256];
	double	 at[256];
	int	 n;
};

/* age - seconds since the driver first saw pid */
static double
age(struct seen *s, pid_t pid)
{
	for (int j = 0; j < s->n; j++)
		if (s->pid[j] == pid)
			return now_s() - s->at[j];
	if (s->n < 256) {
		s->pid[s->n] = pid;
		s->at[s->n++] = now_s();
	}
	return 0;
}

/* kill_random - SIGKILL one old enough worker or realmd of either realm */
static void
kill_random(struct run *x, struct seen *s)
{
	pid_t cand[64];
	bool realmd[64];
	int n = 0;

	for (int r = 0; r < NREALM; r++) {
		pid_t kids[32];
		int nk = daemon_children(x->d[r], kids, 32);

		for (int j = 0; j < nk && n < 64; j++) {
			char *t = proc_title(kids[j]);
			bool is_realmd = strstr(t, "realmd") != NULL;

			free(t);
			if (age(s, kids[j]) < OLD_ENOUGH_S)
				continue;
			realmd[n] = is_realmd;
			cand[n++] = kids[j];
		}
	}
	if (n == 0)
		return;
	n = (int)(rand_r(&x->seed) % (unsigned)n);
	if (kill(cand[n], SIGKILL) == 0) {
		if (realmd[n])
			x->kills_realmd++;
		else
			x->kills_worker++;
	}
}

/* kill_tree - kill -9 the whole tree of realm r, then start it again */
static void
kill_tree(struct run *x, int r)
{
	double t0 = now_s();

	daemon_kill9_tree(x->d[r]);
	sleep_ms(200);
	daemon_restart(x->d[r]);
	x->tree_outage = now_s() - t0;
	x->kills_tree++;
	x->tree_realm = r;
}

/* drive - kill while the clients run, until the end of the load */
static void
drive(struct run *x, double end)
{
	struct seen s = { .n = 0 };
	double tree_at = now_s() + x->load_s * 0.4;
	bool tree_done = false;

	while (now_s() < end) {
		sleep_ms(200 + (int)(rand_r(&x->seed) % 400));
		if (!tree_done && now_s() >= tree_at) {
			kill_tree(x, (int)(x->seed % NREALM));
			tree_done = true;
		} else
			kill_random(x, &s);
	}
	assert_true(tree_done);
}

/*
 * fork_clients - two processes per (realm, user): the client that sends
 * and drains (pids[ci]) and the watcher (pids[NCLIENT + ci])
 */
static void
fork_clients(struct run *x, pid_t pids[2 * NCLIENT], double end)
{
	for (int j = 0; j < 2 * NCLIENT; j++) {
		int ci = j % NCLIENT;
		struct cl k = {
			.ci = ci, .r = ci / NUSER, .i = ci % NUSER,
			.rnd = x->seed * 7919u + (unsigned)j, .end = end,
		};
		char path[1100];

		for (int r = 0; r < NREALM; r++)
			k.port[r] = daemon_port(x->d[r]);
		snprintf(path, sizeof(path), "%s/%s%d.log", x->logdir,
		    j < NCLIENT ? "client" : "watch", ci);
		fflush(NULL);
		assert_true((pids[j] = fork()) != -1);
		if (pids[j] == 0) {
			if ((k.log = fopen(path, "w")) == NULL)
				_exit(2);
			if (j < NCLIENT)
				client_main(&k);
			watcher_main(&k);
		}
	}
}

/* reap_clients - every client exited 0 within the time */
static void
reap_clients(pid_t pids[2 * NCLIENT], double timeout)
{
	double end = now_s() + timeout;

	for (int ci = 0; ci < 2 * NCLIENT; ci++) {
		int st;
		pid_t p;

		while ((p = waitpid(pids[ci], &st, WNOHANG)) == 0 &&
		    now_s() < end)
			sleep_ms(20);
		if (p != pids[ci]) {
			kill(pids[ci], SIGKILL);
			waitpid(pids[ci], &st, 0);
			fail_msg("client %d still running %.0f s after the "
			    "load", ci, timeout);
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			fail_msg("client %d ended with status 0x%x", ci, st);
	}
}

/* final_drain - every user's inbox and realm inbox, into the tally */
static void
final_drain(struct run *x, struct tally *t)
{
	for (int ci = 0; ci < NCLIENT; ci++) {
		char path[1100];
		struct cl k = {
			.ci = ci, .r = ci / NUSER, .i = ci % NUSER,
			.end = now_s() + 5.0,
		};

		for (int r = 0; r < NREALM; r++)
			k.port[r] = daemon_port(x->d[r]);
		snprintf(path, sizeof(path), "%s/final%d.log", x->logdir, ci);
		assert_non_null(k.log = fopen(path, "w"));
		k.last_ok = now_s();
		if (!drain(&k))
			fail_msg("final drain of client %d cut off", ci);
		drop(&k);
		fclose(k.log);
		read_log(t, path, 1);
	}
}

/* check_history - each realm's crew history against the group sends */
static void
check_history(struct run *x, struct tally *t)
{
	for (int r = 0; r < NREALM; r++) {
		struct client *c = client_connect(x->d[r]);
		cJSON *h, *e;

		client_auth(c, "messi", SEED_PASSWORD);
		h = client_cmd(c, "inboxgroup crew");
		assert_reply_ok(h);
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(h,
		    "messages")) {
			const char *text = json_string(e, "msg");
			struct msgrec *m = msg_of(t, text, false);

			if (m == NULL || m->kind != K_GROUP) {
				t->never_sent++;
				print_message("# never sent: \"%s\" in the "
				    "history of %s\n", text, realm_names[r]);
			} else
				m->hist++;
		}
		cJSON_Delete(h);
		client_close(c);
	}
}

/* Figures of one run. */
struct figures {
	long	 attempted, acked, refused, unknown, unknown_arrived;
	long	 acked_kind[K_COUNT], deliveries;
	long	 lost, doubled, refused_arrived, hist_lost, hist_doubled;
};

/* judge - compare what arrived with what was acknowledged */
static void
judge(struct tally *t, struct figures *f)
{
	int shown = 0;

	memset(f, 0, sizeof(*f));
	for (int ci = 0; ci < NCLIENT; ci++)
		for (int seq = 0; seq < t->n[ci]; seq++) {
			struct msgrec *m = &t->m[ci][seq];
			bool any = false, bad = false;

			if (m->outcome == O_NONE)
				continue;
			f->attempted++;
			for (int u = 0; u < NCLIENT; u++) {
				if (!(m->mask & (1u << u)))
					continue;
				any |= m->nids[u] > 0;
				if (m->nids[u] > 1) {
					f->doubled++;
					bad = true;
				}
				if (m->outcome == O_OK) {
					f->deliveries += m->nids[u] > 0;
					if (m->nids[u] == 0) {
						f->lost++;
						bad = true;
					}
				}
			}
			if (m->outcome == O_OK) {
				f->acked++;
				f->acked_kind[m->kind]++;
				if (m->kind == K_GROUP && m->hist == 0)
					f->hist_lost++, bad = true;
			} else if (m->outcome == O_REFUSED) {
				f->refused++;
				if (any || m->hist > 0)
					f->refused_arrived++, bad = true;
			} else {
				f->unknown++;
				f->unknown_arrived += any;
			}
			if (m->hist > 1)
				f->hist_doubled++, bad = true;
			if (bad && ++shown <= 20)
				print_message("# ch%d-%d-%s (outcome %d, "
				    "recipients 0x%x, history %d): ids per "
				    "reader %d %d %d %d %d %d\n", ci, seq,
				    kind_names[m->kind], m->outcome, m->mask,
				    m->hist, m->nids[0], m->nids[1], m->nids[2],
				    m->nids[3], m->nids[4], m->nids[5]);
		}
}

/* report - the figures, one line each */
static void
report(struct run *x, struct tally *t, struct figures *f)
{
	double worst[NREALM] = { 0, 0 };

	for (int ci = 0; ci < NCLIENT; ci++)
		if (t->worst[ci] > worst[ci / NUSER])
			worst[ci / NUSER] = t->worst[ci];
	print_message("# chaos: seed %u, %.0f s of load, %d clients on %d "
	    "realms\n", x->seed, x->load_s, NCLIENT, NREALM);
	print_message("# kills survived: %d (workers %d, realmd %d, whole "
	    "tree of %s %d, down %.2f s)\n", x->kills_worker +
	    x->kills_realmd + x->kills_tree, x->kills_worker, x->kills_realmd,
	    realm_names[x->tree_realm], x->kills_tree, x->tree_outage);
	print_message("# messages: %ld sent, %ld acknowledged (private %ld, "
	    "group %ld, file %ld, realm %ld, realm list %ld, realm file %ld), "
	    "%ld refused, %ld unknown outcome (%ld of them arrived)\n",
	    f->attempted, f->acked, f->acked_kind[K_PRIVATE],
	    f->acked_kind[K_GROUP], f->acked_kind[K_FILE],
	    f->acked_kind[K_REALM], f->acked_kind[K_RLIST],
	    f->acked_kind[K_RFILE], f->refused, f->unknown,
	    f->unknown_arrived);
	print_message("# deliveries of acknowledged messages: %ld; lost %ld, "
	    "doubled %ld, history lost %ld, history doubled %ld\n",
	    f->deliveries, f->lost, f->doubled, f->hist_lost, f->hist_doubled);
	print_message("# never sent %ld, misdelivered %ld, refused but "
	    "arrived %ld, corrupt files %ld, bounces %ld\n", t->never_sent,
	    t->misdelivered, f->refused_arrived, t->corrupt, t->bounces);
	print_message("# inbox and push re-reads (same reader, same id: the "
	    "documented at-least-once window): %ld of %ld entries read, "
	    "%ld of them pushed to watchers\n", t->rereads, t->entries,
	    t->pushes);
	print_message("# longest pause in service: alpha %.2f s, beta %.2f s "
	    "(reconnects %d, requests with unknown outcome %d, of them "
	    "timeouts %d)\n", worst[0], worst[1], t->reconnects,
	    t->unknown_rq, t->timeouts);
}

static void
test_chaos_two_realms(void **state)
{
	struct run x = { .load_s = 20.0 };
	struct tally t;
	struct figures f;
	struct client *c[NREALM];
	pid_t pids[2 * NCLIENT];
	const char *env;
	double end;

	memset(&t, 0, sizeof(t));
	if ((env = getenv("CHAOS_SECONDS")) != NULL && atof(env) >= 2)
		x.load_s = atof(env);
	x.seed = (env = getenv("CHAOS_SEED")) != NULL ?
	    (unsigned)strtoul(env, NULL, 10) : (unsigned)getpid() ^
	    (unsigned)(now_s() * 1000);
	start_realms(&x);
	snprintf(x.logdir, sizeof(x.logdir), "%s", daemon_dir(x.d[0]));
	for (int r = 0; r < NREALM; r++) {
		c[r] = client_connect(x.d[r]);
		client_auth(c[r], "messi", SEED_PASSWORD);
	}
	settle(c);
	for (int r = 0; r < NREALM; r++)
		client_close(c[r]);

	end = now_s() + x.load_s;
	fork_clients(&x, pids, end);
	drive(&x, end);
	reap_clients(pids, 30.0);

	for (int r = 0; r < NREALM; r++) {
		c[r] = client_connect(x.d[r]);
		client_auth(c[r], "messi", SEED_PASSWORD);
	}
	settle(c);
	for (int pass = 0; pass < 2; pass++)
		for (int j = 0; j < 2 * NCLIENT; j++) {
			char path[1100];

			snprintf(path, sizeof(path), "%s/%s%d.log", x.logdir,
			    j < NCLIENT ? "client" : "watch", j % NCLIENT);
			read_log(&t, path, pass);
		}
	final_drain(&x, &t);
	settle(c);
	final_drain(&x, &t);		/* nothing may come late */
	check_history(&x, &t);
	judge(&t, &f);
	report(&x, &t, &f);
	for (int r = 0; r < NREALM; r++) {
		client_close(c[r]);
		daemon_stop(x.d[r]);
		daemon_destroy(x.d[r]);
	}
	for (int ci = 0; ci < NCLIENT; ci++)
		free(t.m[ci]);
	assert_true(f.acked > 100);
	assert_true(x.kills_worker + x.kills_realmd >= 4);
	assert_int_equal(f.lost, 0);
	assert_int_equal(f.doubled, 0);
	assert_int_equal(f.hist_lost + f.hist_doubled, 0);
	assert_int_equal(t.never_sent + t.misdelivered + f.refused_arrived, 0);
	assert_int_equal(t.corrupt, 0);
	assert_true(t.pushes > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chaos_two_realms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
