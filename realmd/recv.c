/*
 * NAME
 *	recv - what a peer sends over an up link: its mail and its requests
 * DESCRIPTION
 *	A msg frame is stored once and answered every time: the peer's
 *	sequence number says whether it is new, a resend (it gets its first
 *	answer again) or out of the window (refused).  A history request
 *	reads one of our groups; a join request is join.c's.  Round trips
 *	the other way (ping, join, history asked by a worker here) go out
 *	from peer_request and come back to reply_take.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bsd/string.h>

#include "lib/ascii.h"
#include "lib/filedata.h"
#include "lib/log.h"
#include "realmd/peer.h"
#include "shm/deliver.h"

static struct ratelog seq_log;

/* send_verdict - answer the peer's message id (code E_COUNT: stored) */
static void
send_verdict(struct peer *p, uint64_t id, enum rc_code code, const char *msg,
    cJSON *extra)
{
	cJSON *o = extra != NULL ? extra : cJSON_CreateObject();

	cJSON_AddStringToObject(o, "t", "verdict");
	cJSON_AddNumberToObject(o, "id", (double)id);
	cJSON_AddBoolToObject(o, "ok", code == E_COUNT);
	if (code != E_COUNT) {
		cJSON_AddStringToObject(o, "code", code_name(code));
		cJSON_AddStringToObject(o, "message", msg ? msg : code_text(code));
	}
	send_frame(p, o);
}

/* incoming_text - the text of a msg frame as we store it; E_COUNT if fine */
static enum rc_code
incoming_text(const char *text, char **out, size_t *len)
{
	size_t n = strlen(text);

	*out = NULL;
	*len = n;
	if (n > rd.cf->max_message)
		return E_TOO_LARGE;
	if (n == 0)
		return E_BAD_ARGS;
	if ((*out = malloc(3 * n + 1)) == NULL)
		return E_INTERNAL;
	*len = utf8_sanitize(text, n, *out);
	return *len > rd.cf->max_message ? E_TOO_LARGE : E_COUNT;
}

/* incoming_file - decode and spool a msg frame's file */
static enum rc_code
incoming_file(const cJSON *file, uint64_t *spool, uint64_t *size, char *name)
{
	const char *b64 = link_str(file, "content");
	const char *fname = link_str(file, "name");
	size_t len = strlen(b64);
	unsigned char *body;
	ssize_t n;

	file_name_clean(fname, strlen(fname), name, FILE_NAME_LEN + 1);
	if (b64_decoded_max(len) > rd.cf->max_file + 3)
		return E_TOO_LARGE;
	if ((body = malloc(b64_decoded_max(len) + 1)) == NULL)
		return E_INTERNAL;
	if ((n = b64_decode(b64, len, body)) == -1) {
		free(body);
		return E_BAD_FILE;
	}
	*size = (uint64_t)n;
	if (*size > rd.cf->max_file) {
		free(body);
		return E_TOO_LARGE;
	}
	if (spool_store(rd.st, body, *size, spool) == -1) {
		int saved = errno;
		log_err("realmd: spool: %m");
		free(body);
		return saved == EDQUOT ? E_QUOTA : E_INTERNAL;
	}
	free(body);
	return E_COUNT;
}

/* A message from the peer on its way into the state. */
struct incoming {
	struct msg_new	 m;
	char		*text;		/* sanitized, owned */
	char		 fname[FILE_NAME_LEN + 1];
	uint64_t	 spool;		/* its file, spooled; 0 if none */
	uint64_t	 size;
	struct delivery	 d;
	struct target	 t;
};

/* deliver_locked - store one message from the peer, inside a transaction */
static enum rc_code
deliver_locked(uint32_t realm, const cJSON *j, struct incoming *in)
{
	const char *to = link_str(j, "to");
	struct sender s = { rd.st, rd.cf, 0, cJSON_IsTrue(
	    cJSON_GetObjectItemCaseSensitive(j, "member")) };
	struct word w = { to, strlen(to) };
	struct target *t = &in->t;
	enum rc_code why = E_COUNT;
	uint32_t f;

	if (remote_user(rd.st, realm, link_str(j, "from"),
	    link_str(j, "from_name"), &s.user) == -1)
		return errno == ENOENT ? E_BAD_NAME : E_QUOTA;
	in->m.from = s.user;
	memset(t, 0, sizeof(*t));
	why = strcmp(link_str(j, "kind"), "private") == 0 ?
	    target_user_locked(&s, &w, t) : target_resolve_locked(&s, &w, t);
	if (why != E_COUNT)
		return why;
	if (in->m.kind == MSG_FILE) {
		if (file_create_room(rd.st, in->spool, in->size, in->fname,
		    t->group, rd.cf->spool_max, &f, &in->d.evicted) == -1)
			return E_QUOTA;
		in->m.file = f;
	}
	return target_deliver(&s, t, &in->m, &in->d);
}

/*
 * seq_answered - a message whose sequence number is not one of the next
 * ones: a resend (at or below the mark) gets its first answer again; one
 * outside the window is refused and changes nothing.  The window: a
 * sender has at most LINK_WINDOW messages unanswered, and it sends its
 * queue in order, so a new message is at most LINK_WINDOW above the mark
 * and a resend (its verdict was lost with the connection) less than
 * LINK_WINDOW below it.  true if it was answered here.
 */
static bool
seq_answered(struct peer *p, const struct link_frame *f)
{
	uint64_t hwm;
	int old;

	state_lock(rd.st);
	hwm = rd.st->realms[p->realm].recv_hwm;
	old = realm_rejected_locked(rd.st, p->realm, f->id);
	state_unlock(rd.st);
	if (hwm == 0)		/* nothing taken from this instance yet */
		return false;
	if (!seq_after(f->seq, hwm) &&
	    (uint32_t)(hwm - f->seq) < LINK_WINDOW) {
		/* a resend: same answer, nothing stored */
		send_verdict(p, f->id, old < 0 ? E_COUNT : (enum rc_code)old,
		    NULL, NULL);
		return true;
	}
	if (!seq_after(f->seq, hwm) ||
	    (uint32_t)(f->seq - hwm) > LINK_WINDOW) {
		log_limited(&seq_log, LOG_WARNING, "realm %s: message %llu "
		    "numbered %llu, beyond %llu + %d: refused",
		    rd.st->realms[p->realm].name, (unsigned long long)f->id,
		    (unsigned long long)f->seq, (unsigned long long)hwm,
		    LINK_WINDOW);
		send_verdict(p, f->id, E_BAD_ARGS, "message out of sequence",
		    NULL);
		return true;
	}
	return false;
}

/*
 * msg_refused - message f could not be stored (why): nothing of it
 * stays but the mark that it was answered so, and the peer is told
 */
static void
msg_refused(struct peer *p, const struct link_frame *f, struct incoming *in,
    enum rc_code why)
{
	txn_abort(rd.st);
	if (in->spool != 0)
		spool_unlink(rd.st, in->spool);
	txn_begin(rd.st);
	if (realm_received(rd.st, p->realm, f->seq, f->id, why) == -1)
		txn_abort(rd.st);
	else
		txn_commit(rd.st);
	cJSON_Delete(in->d.unknown);
	cJSON_Delete(in->d.full);
	free(in->text);
	send_verdict(p, f->id, why, why == E_QUOTA && in->d.delivered == 0 ?
	    "No recipient could take the message" : NULL, NULL);
}

/* msg_stored - message f is stored: tell the peer who got it */
static void
msg_stored(struct peer *p, const struct link_frame *f, struct incoming *in)
{
	cJSON *extra;

	free(in->text);
	spool_unlink(rd.st, in->d.gone);
	evicted_unlink(rd.st, &in->d.evicted);
	rd.st->realms[p->realm].received++;
	__atomic_fetch_add(&rd.me->stored, in->d.delivered, __ATOMIC_RELAXED);
	extra = cJSON_CreateObject();
	if (in->t.group != 0)
		cJSON_AddStringToObject(extra, "group", in->t.name);
	cJSON_AddNumberToObject(extra, "recipients", in->d.delivered);
	if (in->d.unknown != NULL)
		cJSON_AddItemToObject(extra, "unknown", in->d.unknown);
	if (in->d.full != NULL)
		cJSON_AddItemToObject(extra, "full", in->d.full);
	send_verdict(p, f->id, E_COUNT, NULL, extra);
}

/* msg_take - a message from the peer: store it once, answer every time */
void
msg_take(struct peer *p, const struct link_frame *f)
{
	const cJSON *file = cJSON_GetObjectItemCaseSensitive(f->json, "file");
	struct incoming in = { .m = { .kind = file ? MSG_FILE : MSG_TEXT,
	    .realm = p->realm } };
	enum rc_code why = E_COUNT;

	if (seq_answered(p, f))
		return;
	link_uint(f->json, "time", &in.m.time);
	if (file != NULL)
		why = incoming_file(file, &in.spool, &in.size, in.fname);
	else if ((why = incoming_text(link_str(f->json, "text"), &in.text,
	    &in.m.len)) == E_COUNT)
		in.m.text = in.text;
	txn_begin(rd.st);
	if (why == E_COUNT)
		why = deliver_locked(p->realm, f->json, &in);
	if (why == E_COUNT &&
	    realm_received(rd.st, p->realm, f->seq, f->id, -1) == -1)
		why = E_INTERNAL;
	if (why != E_COUNT) {
		msg_refused(p, f, &in, why);
		return;
	}
	txn_commit(rd.st);
	msg_stored(p, f, &in);
}

/* send_reply - answer the peer's request q (also join.c) */
void
send_reply(struct peer *p, uint64_t q, enum rc_code code, const char *msg,
    cJSON *o)
{
	if (o == NULL)
		o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "t", "reply");
	cJSON_AddNumberToObject(o, "q", (double)q);
	cJSON_AddBoolToObject(o, "ok", code == E_COUNT);
	if (code != E_COUNT) {
		cJSON_AddStringToObject(o, "code", code_name(code));
		cJSON_AddStringToObject(o, "message", msg ? msg : code_text(code));
	} else if (msg != NULL)
		cJSON_AddStringToObject(o, "message", msg);
	send_frame(p, o);
}

/* history_list_locked - group g's history as a reply */
static cJSON *
history_list_locked(struct state *st, uint32_t g)
{
	uint32_t cap = st->hdr->region[RG_MSGS].count, steps = 0;
	cJSON *o = cJSON_CreateObject(), *list;

	cJSON_AddStringToObject(o, "group", st->groups[g].name);
	list = cJSON_AddArrayToObject(o, "messages");
	for (uint32_t i = st->groups[g].hist_head; i != 0 && i < cap &&
	    steps++ < cap; i = st->msgs[i].next)
		cJSON_AddItemToArray(list, message_json(st, &st->msgs[i], false));
	return o;
}

/* history_serve - a remote member reads one of our groups */
void
history_serve(struct peer *p, const struct link_frame *f)
{
	struct state *st = rd.st;
	const char *gname = link_str(f->json, "group");
	const char *member = link_str(f->json, "member");
	bool vouched = member != NULL && strcmp(member, "yes") == 0;
	char name[REMOTE_NAME_LEN + 1];
	enum rc_code why = E_COUNT;
	cJSON *o = NULL;
	uint32_t g, u;

	snprintf(name, sizeof(name), "%s@%s", link_str(f->json, "from"),
	    st->realms[p->realm].name);
	state_lock(st);
	g = name_valid(gname, strlen(gname)) ?
	    group_find_locked(st, gname, strlen(gname)) : 0;
	u = user_find_locked(st, name, strlen(name));
	if (g == 0)
		why = E_NO_GROUP;
	else if (st->groups[g].pwhash[0] != '\0' && !vouched &&
	    (u == 0 || member_find_locked(st, g, u) == 0))
		why = E_NOT_MEMBER;	/* open groups and vouched members read */
	else
		o = history_list_locked(st, g);
	state_unlock(st);
	send_reply(p, f->q, why, NULL, o);
}

/* reply_take - the peer answered one of our round trips */
void
reply_take(struct peer *p, const struct link_frame *f)
{
	struct waiter *w;
	cJSON *o;

	if (f->q == 0 || (w = waiter_take(WAIT_REPLY, p->realm, f->q)) == NULL)
		return;			/* a keepalive, or too late */
	o = cJSON_CreateObject();
	answer_fields(o, f->json);
	cJSON_AddNumberToObject(o, "rtt_ms", (double)(now_msec() - w->started));
	realmd_result(w->chan, w->req, o);
	free(w);
}

/* peer_request - a worker's round trip: ping, join or history */
void
peer_request(struct chan *c, uint64_t req, uint32_t type, cJSON *j)
{
	static const char *const names[] = {
		[CHAN_PING] = "ping", [CHAN_JOIN] = "join", [CHAN_HISTORY] = "history",
	};
	static const char *const fields[] = { "from", "from_name", "group",
	    "password", "member" };
	uint64_t realm = 0;
	struct peer *p;
	cJSON *o;

	if (type != CHAN_PING && type != CHAN_JOIN && type != CHAN_HISTORY)
		return;
	if (!link_uint(j, "realm", &realm) || realm == 0 || realm > REALMS_MAX ||
	    realm_at(rd.st, (uint32_t)realm) == NULL) {
		realmd_error(c, req, E_NO_REALM, NULL);
		return;
	}
	p = rd.links[realm].conn;
	if (p == NULL || p->phase != PH_UP) {
		realmd_error(c, req, E_REALM_UNREACHABLE,
		    "Realm Unreachable: the link is down");
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "t", names[type]);
	cJSON_AddNumberToObject(o, "q", (double)++rd.next_q);
	for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
		const char *v = link_str(j, fields[i]);
		if (v != NULL)
			cJSON_AddStringToObject(o, fields[i], v);
	}
	waiter_add(WAIT_REPLY, c, req, (uint32_t)realm, rd.next_q);
	send_frame(p, o);
}
